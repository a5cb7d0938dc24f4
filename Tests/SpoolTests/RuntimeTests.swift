// Runtime.run's contract: returns with the main goroutine, rethrows, abandons the rest, can
// run again; counts and limits.

@testable import Spool
import Synchronization
import Testing

struct Boom: Error, Equatable {}

let spinnerShouldStop = Atomic<Bool>(false)
let spinnerStarted = Atomic<Bool>(false)

@Suite struct RuntimeTests {
    @Test func runReturnsTheBodysErrorAndCanRunAgain() throws {
        #expect(throws: Boom.self) {
            try runSerially(maxProcs: 1) { throw Boom() }
        }
        let ran = Box(false)
        let runningAfter = Box(true)
        try runSerially(maxProcs: 2, { ran.value = true }, after: { runningAfter.value = Runtime.isRunning })
        #expect(ran.value)
        #expect(!runningAfter.value)
    }

    @Test func mainGoroutineIsGoroutineOne() throws {
        let ids = Box<[Int?]>([])
        try runSerially(maxProcs: 1) {
            ids.value.append(Runtime.currentGoroutineID)
            let ch = Channel<Int?>()
            go { ch.send(Runtime.currentGoroutineID) }
            ids.value.append(ch.receive()!)
        }
        #expect(ids.value == [1, 2])
        #expect(Runtime.currentGoroutineID == nil)
    }

    @Test func maxProcsAndThreadCount() throws {
        let seen = Box<(procs: Int, threads: Int, ps: Set<Int>)>((0, 0, []))
        let threadsAfter = Box(-1)
        try runSerially(maxProcs: 3, {
            seen.value.procs = Runtime.maxProcs
            let ps = GoMutex()
            let wg = WaitGroup()
            wg.add(30)
            for _ in 0..<30 {
                go {
                    for _ in 0..<20 {
                        let p = Runtime.currentProcessorID!
                        ps.withLock { _ = seen.value.ps.insert(p) }
                        Runtime.yield()
                    }
                    wg.done()
                }
            }
            wg.wait()
            seen.value.threads = Runtime.threadCount
        }, after: { threadsAfter.value = Runtime.threadCount })
        #expect(seen.value.procs == 3)
        #expect(seen.value.threads >= 1)
        #expect(seen.value.ps.isSubset(of: [0, 1, 2]))
        #expect(threadsAfter.value == 0)
    }

    @Test func blockedGoroutinesAreAbandonedAndNeverRunAgain() throws {
        let ch = Box<Channel<Int>?>(nil)
        let resumed = Counters(1)
        try runSerially(maxProcs: 2) {
            let c = Channel<Int>()
            ch.value = c
            for _ in 0..<3 { go { _ = c.receive(); resumed.add(0) } }
            for _ in 0..<3 { go { Runtime.sleep(for: .seconds(3600)); resumed.add(0) } }
            Runtime.yield()
        }
        // A later run sends on the same channel: the abandoned receivers must not wake.
        let took = Box(true)
        try runSerially(maxProcs: 1) {
            select {
                $0.send(ch.value!, 1) { took.value = true }
                $0.default { took.value = false }
            }
        }
        #expect(!took.value)
        #expect(resumed[0] == 0)
    }

    @Test func aSpinningGoroutineDoesNotBlockReturn() throws {
        spinnerShouldStop.store(false, ordering: .relaxed)
        spinnerStarted.store(false, ordering: .relaxed)
        let runningAfter = Box(true)
        try runSerially(maxProcs: 2, {
            go {
                spinnerStarted.store(true, ordering: .releasing)
                while !spinnerShouldStop.load(ordering: .acquiring) {}
            }
            while !spinnerStarted.load(ordering: .acquiring) { Runtime.yield() }
        }, after: {
            // Returned although the spinner still runs on its thread; release it so it ends.
            runningAfter.value = Runtime.isRunning
            spinnerShouldStop.store(true, ordering: .releasing)
        })
        #expect(!runningAfter.value)
        // A new run works while the old spinner winds down.
        let ok = Box(false)
        try runSerially(maxProcs: 2) { ok.value = true }
        #expect(ok.value)
    }

    @Test func nestedRunFailsFast() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            try? Runtime.run(maxProcs: 1) { try? Runtime.run { } }
        }
        if let result {
            #expect(String(decoding: result.standardErrorContent, as: UTF8.self).contains("inside a goroutine"))
        }
    }

    @Test func errnoIsPerGoroutine() throws {
        let mismatches = Counters(1)
        try runSerially(maxProcs: 1) {
            let wg = WaitGroup()
            wg.add(2)
            for code in [Int32(11), Int32(22)] {
                go {
                    for _ in 0..<200 {
                        errno = code
                        Runtime.yield()
                        if errno != code { mismatches.add(0) }
                    }
                    wg.done()
                }
            }
            wg.wait()
        }
        #expect(mismatches[0] == 0)
    }
}

#if canImport(Glibc)
import Glibc
#endif

@Suite struct FairnessTests {
    /// Two goroutines ping-ponging through `runnext` on one P must not starve a third one
    /// (the chain is cut after a bounded number of inherited runs).
    @Test func runnextChainDoesNotStarveTheQueue() throws {
        let roundsBeforeObserver = Box(-1)
        try runSerially(maxProcs: 1) {
            let seen = Channel<Int>(capacity: 1)
            let ping = Channel<Int>(), pong = Channel<Int>()
            let wg = WaitGroup()
            wg.add(2)
            go { while let v = ping.receive() { pong.send(v) }; wg.done() }
            go {
                var rounds = 0
                while rounds < 1_000_000 {
                    ping.send(rounds)
                    // Spawned mid-chain: the ponger's wakeup in pong.receive() below kicks it
                    // out of runnext to the queue tail, behind the pair's runnext handoffs.
                    if rounds == 10 { go { seen.send(1) } }
                    _ = pong.receive()
                    rounds += 1
                    if seen.count > 0 { break }
                }
                roundsBeforeObserver.value = seen.count > 0 ? rounds : -1
                ping.close()
                wg.done()
            }
            wg.wait()
        }
        #expect(roundsBeforeObserver.value >= 0)
    }
}
