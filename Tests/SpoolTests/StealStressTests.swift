// Several Ms with a tiny run queue (capacity 4): overflow into the global queue and stealing
// happen constantly; every goroutine must still run exactly once.

@testable import Spool
import Testing

@Suite struct StealStressTests {
    @Test(arguments: [2, 4])
    func everyGoroutineRunsExactlyOnce(procs: Int) throws {
        let n = stress ? 200_000 : 5_000
        let ran = Counters(n)
        // A goroutine that yields holds its stack while queued; keep the number of those well
        // under the ~32k stacks vm.max_map_count allows (two mappings per stack).
        let yieldEvery = stress ? 97 : 7
        try runSerially(maxProcs: procs, runqCapacity: 4) {
            let wg = WaitGroup()
            wg.add(n)
            // Spawn from several goroutines at once, in bursts, so several Ps produce and steal.
            let spawners = 4
            for sp in 0..<spawners {
                go {
                    var i = sp
                    while i < n {
                        let idx = i
                        go {
                            ran.add(idx)
                            if idx % yieldEvery == 0 { Runtime.yield() }
                            wg.done()
                        }
                        if i % 64 == 0 { Runtime.yield() }
                        i += spawners
                    }
                }
            }
            wg.wait()
        }
        var wrong = 0
        for i in 0..<n where ran[i] != 1 { wrong += 1 }
        #expect(wrong == 0)
    }
}
