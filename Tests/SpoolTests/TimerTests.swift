// Runtime.sleep(for:): parks the goroutine, not the thread; timers fire in deadline order.

@testable import Spool
import Testing
#if canImport(Glibc)
import Glibc
#endif

func monotonicNs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

@Suite struct TimerTests {
    @Test func sleepersWakeInDeadlineOrder() throws {
        let order = Box<[Int]>([])
        try runSerially(maxProcs: 1) {
            let ch = Channel<Int>(capacity: 8)
            for ms in [30, 10, 20, 5] {
                go {
                    Runtime.sleep(for: .milliseconds(ms))
                    ch.send(ms)
                }
            }
            for _ in 0..<4 { order.value.append(ch.receive()!) }
        }
        #expect(order.value == [5, 10, 20, 30])
    }

    @Test func sleepLastsAtLeastItsDuration() throws {
        let elapsed = Box<Int64>(0)
        try runSerially(maxProcs: 2) {
            let t0 = monotonicNs()
            Runtime.sleep(for: .milliseconds(20))
            elapsed.value = monotonicNs() - t0
        }
        #expect(elapsed.value >= 20_000_000)
    }

    @Test func sleepingDoesNotBlockTheThread() throws {
        // One P: while the main goroutine sleeps, another goroutine runs many steps.
        let steps = Counters(1)
        let stepsDuringSleep = Box(0)
        try runSerially(maxProcs: 1) {
            let stop = Channel<Int>(capacity: 1)
            go {
                var running = true
                while running {
                    steps.add(0)
                    select {
                        $0.receive(stop) { _ in running = false }
                        $0.default { Runtime.yield() }
                    }
                }
            }
            let before = steps[0]
            Runtime.sleep(for: .milliseconds(10))
            stepsDuringSleep.value = steps[0] - before
            stop.send(0)
        }
        #expect(stepsDuringSleep.value > 0)
    }

    @Test func manyConcurrentSleepers() throws {
        let n = stress ? 10_000 : 500
        let woke = Counters(1)
        try runSerially(maxProcs: 2) {
            let wg = WaitGroup()
            wg.add(n)
            for i in 0..<n {
                go {
                    Runtime.sleep(for: .microseconds(100 * (i % 50)))
                    woke.add(0)
                    wg.done()
                }
            }
            wg.wait()
        }
        #expect(woke[0] == n)
    }
}
