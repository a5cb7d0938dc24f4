// Preemption: a goroutine that never yields is stopped (async, by signal) and every register,
// flag and vector register it had comes back intact, on the same or another thread; runtime
// calls stop it cooperatively when signals are off; no-preempt regions hold it off; a trace
// shows PreemptRequest → Preempted. Long variants behind SPOOL_STRESS=1.

@testable import Spool
import CSpool
import SpoolAnalysis
import SpoolTraceFormat
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` (which starts the runtime) with the quantum and async preemption overridden,
/// under the runtime test lock.
func withPreemptSettings<R>(quantumNs: Int64? = nil, async: Bool? = nil, _ body: () throws -> R) rethrows -> R {
    try runtimeTestLock.withLock { _ in
        testQuantumNs = quantumNs
        testAsyncPreempt = async
        defer { testQuantumNs = nil; testAsyncPreempt = nil }
        return try body()
    }
}

/// Preemptions that reached the scheduler so far (all runs of this process).
func preemptionsParked() -> UInt64 { PreemptStats.read().parked }

@Suite(.serialized) struct PreemptTests {
    /// The article's program: one P, a loop without calls, main sleeping. Main must wake.
    @Test func tightLoopIsPreemptedAtOneP() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
            alarm(30) // a hang is a failure, not a stuck test run
            try? Runtime.run(maxProcs: 1) {
                go {
                    var n: UInt64 = 0
                    while true { n &+= 1 }
                }
                Runtime.sleep(for: .milliseconds(200))
                print("main woke")
            }
            exit(0)
        }
        if let result {
            #expect(String(decoding: result.standardOutputContent, as: UTF8.self).contains("main woke"))
        }
    }

    /// With SPOOL_ASYNCPREEMPT=0 nothing can stop a loop that makes no runtime calls: main never
    /// wakes, and the watchdog alarm ends the process.
    @Test func tightLoopKeepsThePWithAsyncPreemptionOff() async {
        let result = await #expect(processExitsWith: .signal(SIGALRM), observing: [\.standardOutputContent]) {
            setenv("SPOOL_ASYNCPREEMPT", "0", 1)
            alarm(2)
            try? Runtime.run(maxProcs: 1) {
                go {
                    var n: UInt64 = 0
                    while true { n &+= 1 }
                }
                Runtime.sleep(for: .milliseconds(200))
                print("main woke")
            }
            exit(0)
        }
        if let result {
            #expect(!String(decoding: result.standardOutputContent, as: UTF8.self).contains("main woke"))
        }
    }

    /// Goroutines in the asm torture loop (14 general registers, xmm0-15 or ymm0-15, CF) are
    /// preempted over and over, on one P and on two (where they migrate between threads), and
    /// find every register as they left it.
    @Test(arguments: [1, 2]) func registersSurvivePreemption(procs: Int) throws {
        let target: UInt64 = stress ? 20_000 : 60
        let (errors, preempted) = try tortureRun(procs: procs, goroutines: procs + 1, target: target)
        #expect(errors == 0)
        #expect(preempted >= target)
    }

    /// Negative control: with the test hook flipping a saved register, the torture loop
    /// notices. Shows the torture test can fail.
    @Test func tortureDetectsACorruptedRegister() throws {
        spool_preempt_test_corrupt = 3
        defer { spool_preempt_test_corrupt = 0 }
        let (errors, _) = try tortureRun(procs: 1, goroutines: 2, target: 40)
        #expect(spool_preempt_test_corrupt == 0) // three preemptions landed in the spin loop
        #expect(errors >= 3)
    }

    /// Swift code keeping Double and SIMD values live across preemptions computes what it would
    /// without them.
    @Test func swiftFloatingPointSurvivesPreemption() throws {
        let bad = Counters(1)
        let n = stress ? 50_000_000 : 4_000_000
        try withPreemptSettings(quantumNs: 1_000_000) {
            try Runtime.run(maxProcs: 1) {
                let wg = WaitGroup()
                wg.add(2)
                for k in 0..<2 {
                    go {
                        var d = Double(k)
                        var v = SIMD4<Float>(1, 2, 3, 4) * Float(k + 1)
                        var w = SIMD2<Double>(0.5, 0.25)
                        for _ in 0..<n {
                            d += 1
                            v += SIMD4<Float>(repeating: 0.5)
                            w += SIMD2<Double>(1, 2)
                            if v.x > 4_000_000 { v = SIMD4<Float>(1, 2, 3, 4) * Float(k + 1) }
                        }
                        if d != Double(k + n) { bad.add(0) }
                        if w != SIMD2<Double>(0.5 + Double(n), 0.25 + 2 * Double(n)) { bad.add(0) }
                        wg.done()
                    }
                }
                wg.wait()
            }
        }
        #expect(bad[0] == 0)
    }

    /// errno set before a preemption is errno after it, although the other goroutine on the
    /// thread sets its own meanwhile.
    @Test func errnoSurvivesAsyncPreemption() throws {
        let mismatches = Counters(2)
        let before = preemptionsParked()
        try withPreemptSettings(quantumNs: 1_000_000) {
            try Runtime.run(maxProcs: 1) {
                let wg = WaitGroup()
                wg.add(2)
                for (i, code) in [Int32(11), Int32(22)].enumerated() {
                    go {
                        for _ in 0..<20 {
                            errno = code
                            spinNs(3_000_000)
                            if errno != code { mismatches.add(0) }
                        }
                        mismatches.add(1, i)
                        wg.done()
                    }
                }
                wg.wait()
            }
        }
        #expect(mismatches[0] == 0)
        #expect(preemptionsParked() > before)
    }

    /// Runtime-heavy Swift (arrays, strings: mostly inside libswiftCore and malloc, where the
    /// handler never stops a goroutine) is preempted through return-address hijacking, and
    /// computes correct results.
    @Test func libraryHeavyCodeIsPreemptedByHijacking() throws {
        let bad = Counters(1)
        let hijackedBefore = PreemptStats.read().hijacked
        let parkedBefore = preemptionsParked()
        let stop = Atomic<Bool>(false)
        try withPreemptSettings(quantumNs: 1_000_000) {
            try Runtime.run(maxProcs: 1) {
                let wg = WaitGroup()
                wg.add(2)
                for k in 0..<2 {
                    go {
                        var i = 0
                        while !stop.load(ordering: .relaxed) {
                            var arr: [Int] = []
                            for j in 0..<64 { arr.append(i &+ j &+ k) }
                            let s = String(arr.count) + "-" + String(i)
                            if arr.reduce(0, &+) != 64 &* (i &+ k) &+ 2016 { bad.add(0) }
                            if s != "64-\(i)" { bad.add(0) }
                            i += 1
                            if i % 256 == 0 && PreemptStats.read().hijacked - hijackedBefore >= 10 {
                                stop.store(true, ordering: .relaxed)
                            }
                        }
                        wg.done()
                    }
                }
                // Give up after 20 s of trying (the expectation below then fails).
                go {
                    spinSleep(20_000_000_000, until: stop)
                    stop.store(true, ordering: .relaxed)
                }
                wg.wait()
            }
        }
        #expect(bad[0] == 0)
        #expect(PreemptStats.read().hijacked - hijackedBefore >= 10)
        #expect(preemptionsParked() > parkedBefore)
    }

    /// A no-preempt region is not interrupted; the preemption requested meanwhile happens as it
    /// ends, before the goroutine's next statement.
    @Test func noPreemptRegionHoldsPreemptionOff() throws {
        // 0: the region's last statement, 1: the spinner's first statement after the region,
        // 2: the other goroutine's start.
        let times = Counters(3)
        try withPreemptSettings(quantumNs: 1_000_000) {
            try Runtime.run(maxProcs: 1) {
                let wg = WaitGroup()
                wg.add(2)
                go {
                    // Off the global queue, so that the P's schedtick is not 0 (at a multiple
                    // of 61 the scheduler takes the preempted spinner back from the global
                    // queue first, as Go's does).
                    Runtime.yield()
                    Runtime.withoutPreemption {
                        // Runnable from here on, on the only P: it can start only if the
                        // spinner is preempted.
                        go {
                            times.add(2, Int(spool_nanotime()))
                            wg.done()
                        }
                        spinNs(60_000_000)
                        times.add(0, Int(spool_nanotime()))
                    }
                    times.add(1, Int(spool_nanotime()))
                    wg.done()
                }
                wg.wait()
            }
        }
        // The other G ran only after the region, and before the spinner's next statement.
        #expect(times[2] > times[0])
        #expect(times[2] < times[1])
    }

    /// With signals off, a goroutine that keeps calling into the runtime is still stopped at
    /// those calls (cooperative preemption).
    @Test func runtimeCallsArePreemptionPoints() throws {
        let order = Counters(2) // 0: the other G ran while the looper was looping
        let ch = Channel<Int>(capacity: 1)
        try withPreemptSettings(quantumNs: 1_000_000, async: false) {
            try Runtime.run(maxProcs: 1) {
                let done = Atomic<Bool>(false)
                let wg = WaitGroup()
                wg.add(2)
                go {
                    let end = spool_nanotime() + 2_000_000_000
                    while !done.load(ordering: .relaxed) && spool_nanotime() < end { _ = ch.count }
                    order.add(1, done.load(ordering: .relaxed) ? 1 : 0)
                    wg.done()
                }
                go {
                    done.store(true, ordering: .relaxed)
                    wg.done()
                }
                wg.wait()
            }
        }
        #expect(order[1] == 1)
    }

    /// A goroutine woken by its timer beside a spinner on the only P runs as soon as the spinner
    /// is preempted, every time: the 61st-tick fairness pick of the global queue does not hand
    /// the P back to the spinner it just preempted (which made every ~30th sleep wait a second
    /// quantum). Checked on the event order of a trace, not on timings.
    @Test func wokenGoroutineRunsAtTheNextPreemption() throws {
        let sleeper = Atomic<Int>(0)
        let path = try runTraced(maxProcs: 1, quantumNs: 1_000_000) {
            sleeper.store(Runtime.currentGoroutineID!, ordering: .relaxed)
            let stop = Atomic<Bool>(false)
            go {
                var n: UInt64 = 0
                while !stop.load(ordering: .relaxed) { n &+= 1 }
            }
            for _ in 0..<150 { Runtime.sleep(for: .microseconds(200)) }
            stop.store(true, ordering: .relaxed)
        }
        defer { unlink(path) }
        let t = try readTrace(path)
        let g = UInt64(sleeper.load(ordering: .relaxed))
        var wakes = 0, late = 0
        var woken = false
        for e in t.events {
            if e.kind == .goWake && e.a0 == g { woken = true; wakes += 1 }
            if e.kind == .goStart && woken {
                if e.a0 != g { late += 1 }
                woken = false
            }
        }
        #expect(wakes >= 140)
        #expect(late == 0, "the spinner ran first after \(late) of \(wakes) wakeups")
    }

    /// With no idle P, a due timer gets the running goroutine preempted once it has run a tenth
    /// of the quantum, not at the quantum's end ("Overdue timers" in Sysmon.swift). With a
    /// 400 ms quantum, five 1 ms sleeps beside a spinner on the only P take about 5 × 40 ms;
    /// waiting for the quantum would take over 5 × 400 ms. The bound sits far from both.
    @Test func overdueTimerPreemptsBeforeTheQuantum() throws {
        let elapsed = Atomic<Int64>(0)
        try withPreemptSettings(quantumNs: 400_000_000) {
            try Runtime.run(maxProcs: 1) {
                let stop = Atomic<Bool>(false)
                go {
                    var n: UInt64 = 0
                    while !stop.load(ordering: .relaxed) { n &+= 1 }
                }
                Runtime.yield() // the spinner runs; main comes back at its first preemption
                let t0 = spool_nanotime()
                for _ in 0..<5 { Runtime.sleep(for: .milliseconds(1)) }
                elapsed.store(spool_nanotime() - t0, ordering: .relaxed)
                stop.store(true, ordering: .relaxed)
            }
        }
        let ms = elapsed.load(ordering: .relaxed) / 1_000_000
        #expect(ms >= 5)
        #expect(ms < 1_200, "five 1 ms sleeps beside a spinner took \(ms) ms")
    }

    /// A traced tight loop: sysmon's PreemptRequest and the loop's Preempted(async) reach the
    /// `preemptions` table with a delay.
    @Test func preemptionsAreTraced() throws {
        let path = "/tmp/spool-test-\(getpid())-preempt.trace"
        defer { unlink(path); unlink(path + ".db") }
        try withPreemptSettings(quantumNs: 2_000_000) {
            try Runtime.startTrace(path: path)
            defer { Runtime.stopTrace() }
            try Runtime.run(maxProcs: 1) {
                let stop = Atomic<Bool>(false)
                go {
                    var n: UInt64 = 0
                    while !stop.load(ordering: .relaxed) { n &+= 1 }
                }
                Runtime.sleep(for: .milliseconds(50))
                stop.store(true, ordering: .relaxed)
            }
        }
        let (db, anomalies) = try importTrace(path)
        let async = try db.scalarInt("SELECT count(*) FROM preemptions WHERE kind = 0") ?? 0
        let delayed = try db.scalarInt(
            "SELECT count(*) FROM preemptions WHERE requested_ns IS NOT NULL AND delivered_ns >= requested_ns") ?? 0
        #expect(anomalies == 0)
        #expect(async >= 1)
        #expect(delayed >= 1)
    }
}

/// Spins without runtime calls for `ns` (reads the vDSO clock).
@inline(never)
func spinNs(_ ns: Int64) {
    let end = spool_nanotime() + ns
    while spool_nanotime() < end {}
}

/// Spins for up to `ns` or until `flag` is set.
@inline(never)
func spinSleep(_ ns: Int64, until flag: borrowing Atomic<Bool>) {
    let end = spool_nanotime() + ns
    while spool_nanotime() < end && !flag.load(ordering: .relaxed) {
        Runtime.sleep(for: .milliseconds(5))
    }
}

/// Runs `goroutines` torture loops on `procs` Ps with a 1 ms quantum, in chunks, until the
/// handler has parked `target` preemptions since the start or 30 s passed. Returns the
/// registers found changed and the preemptions seen.
func tortureRun(procs: Int, goroutines: Int, target: UInt64) throws -> (UInt64, UInt64) {
    let errors = Atomic<UInt64>(0)
    let before = preemptionsParked()
    let avx: Int32 = spool_cpu_has_avx()
    try withPreemptSettings(quantumNs: 1_000_000) {
        try Runtime.run(maxProcs: procs) {
            let wg = WaitGroup()
            wg.add(goroutines)
            let deadline = spool_nanotime() + 30_000_000_000
            for k in 0..<goroutines {
                go {
                    var seed = UInt64(k + 1) &* 0x9E37_79B9_7F4A_7C15
                    while preemptionsParked() - before < target && spool_nanotime() < deadline {
                        errors.wrappingAdd(spool_torture(seed, 20, 100_000, avx), ordering: .relaxed)
                        seed &+= 1
                    }
                    wg.done()
                }
            }
            wg.wait()
        }
    }
    return (errors.load(ordering: .relaxed), preemptionsParked() - before)
}
