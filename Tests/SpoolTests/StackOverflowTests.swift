// A goroutine that overflows its stack is reported by name, not as a bare SIGSEGV.

@testable import Spool
import Testing

nonisolated(unsafe) var overflowDepthLimit = Int.max

@inline(never)
func overflowRecurse(_ n: Int) -> Int {
    var pad = (n, n, n, n, n, n, n, n, n, n, n, n, n, n, n, n)
    if n < overflowDepthLimit { pad.3 = overflowRecurse(n + 1) }
    return pad.3 &+ pad.15
}

@Suite struct StackOverflowTests {
    @Test func overflowPrintsTheGoroutineAndExits() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            try? Runtime.run(maxProcs: 1) {
                let done = Channel<Int>()
                go(stackSize: 64 << 10) { done.send(overflowRecurse(0)) }
                _ = done.receive()
            }
        }
        if let result {
            let err = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(err.contains("goroutine 2 overflowed its stack (64 KiB)"))
        }
    }

    @Test func otherFaultsAreNotReportedAsOverflow() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            try? Runtime.run(maxProcs: 1) {
                let p = UnsafeMutablePointer<Int>(bitPattern: 0x10)!
                p.pointee = 1
            }
        }
        if let result {
            let err = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(!err.contains("overflowed its stack"))
        }
    }
}
