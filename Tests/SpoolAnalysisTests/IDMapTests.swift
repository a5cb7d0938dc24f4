// The tracker's id map against Swift's Dictionary, under random inserts and removals.

import Testing
@testable import SpoolAnalysis

@Test(arguments: [1, 2, 3])
func idMapAgreesWithDictionary(seed: Int) {
    var state = UInt64(seed) &* 0x2545_F491_4F6C_DD1D
    func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
    var map = IDMap(capacity: 4)
    var reference: [UInt64: Int32] = [:]
    for step in 0..<20_000 {
        // Small key ranges force long probe runs, collisions and wrap-around.
        let key = next() % (step < 10_000 ? 64 : 5_000)  // 0 included: kept aside
        switch next() % 3 {
        case 0, 1:
            let v = Int32(truncatingIfNeeded: next())
            map.set(key, v)
            reference[key] = v
        default:
            map.remove(key)
            reference[key] = nil
        }
        if step % 97 == 0 {
            for k in 0...70 { #expect(map[UInt64(k)] == reference[UInt64(k)]) }
        }
    }
    #expect(map.count == reference.count)
    for (k, v) in reference { #expect(map[k] == v) }
}
