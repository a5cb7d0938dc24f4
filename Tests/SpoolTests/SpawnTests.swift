// Many goroutines: spawned, run and joined.

@testable import Spool
import Testing

@Suite struct SpawnTests {
    @Test func hundredThousandGoroutinesSpawnedAndJoined() throws {
        let n = stress ? 1_000_000 : 100_000
        let ran = Counters(1)
        let counts = Box<(during: Int, after: Int)>((0, 0))
        let countAfter = Box(-1)
        try runSerially(maxProcs: 2, {
            let wg = WaitGroup()
            wg.add(n)
            for _ in 0..<n {
                go {
                    ran.add(0)
                    wg.done()
                }
            }
            wg.wait()
            counts.value.during = Runtime.goroutineCount
            // done() runs before the body returns: wait until every G has really exited.
            while Runtime.goroutineCount > 1 { Runtime.yield() }
            counts.value.after = Runtime.goroutineCount
        }, after: { countAfter.value = Runtime.goroutineCount })
        #expect(ran[0] == n)
        #expect(counts.value.during >= 1)
        #expect(counts.value.after == 1)
        #expect(countAfter.value == 0)
    }

    @Test func nestedSpawnsTree() throws {
        // Each goroutine spawns two children until depth 12: 2^13 - 1 goroutines.
        let ran = Counters(1)
        try runSerially(maxProcs: 2) {
            let wg = WaitGroup()
            func spawn(_ depth: Int) {
                wg.add(1)
                go {
                    ran.add(0)
                    if depth < 12 { spawn(depth + 1); spawn(depth + 1) }
                    wg.done()
                }
            }
            spawn(0)
            wg.wait()
        }
        #expect(ran[0] == (1 << 13) - 1)
    }

    @Test func perSpawnStackSizeIsUsable() throws {
        let depth = Counters(1)
        try runSerially(maxProcs: 1) {
            let done = Channel<Int>()
            // 2 MiB stack: deep recursion that would overflow the 256 KiB default in debug.
            go(stackSize: 2 << 20) {
                func recurse(_ n: Int) -> Int {
                    var pad = (n, n, n, n, n, n, n, n)
                    pad.1 = n == 0 ? 0 : recurse(n - 1) + 1
                    return pad.1 + pad.0 - n
                }
                done.send(recurse(8000))
            }
            depth.add(0, done.receive()!)
        }
        #expect(depth[0] == 8000)
    }
}
