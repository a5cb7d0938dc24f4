// WaitGroup and GoMutex under contention on two or more Ps: nothing lost, no lost wakeup
// (a lost wakeup would hang the run, which the test runner reports as a timeout).

@testable import Spool
import Testing

@Suite struct SyncTests {
    @Test(arguments: [2, 4])
    func waitGroupRoundsNeverLoseAWakeup(procs: Int) throws {
        let rounds = stress ? 20_000 : 1_000
        let total = Counters(1)
        try runSerially(maxProcs: procs) {
            for _ in 0..<rounds {
                let wg = WaitGroup()
                let k = 4
                wg.add(k)
                for _ in 0..<k {
                    go { total.add(0); wg.done() }
                }
                // Several waiters on one WaitGroup.
                let waiters = WaitGroup()
                waiters.add(2)
                go { wg.wait(); waiters.done() }
                wg.wait()
                go { wg.wait(); waiters.done() }
                waiters.wait()
            }
        }
        #expect(total[0] == rounds * 4)
    }

    @Test(arguments: [2, 4])
    func goMutexProtectsAPlainCounter(procs: Int) throws {
        let workers = 8
        let perWorker = stress ? 100_000 : 5_000
        let counter = Box(0)
        try runSerially(maxProcs: procs) {
            let mu = GoMutex()
            let wg = WaitGroup()
            wg.add(workers)
            for w in 0..<workers {
                go {
                    for i in 0..<perWorker {
                        mu.lock()
                        let v = counter.value
                        if (i + w) % 50 == 0 { Runtime.yield() } // switch while holding it
                        counter.value = v + 1
                        mu.unlock()
                    }
                    wg.done()
                }
            }
            wg.wait()
        }
        #expect(counter.value == workers * perWorker)
    }

    @Test func goMutexTryLockAndWithLock() throws {
        let results = Box<[Bool]>([])
        try runSerially(maxProcs: 1) {
            let mu = GoMutex()
            results.value.append(mu.tryLock())
            results.value.append(mu.tryLock())
            mu.unlock()
            let v = mu.withLock { 42 }
            results.value.append(v == 42)
            results.value.append(mu.tryLock())
            mu.unlock()
        }
        #expect(results.value == [true, false, true, true])
    }

    @Test func unlockingAnUnlockedGoMutexTraps() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            try? Runtime.run(maxProcs: 1) {
                let mu = GoMutex()
                mu.lock()
                mu.unlock()
                mu.unlock()
            }
        }
        if let result {
            #expect(String(decoding: result.standardErrorContent, as: UTF8.self).contains("unlock of unlocked GoMutex"))
        }
    }

    @Test func negativeWaitGroupTraps() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            try? Runtime.run(maxProcs: 1) { WaitGroup().done() }
        }
        if let result {
            #expect(String(decoding: result.standardErrorContent, as: UTF8.self).contains("WaitGroup counter went negative"))
        }
    }
}
