// sysmon and the thread budget: a burst of blocking calls creates threads (cause handoff) and
// they exit after the idle time, down to maxProcs + 4; a storm of blocking calls loses no
// goroutine and no wakeup.

@testable import Spool
import CSpool
import Foundation
import SpoolAnalysis
import Synchronization
import SpoolTraceFormat
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` with the idle-thread time set to `ms` (test hook, under the runtime test lock).
func withThreadIdle<R>(ms: Int, _ body: () throws -> R) rethrows -> R {
    try runtimeTestLock.withLock { _ in
        testThreadIdleMs = ms
        defer { testThreadIdleMs = nil }
        return try body()
    }
}

/// Starts `n` goroutines that each make one blocking sleep of `d`; the group is done when all
/// have returned. Context: a goroutine.
func goBlockingSleepers(_ n: Int, _ d: Duration) -> WaitGroup {
    let wg = WaitGroup()
    wg.add(n)
    for _ in 0..<n {
        go {
            Runtime.blockingSleep(for: d)
            wg.done()
        }
    }
    return wg
}

@Suite struct SysmonTests {
    @Test func burstRaisesThreadsAndIdleOnesExit() throws {
        let procs = 2
        let floor = procs + 4
        let n = 40
        let path = "/tmp/spool-test-\(getpid())-burst.trace"
        defer { unlink(path); unlink(path + ".db") }
        // 0: peak threads seen, 1: threads after the wait, 2: threads before the burst.
        let seen = Counters(3)
        try withThreadIdle(ms: 100) {
            try Runtime.startTrace(path: path)
            defer { Runtime.stopTrace() }
            try Runtime.run(maxProcs: procs, runqCapacity: nil) {
                seen.add(2, Runtime.threadCount)
                let wg = goBlockingSleepers(n, .milliseconds(100))
                let done = Counters(1)
                go {
                    wg.wait()
                    done.add(0)
                }
                while done[0] == 0 {
                    let t = Runtime.threadCount
                    if t > seen[0] { seen.add(0, t - seen[0]) }
                    Runtime.sleep(for: .milliseconds(5))
                }
                // Idle threads exit after 100 ms (sysmon looks every 10 ms); wait up to 5 s.
                var waited = 0
                while Runtime.threadCount > floor && waited < 5000 {
                    Runtime.sleep(for: .milliseconds(10))
                    waited += 10
                }
                seen.add(1, Runtime.threadCount)
            }
        }
        // sysmon + the startup M, and not more than one M per P before the burst.
        #expect(seen[2] >= 2 && seen[2] <= procs + 2)
        // Each blocked goroutine held a thread: far more than the floor.
        #expect(seen[0] > floor)
        #expect(seen[1] <= floor)
        #expect(seen[1] >= 2)

        let (db, anomalies) = try importTrace(path)
        #expect(anomalies == 0)
        #expect(try db.scalarInt("SELECT count(*) FROM syscalls") == Int64(n))
        #expect(try db.scalarInt("SELECT count(*) FROM threads WHERE cause = 2") ?? 0 > 0) // handoff
        // The thread count in the trace rose above the floor and came back to it before the end.
        let peak = try db.scalarInt("SELECT max(threads) FROM thread_count") ?? 0
        #expect(peak > Int64(floor))
        let peakAt = try db.scalarInt(
            "SELECT min(ts_ns) FROM thread_count WHERE threads = (SELECT max(threads) FROM thread_count)") ?? 0
        #expect(try db.scalarInt(
            "SELECT count(*) FROM thread_count WHERE ts_ns > \(peakAt) AND threads <= \(floor)") ?? 0 > 0)
    }

    @Test(arguments: [false, true])
    func stormOfBlockingCallsRunsEveryGoroutineOnce(traced: Bool) throws {
        let n = stress ? 20_000 : 2_000
        let runs = Counters(n)
        let received = Counters(1)
        let body = {
            let wg = WaitGroup()
            let results = Channel<Int>(capacity: 64)
            wg.add(n)
            for i in 0..<n {
                go {
                    runs.add(i)
                    // A mix: empty calls, short and longer blocking sleeps, channel traffic.
                    switch i % 4 {
                    case 0: Runtime.blocking { }
                    case 1: Runtime.blockingSleep(for: .microseconds(50))
                    case 2: Runtime.blockingSleep(for: .microseconds(Int64(i % 7) * 100))
                    default: Runtime.yield()
                    }
                    results.send(i)
                    wg.done()
                }
            }
            for _ in 0..<n {
                _ = results.receive()
                received.add(0)
            }
            wg.wait()
        }
        if traced {
            let path = try runTraced(maxProcs: 2, body)
            defer { unlink(path); unlink(path + ".db") }
            let t = try readTrace(path)
            #expect(t.count(.traceLost) == 0)
            #expect(t.count(.goSyscallBegin) == t.count(.goSyscallEnd) + t.count(.goSyscallEndBlocked))
            let (_, anomalies) = try importTrace(path)
            #expect(anomalies == 0)
        } else {
            try withThreadIdle(ms: 20) {
                try Runtime.run(maxProcs: 2, runqCapacity: nil, body)
            }
        }
        #expect(received[0] == n)
        #expect((0..<n).allSatisfy { runs[$0] == 1 })
    }

    /// "Paced thread growth": one tick up to 16 blocked Ms per P, one more for every further 16.
    @Test func pacedHandoffAgeGrowsWithBlockedThreads() {
        let tick: Int64 = 20_000
        #expect(pacedHandoffAge(blocked: -3, procs: 2, perP: 16, tickNs: tick) == tick)
        #expect(pacedHandoffAge(blocked: 0, procs: 2, perP: 16, tickNs: tick) == tick)
        #expect(pacedHandoffAge(blocked: 63, procs: 2, perP: 16, tickNs: tick) == tick)
        #expect(pacedHandoffAge(blocked: 64, procs: 2, perP: 16, tickNs: tick) == 2 * tick)
        #expect(pacedHandoffAge(blocked: 640, procs: 2, perP: 16, tickNs: tick) == 20 * tick)
        #expect(pacedHandoffAge(blocked: 640, procs: 8, perP: 16, tickNs: tick) == 5 * tick)
        #expect(pacedHandoffAge(blocked: 10, procs: 2, perP: 1, tickNs: tick) == 5 * tick)
    }

    /// "Paced thread growth", with pacing after one blocked M per P (test hook): b blocked Ms
    /// take each P's handoffs about b/2 ticks of 20 µs apart, so reaching b takes at least
    /// 2.5 µs × b² with 2 Ps, and t µs into a storm at most about sqrt(t / 2.5) Ms are blocked.
    /// A sampler thread outside the runtime checks the count against that bound during the
    /// first 150 ms (a slow machine only lowers the count). Unpaced, the same storm gives every
    /// goroutine its thread before the first call returns, far above the bound.
    @Test(arguments: [true, false])
    func stormThreadGrowthIsPaced(paced: Bool) throws {
        let procs = 2
        let n = 400
        // 0: samples, 1: samples above the bound, 2: peak, 3: sampler finished.
        let seen = Counters(4)
        try runtimeTestLock.withLock { _ in
            testPacedThreads = paced
            testBlockedPerPBeforePacing = 1
            defer { testPacedThreads = nil; testBlockedPerPBeforePacing = nil }
            try Runtime.run(maxProcs: procs, runqCapacity: nil) {
                let t0 = spool_nanotime()
                let sampler = Thread {
                    while true {
                        let us = Double(spool_nanotime() - t0) / 1000
                        if us > 150_000 { break }
                        let threads = Runtime.threadCount
                        // Blocked Ms plus those holding a P, sysmon, and slack for the estimate.
                        let bound = Int((us / 2.5).squareRoot() * 1.1) + 2 * procs + 8
                        seen.add(0)
                        if threads > bound { seen.add(1) }
                        if threads > seen[2] { seen.add(2, threads - seen[2]) }
                        usleep(1000)
                    }
                    seen.add(3)
                }
                sampler.start()
                let wg = goBlockingSleepers(n, .milliseconds(500))
                wg.wait()
                while seen[3] == 0 { Runtime.sleep(for: .milliseconds(1)) }
            }
        }
        #expect(seen[0] > 10)
        if paced {
            #expect(seen[1] == 0, "\(seen[1]) of \(seen[0]) samples above the bound, peak \(seen[2])")
        } else {
            #expect(seen[2] > n / 2, "peak \(seen[2]) in the first 150 ms")
        }
    }

    /// While every P is idle, sysmon sleeps until a P is taken (at most 10 ms at a time), and
    /// a P taken later wakes it: a spinner started after 300 idle ms is still preempted, and
    /// the idle stretch costs sysmon a few dozen passes, not a busy loop (a wakeup left set
    /// on its note would make every later sleep return at once).
    @Test func sysmonSleepsWhileEveryPIsIdleAndWakesForWork() throws {
        // 0: sysmon passes over 300 idle ms, 1: the spinner's P was taken back (1 = yes).
        let seen = Counters(2)
        try runSerially(maxProcs: 1) {
            let s = activeSched!
            Runtime.sleep(for: .milliseconds(20))
            let c0 = s.pointee.sysmonCycles.load(ordering: .relaxed)
            Runtime.sleep(for: .milliseconds(300))
            let c1 = s.pointee.sysmonCycles.load(ordering: .relaxed)
            seen.add(0, c1 - c0)
            // One P: the sleeper's wakeup needs the spinner preempted.
            let stop = Counters(1)
            go { while stop[0] == 0 {} }
            Runtime.sleep(for: .milliseconds(50))
            seen.add(1)
            stop.add(0)
        }
        #expect(seen[0] > 0 && seen[0] < 200, "sysmon passes in 300 idle ms: \(seen[0])")
        #expect(seen[1] == 1)
    }

    /// "Relaxed ticks": Ps all running goroutines that make no syscall need sysmon only for
    /// the quantum, so it ticks about once a millisecond (at 20 µs it would pass 50 times
    /// after every preemption).
    @Test func sysmonRelaxesWithoutSyscalls() throws {
        let passes = Counters(1) // sysmon passes over 200 ms beside two spinners
        try runSerially(maxProcs: 2) {
            let s = activeSched!
            let stop = Counters(1)
            // Preempted every quantum, never in a syscall; main's timers fire by preemption.
            go { while stop[0] == 0 {} }
            go { while stop[0] == 0 {} }
            Runtime.sleep(for: .milliseconds(30))
            let c0 = s.pointee.sysmonCycles.load(ordering: .relaxed)
            Runtime.sleep(for: .milliseconds(200))
            passes.add(0, s.pointee.sysmonCycles.load(ordering: .relaxed) - c0)
            stop.add(0)
        }
        // Relaxed: about 200 (1 ms each); with the 20 µs tick after each preemption, ~1200.
        #expect(passes[0] > 0 && passes[0] < 600, "sysmon passes in 200 ms beside two spinners: \(passes[0])")
    }

    /// A relaxed sysmon is woken by `entersyscall`: with a 400 ms quantum it sleeps 10 ms at a
    /// time, yet a syscall whose P has a goroutine queued (the other P runs a spinner) loses
    /// that P to another M, which runs the goroutine, well within that. Median of 5 calls:
    /// about 0.1-0.5 ms with the wakeup, about 5 ms without.
    @Test func syscallWakesARelaxedSysmon() throws {
        let took = Mutex<[Int64]>([])
        try withPreemptSettings(quantumNs: 400_000_000) {
            try Runtime.run(maxProcs: 2) {
                let stop = Atomic<Bool>(false)
                go { while !stop.load(ordering: .relaxed) {} }
                for _ in 0..<5 {
                    Runtime.sleep(for: .milliseconds(15)) // sysmon relaxes again
                    let ran = Atomic<Bool>(false)
                    go { ran.store(true, ordering: .relaxed) } // queued behind this goroutine
                    Runtime.blocking {
                        let t0 = spool_nanotime()
                        while !ran.load(ordering: .relaxed) && spool_nanotime() - t0 < 100_000_000 {
                            usleep(100)
                        }
                        let t = spool_nanotime() - t0
                        took.withLock { $0.append(t) }
                    }
                }
                stop.store(true, ordering: .relaxed)
            }
        }
        let sorted = took.withLock { $0.sorted() }
        #expect(sorted.count == 5)
        #expect(sorted[2] < 3_000_000, "ns until the queued goroutine ran: \(sorted)")
    }

    /// "One CPU": with a single CPU to run on, `pidleget` wakes a deep-sleeping sysmon only
    /// once it has slept a millisecond (with two CPUs, at every take). A goroutine that sleeps
    /// 100 µs 300 times makes the one P idle and taken again each time: about 400 sysmon passes
    /// when every take wakes it, about 70 in the ~40 ms the loop takes when only one take a
    /// millisecond may. The bound follows the loop's time (a loaded machine stretches the
    /// sleeps past a millisecond, and then every take may wake sysmon).
    @Test func oneCPUSysmonIsNotWokenAtEveryTake() throws {
        let seen = Counters(2) // 0: sysmon passes over the loop, 1: the loop's ms
        try runtimeTestLock.withLock { _ in
            testSysmonKeepWarm = false
            defer { testSysmonKeepWarm = nil }
            try Runtime.run(maxProcs: 1) {
                let s = activeSched!
                Runtime.sleep(for: .milliseconds(5))
                let c0 = s.pointee.sysmonCycles.load(ordering: .relaxed)
                let t0 = spool_nanotime()
                for _ in 0..<300 { Runtime.sleep(for: .microseconds(100)) }
                seen.add(1, Int((spool_nanotime() - t0) / 1_000_000))
                seen.add(0, s.pointee.sysmonCycles.load(ordering: .relaxed) - c0)
            }
        }
        #expect(seen[0] <= 4 * seen[1] + 20, "sysmon passes over 300 short sleeps in \(seen[1]) ms: \(seen[0])")
    }

    /// "Batch while watching short work": with more goroutines waiting on the network than Ps
    /// and nothing running long, sysmon's thread becomes SCHED_BATCH; a goroutine computing
    /// without runtime calls puts it back to SCHED_OTHER well before the quantum ends; with
    /// `SPOOL_SYSMONBATCH=0` it never is. Read from /proc for this run's sysmon (a sysmon of an
    /// earlier run may still be on its way out).
    @Test(arguments: [true, false])
    func sysmonIsABatchThreadWhileWatchingShortWork(on: Bool) throws {
        // [0]: polls that saw sysmon SCHED_BATCH while the network waited; [1]: polls during
        // the computation that saw it SCHED_OTHER; [2]: polls that saw it SCHED_BATCH at all.
        let seen = Counters(3)
        try runtimeTestLock.withLock { _ in
            testSysmonBatch = on
            defer { testSysmonBatch = nil }
            try Runtime.run(maxProcs: 2, runqCapacity: nil) {
                let s = currentSched!
                while s.pointee.sysmonTid.load(ordering: .relaxed) == 0 { Runtime.sleep(for: .milliseconds(1)) }
                let tid = s.pointee.sysmonTid.load(ordering: .relaxed)
                let ln = try TCPListener(port: 0)
                serveEcho(ln)
                // Four echo goroutines and the acceptor wait on the network: 5 > 2 Ps.
                let conns = try (0..<4).map { _ in try TCPConnection.connect(host: "127.0.0.1", port: ln.port) }
                // sysmon decides once per tick (every 10 ms at most while all is idle).
                for _ in 0..<100 {
                    let batch = threadPolicy(tid) == 3
                    if batch { seen.add(0); seen.add(2); break }
                    Runtime.sleep(for: .milliseconds(5))
                }
                // A 60 ms computation with no runtime calls on the other P (async preemption
                // may move it; it keeps computing): after a tenth of the quantum (1 ms)
                // sysmon must be an ordinary thread again.
                let done = Channel<Int>(capacity: 1)
                go {
                    let end = spool_nanotime() + 60_000_000
                    var x: UInt64 = 1
                    while spool_nanotime() < end { x = x &* 6364136223846793005 &+ 1 }
                    done.send(Int(truncatingIfNeeded: x & 1))
                }
                Runtime.sleep(for: .milliseconds(5))
                for _ in 0..<30 {
                    let policy = threadPolicy(tid)
                    if policy == 3 { seen.add(2) }
                    if policy == 0 { seen.add(1) }
                    Runtime.sleep(for: .milliseconds(1))
                }
                _ = done.receive()
                for c in conns { c.close() }
                ln.close()
            }
        }
        if on {
            #expect(seen[0] == 1, "sysmon should be SCHED_BATCH while the network waits")
            #expect(seen[1] > 0, "sysmon stayed SCHED_BATCH while a goroutine computed")
        } else {
            #expect(seen[2] == 0, "sysmon may not be SCHED_BATCH with SPOOL_SYSMONBATCH=0")
        }
    }

    /// "Exact ticks": sysmon's thread, and only it, runs with a 1 ns timer slack (the
    /// kernel's default, 50 µs, would stretch each 20 µs tick to about 70 µs). Read from
    /// /proc while a run is active.
    @Test func sysmonTicksWithoutTimerSlack() throws {
        let slacks = Mutex<[Int]>([])
        let own = Counters(1)
        try runSerially(maxProcs: 1) {
            own.add(0, procTimerSlack("/proc/\(spool_gettid())/timerslack_ns").map(Int.init) ?? -1)
            // sysmon sets its slack once its thread starts: give it up to a second.
            for _ in 0..<1000 {
                let values = threadTimerSlacks()
                slacks.withLock { $0 = values }
                if values.contains(1) { break }
                Runtime.sleep(for: .milliseconds(1))
            }
        }
        let values = slacks.withLock { $0 }
        #expect(values.contains(1), "thread timer slacks during a run: \(values)")
        #expect(own[0] > 1, "a goroutine's M has the default slack: \(own[0])")
    }
}

/// The scheduling policy of thread `tid` of this process (/proc/self/task/TID/stat, field 41:
/// 0 SCHED_OTHER, 3 SCHED_BATCH), or nil if it cannot be read.
private func threadPolicy(_ tid: Int32) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return nil }
    // Fields after the parenthesized command name start at field 3.
    let fields = text[text.index(after: close)...].split(separator: " ")
    return fields.count > 38 ? Int(fields[38]) : nil
}

/// The timer slack of each thread of this process, in ns.
private func threadTimerSlacks() -> [Int] {
    var slacks: [Int] = []
    guard let dir = opendir("/proc/self/task") else { return [] }
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name.first?.isNumber == true, let slack = procTimerSlack("/proc/\(name)/timerslack_ns") {
            slacks.append(Int(slack))
        }
    }
    closedir(dir)
    return slacks
}

/// A thread's timer slack in ns, read from /proc (nil if the file cannot be read).
private func procTimerSlack(_ path: String) -> UInt64? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
    return UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines))
}
