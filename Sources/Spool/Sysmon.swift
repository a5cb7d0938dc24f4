// sysmon: the runtime's watchdog thread, and the thread budget it enforces (Go's `sysmon`,
// `retake`, `checkmcount`; the reclamation of idle threads is Spool's own).
//
// sysmon is an M with no P, started by `Runtime.run` before the first M (so it is M 1; its
// ThreadCreate, cause `sysmon`, goes into P 0's batch like the startup M's) and stopped when
// the run ends (woken through `sched.sysmonNote`, it writes its ThreadExit into its own M
// batch). It never runs goroutines and holds no P except while handing one off. Each tick:
//
//   * `retake`: a P that has been in the same syscall for at least one tick (its `syscalltick`
//     unchanged since the previous tick, so ≥ 20 µs) is taken with one CAS and handed off
//     (`handoffp`, Syscall.swift) — unless, as in Go, its run queue is empty, some M is
//     spinning or some P is idle (someone else will pick up new work), and the syscall is
//     younger than 10 ms;
//   * `reclaimIdleMs`: Ms parked idle longer than `sched.threadIdleNs` are told to exit (see
//     "Idle threads exit"), at most every 10 ms;
//   * `sysmonPollNetwork`: when no M is blocked in epoll and the last blocking poll is over
//     10 ms old, a non-blocking poll whose goroutines go on the global queue (`netpollSysmon`,
//     Netpoll.swift; Go's sysmon does the same).
//
// Backoff (Go's): sleep 20 µs between ticks while there is work; after 50 consecutive idle
// ticks (about 1 ms with nothing retaken), double the sleep each tick up to 10 ms.
//
// "Deep sleep" (Go's `sysmonwait`): while every P is idle there is nothing to retake or
// preempt, so sysmon sets `sched.sysmonWait`, looks at `npidle` once more, and sleeps on its
// note until `pidleget` takes a P (it clears the flag and wakes sysmon) — at most 10 ms, since
// idle threads still need reclaiming and the network its 10 ms poll (Go sleeps up to 60 s
// here). Woken, the backoff restarts at 20 µs. The store-then-load on each side (flag then
// `npidle` for sysmon, `npidle` then flag for `pidleget`, all sequentially consistent) means
// either sysmon sees the P taken or the taker sees sysmon waiting. A wakeup that arrives after
// sysmon stopped waiting is consumed at the top of the next tick, so the note never stays set.
// Measured effect (BENCHMARKS.md, echo at 1 connection on this KVM machine): a request that
// finds every P idle now also wakes sysmon on the other vCPU, as in Go; without it, Spool's
// single busy thread went to sleep between requests and every cross-vCPU wakeup paid the
// hypervisor's halt exit (2.5-6.7k req/s against Go's 29-31k; with it 30-37k). Measured
// later (BENCHMARKS.md, "where the two modes come from"): on a loopback echo the gain comes
// mostly through the kernel's placement. sysmon's CPU time keeps the machine busy enough that
// the kernel runs the M and the load generator on one vCPU. In rounds where it does not,
// the wakeup costs about 15 µs of CPU a request, and Spool is about 0.9-1.0 of Go (1.05-1.08
// without the wakeup, but then never in the fast placement).
//
// "One CPU" (Spool's own): the wakeup above pays off only through the other vCPU. When the
// process may run on a single CPU (its affinity mask, `spool_ncpu`), sysmon's wakeup lands on
// the CPU the request is running on and only adds two context switches to every request, so
// `pidleget` wakes it only once it has slept a millisecond (`sched.sysmonSleptAt`): at most a
// thousand wakeups a second, and a goroutine that starts running meanwhile is still watched
// from sysmon's next tick (≤ 10 ms). Measured with echo at 1 connection (BENCHMARKS.md):
// server on CPU 0 and load generator on CPU 1, 13.0-13.4k req/s against 8.5-10.5k before
// (Go 10.8-12.2k); both on CPU 0, 45-47k against 37-38k (Go 33-37k). During a deep sleep
// `sched.sysmonRelaxed` is set too, so a syscall still wakes it (next paragraph).
//
// "Relaxed ticks" (Spool's own): the 20 µs tick exists for syscalls, which must lose their P
// after one tick. After `relaxAfterTicks` ticks in a row that saw every P busy, none in a
// syscall and no syscall count move, sysmon sleeps what preemption needs instead: up to a
// tenth of the quantum, never past a running G's quantum or a due timer (`capNs`). For any
// sleep longer than the 20 µs tick (relaxed, or Go's backoff) it sets `sched.sysmonRelaxed`;
// `entersyscall` takes the flag and wakes it, so a syscall is retaken after one short tick
// (Go's may wait out a backed-off sleep of up to 10 ms), and so does a new earliest timer
// while no P is idle (`wakeTimerWaiter`: the timer then needs sysmon's preemption, "Overdue
// timers", and the sleep was planned without it). A wakeup missed in the race (relaxed flag)
// costs at most that one sleep. A deep-sleep wakeup restarts the count, so a request that
// finds every P idle still gets the 20 µs ticks described above. Only with every P busy: then
// the CPU is what limits the goroutines, and sysmon's ticks take from them (on echo at 16 and
// 64 connections sysmon was 6% of the server's CPU, about 5,700 futex sleeps a second, as
// Go's sysmon ticks at 20 µs under any load that goes idle now and then; relaxed, about half
// of that). With a P idle there is CPU to spare, and on this VM the short ticks are what keep
// a one-connection echo in its fast mode: relaxing there too took echo at 1 connection from a
// median of 16-21k to 12-14k req/s in alternating runs (BENCHMARKS.md).
//
// "Exact ticks" (Spool's own): sysmon sets its thread's timer slack to 1 ns. Linux lets a
// timed sleep of a normal thread overrun by up to 50 µs (the default slack) so that wakeups can
// be batched, which made the 20 µs tick about 70 µs. On this VM a tick is also what keeps
// sysmon's vCPU out of its halted state while a P runs, and a wakeup that lands on a halted
// vCPU pays the hypervisor's exit, so the tick's length decides the one-connection echo's
// mode. Measured (BENCHMARKS.md, fresh server per run, unpinned, 15 rounds): 36.0k req/s and
// p99 77 µs, every run in the fast mode, against 26.1k and 165 µs (10 of 15 fast) with the
// default slack; Go 22.3k and 177 µs. CPU per request unchanged (20.0 against 20.3 µs). Only
// sysmon's sleeps are affected (its relaxed, backed-off and deep sleeps are long anyway). Ms
// keep the default: their one short timed sleep, the 3 µs before stealing a running P's
// `runnext` (RunQueue.swift), measured no different with a 1 ns slack on every M (echo at 16
// connections, 12 rounds: 1.00).
//
// "Batch while watching short work" (Spool's own): while more goroutines wait on the network
// than there are Ps, no P is in a syscall, and no goroutine now running has run for a tenth of
// the quantum, sysmon's thread is SCHED_BATCH (decided after each tick's `retake`; one
// `sched_setscheduler` per change). The kernel then lets its wakeups preempt nobody: a tick
// runs when its CPU next switches, which under network load is microseconds away, instead
// of interrupting the M or the peer that holds the CPU. As soon as a stint passes a tenth of
// the quantum, a syscall appears or the waiters drop, it is an ordinary thread again, so
// preemption, syscall handoff and a one-connection server's "Exact ticks" keep their timing
// (a batch thread waits for the kernel's tick, 4 ms here, whenever the CPUs stay busy).
// Measured (BENCHMARKS.md, echo, fresh server per run, against the same binary with it off):
// 16 connections +5.3% (won all 16 rounds; p99 0.56 against 0.76 ms), 64 +2.0%, one
// connection and `MixedLoad` unchanged. Always SCHED_BATCH measured +3-7% at 16 connections
// but took a one-connection echo from 44k to 16k req/s and `MixedLoad`'s shared-mode echo p99
// from 54 to 80-88 ms. `SPOOL_SYSMONBATCH=0` turns it off.
//
// "Paced thread growth" (Spool's own): a P taken from a syscall goes to an idle M if there is
// one; otherwise a thread is created for it (`newm`, on sysmon's thread). Once more than
// `blockedPerPBeforePacing` (16) Ms per P are blocked in calls, such a handoff waits one more
// tick for every further 16 per P (`pacedHandoffAge`, counted from when sysmon first saw the
// syscall; handoffs to idle Ms never wait). Below that, nothing changes: a syscall loses its P
// after one tick, as in Go. In a storm (more goroutines entering blocking calls than threads
// can usefully serve) the thread count then grows like the square root of time rather than
// linearly, and once the first calls return their threads take the next goroutines: the storm
// trades some completion time for threads. Go's sysmon has no such rule; its pace comes from
// its 20 µs sleep stretched to about 70 µs by the timer slack, which "Exact ticks" removed
// from Spool's. Measured (BENCHMARKS.md, `examples/BlockingStorm`: 1000 goroutines each in a
// 100 ms blocking sleep, maxProcs 2): peak 671-704 threads, the last call returning at
// 227-237 ms, against Go's 893-922 and 210-214 ms; without the rule (`SPOOL_PACEDTHREADS=0`)
// every goroutine gets a thread (peak 1002) and the last call returns at 170 ms. With 1 or 4
// blocked Ms per P the peaks were 266 and 433, at 510 and 331 ms.
//
// Invariant "Idle threads exit": an M parked in `sched.midle` for longer than the idle time,
// and not the timer waiter, is removed from the idle list under sched.lock, marked `reclaim`
// and woken; `stopm` then returns false and the M leaves through `mexit` (ThreadExit). Ms are
// reclaimed only while more than `sched.threadFloor` (maxProcs + 4) threads exist, sysmon
// included, so a steady load never pays thread creation again. An M that is removed cannot be
// handed a P (`mget` only takes from the list), so reclamation never races with `startm`.
// Go keeps every M it ever created until the process exits (a blocking storm of 1000
// goroutines leaves about 650 idle threads behind for good); Spool gives them back after
// `SPOOL_THREAD_IDLE_MS` (default 1000 ms). The M structs themselves stay in `sched.allm`
// (a few hundred bytes each; "Abandoned, not freed").
//
// Invariant "Bounded threads": `newm` calls `checkmcount` before creating any M; at
// `SPOOL_MAXTHREADS` live threads (default 10000) the process stops with a fatal error naming
// the limit, instead of exhausting the machine's threads or memory (Go's equivalent is
// `debug.SetMaxThreads`, also fatal). The check takes no lock: threads creating Ms at the
// same moment can overshoot the limit by their number (a handful: sysmon, spinning wakeups).
//
//   * the preemption half of `retake`: a P whose `schedtick` has not moved for the quantum
//     runs the same G for too long; `preemptone` (Preempt.swift) asks it to stop.
//
// While some P runs goroutines, sysmon sleeps at most a tenth of the quantum (1 ms by
// default), and no longer than until the next quantum expires, so that a G is stopped between
// 1.0 and 1.1 quanta after it started (Go's sysmon, backing off to 10 ms, lets one run up
// to 2 quanta). Spool's sysmon learns when a G started only by seeing `schedtick` move, so
// its tick while Ps run bounds the error.
//
// Rejected: parked Ms timing out on their own futex (every idle M would wake periodically, and
// the floor needs a global count anyway); reclaiming from `stopm` at park time (a burst that
// ends would keep its threads until the next burst); exiting the thread from g0 inside
// `exitsyscall0` (the M leaves through `schedule`'s normal return instead).
//
// Context: everything here runs on the sysmon thread ("sysmon": an M, no P, never a G) unless
// stated.

import CSpool
import Synchronization
import SpoolTraceFormat
#if canImport(Glibc)
import Glibc
#endif

/// Default thread cap (`SPOOL_MAXTHREADS`), like Go's `debug.SetMaxThreads` default.
let defaultMaxThreads = 10_000
/// Default time an idle M stays parked before it exits (`SPOOL_THREAD_IDLE_MS`).
let defaultThreadIdleNs: Int64 = 1_000_000_000

/// Test hooks: override the environment for the next runs. Set only holding the runtime
/// test lock.
nonisolated(unsafe) var testThreadIdleMs: Int? = nil
nonisolated(unsafe) var testMaxThreads: Int? = nil
nonisolated(unsafe) var testSysmonKeepWarm: Bool? = nil
nonisolated(unsafe) var testSysmonBatch: Bool? = nil
nonisolated(unsafe) var testPacedThreads: Bool? = nil
nonisolated(unsafe) var testBlockedPerPBeforePacing: Int? = nil

/// Ms blocked in calls per P up to which a syscall's P is taken after one tick ("Paced thread
/// growth").
let defaultBlockedPerPBeforePacing = 16

/// Reads the thread settings into a new instance. Context: `Runtime.run`, before any M starts.
func sysmonConfigure(_ s: SchedPtr) {
    s.pointee.maxThreads = max(1, testMaxThreads ?? envInt("SPOOL_MAXTHREADS") ?? defaultMaxThreads)
    let idleMs = testThreadIdleMs ?? envInt("SPOOL_THREAD_IDLE_MS") ?? Int(defaultThreadIdleNs / 1_000_000)
    s.pointee.threadIdleNs = Int64(max(idleMs, 0)) * 1_000_000
    s.pointee.threadFloor = s.pointee.procs + 4
    s.pointee.sysmonKeepWarm = testSysmonKeepWarm ?? (spool_ncpu() > 1)
    s.pointee.sysmonBatch = testSysmonBatch ?? (envString("SPOOL_SYSMONBATCH") != "0")
    s.pointee.pacedThreads = testPacedThreads ?? (envString("SPOOL_PACEDTHREADS") != "0")
    s.pointee.blockedPerPBeforePacing = max(1, testBlockedPerPBeforePacing ?? defaultBlockedPerPBeforePacing)
}

/// How long a syscall must have lasted, as sysmon saw it, before its P is taken for a new
/// thread while `blocked` Ms are already blocked in calls ("Paced thread growth"): one tick,
/// plus one more for every further `perP` blocked Ms per P. Context: any (pure).
func pacedHandoffAge(blocked: Int, procs: Int, perP: Int, tickNs: Int64) -> Int64 {
    tickNs * Int64(max(1, blocked / max(1, perP * procs)))
}

/// Stops the process if one more M would exceed the thread cap. Mirrors Go's `checkmcount`.
/// Context: any (newm).
func checkmcount(_ s: SchedPtr) {
    // relaxed: an estimate ("Bounded threads" says by how much it may overshoot).
    let n = s.pointee.mcount.load(ordering: .relaxed)
    let limit = s.pointee.maxThreads
    if n >= limit {
        fatal("spool: thread limit of \(limit) reached (SPOOL_MAXTHREADS): \(n) threads exist, "
              + "most of them presumably blocked in Runtime.blocking calls; bound the number of "
              + "concurrent blocking calls (a pool of worker goroutines) or raise SPOOL_MAXTHREADS")
    }
}

/// Creates and starts sysmon's M. Its ThreadCreate goes into `creatorP`'s batch (the caller
/// owns that P), so it precedes every event of sysmon's own batch. Context: `Runtime.run`'s
/// thread, owning `creatorP`, before the first M starts.
func newsysmon(_ s: SchedPtr, creatorP: PPtr) {
    let mp = allocm(s, cause: .sysmon)
    if traceEnabled.load(ordering: .relaxed) {
        traceEv(creatorP.pointee.trace, .threadCreate, UInt64(mp.pointee.id), UInt64(ThreadCause.sysmon.rawValue))
        mp.pointee.traceCreated = true
    }
    s.pointee.lock.lock()
    s.pointee.sysmonM = mp
    s.pointee.lock.unlock()
    mstartThread(s, mp, sysmonEntry, what: "the sysmon thread")
}

private let sysmonEntry: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { arg in
    // SAFETY: arg is the MPtr newsysmon allocated for this thread; Ms are never freed.
    let mp = arg!.assumingMemoryBound(to: M.self)
    spool_setm(UnsafeMutableRawPointer(mp))
    sysmon(mp)
    mexit(mp)
    spool_setm(nil)
    return nil
}

/// sysmon's tick while there is work (Go's 20 µs).
let sysmonTickNs: Int64 = 20_000

/// Ticks without a syscall after which sysmon relaxes ("Relaxed ticks").
let relaxAfterTicks = 5

/// Wakes sysmon if it sleeps longer than its 20 µs tick ("Relaxed ticks"). relaxed: a wakeup
/// missed in the race costs at most that one sleep. Context: any.
@inline(__always)
func sysmonWakeIfRelaxed(_ s: SchedPtr) {
    if s.pointee.sysmonRelaxed.load(ordering: .relaxed)
        && s.pointee.sysmonRelaxed.exchange(false, ordering: .relaxed) {
        s.pointee.sysmonNote.wakeup()
    }
}

/// Per-P state only sysmon reads and writes (Go's `sysmontick`): the syscall it saw last
/// and when it first saw it, and the running G's stint (Preempt.swift).
struct SysmonTick {
    var syscalltick: UInt64 = 0
    var syscallwhen: Int64 = 0
    /// The P's syscall count at the previous tick, whatever its status ("Relaxed ticks").
    var lastSyscalltick: UInt64 = 0
    var run = SysmonRunTick()
}

/// sysmon's loop. Mirrors Go's `sysmon` (retake and backoff; see the file comment).
/// Context: sysmon, until the instance ends.
func sysmon(_ mp: MPtr) {
    let s = mp.pointee.sched
    // "Exact ticks": without this the kernel's default 50 µs timer slack stretches each
    // 20 µs tick to about 70 µs.
    spool_set_timerslack_ns(1)
    s.pointee.sysmonTid.store(spool_gettid(), ordering: .relaxed)
    let ticks = UnsafeMutablePointer<SysmonTick>.allocate(capacity: s.pointee.procs)
    ticks.initialize(repeating: SysmonTick(), count: s.pointee.procs)
    defer { ticks.deallocate() }
    var idle = 0
    var delayNs = sysmonTickNs
    var lastReclaim = spool_nanotime()
    var capNs = Int64.max
    var quietTicks = 0
    var batch = false
    while true {
        if idle == 0 {
            delayNs = sysmonTickNs
        } else if idle > 50 {
            delayNs *= 2
        }
        if delayNs > 10_000_000 { delayNs = 10_000_000 }
        // A running P: wake by its quantum's end, and often enough to see a new G start
        // (applied after the backoff, which would otherwise double it).
        if delayNs > capNs { delayNs = capNs }
        // "Relaxed ticks": no syscall for a few ticks, so only the quantum needs watching.
        let relaxedNs = min(capNs, max(s.pointee.quantumNs / 10, sysmonTickNs), 10_000_000)
        let relaxed = quietTicks >= relaxAfterTicks && delayNs < relaxedNs
        if relaxed { delayNs = relaxedNs }
        // acquiring: pairs with mainDone's releasing store.
        if s.pointee.exiting.load(ordering: .acquiring) { return }
        // Woken (not timed out) from a sleep longer than the tick: work appeared.
        var woken = false
        if s.pointee.npidle.load(ordering: .relaxed) == s.pointee.procs {
            // "Deep sleep": every P is idle, so there is nothing to retake or preempt; sleep
            // until a P leaves the idle list (`pidleget` wakes us), at most 10 ms (the network
            // poll and the reclaim below still need their turns).
            s.pointee.sysmonSleptAt.store(spool_nanotime(), ordering: .relaxed)
            s.pointee.sysmonRelaxed.store(true, ordering: .relaxed)
            s.pointee.sysmonWait.store(true, ordering: .sequentiallyConsistent)
            if s.pointee.npidle.load(ordering: .sequentiallyConsistent) == s.pointee.procs {
                woken = s.pointee.sysmonNote.sleep(timeoutNs: 10_000_000)
            }
            s.pointee.sysmonWait.store(false, ordering: .sequentiallyConsistent)
            s.pointee.sysmonRelaxed.store(false, ordering: .relaxed)
        } else if delayNs > sysmonTickNs {
            // Relaxed or backed off: a syscall that starts meanwhile wakes us.
            s.pointee.sysmonRelaxed.store(true, ordering: .relaxed)
            woken = s.pointee.sysmonNote.sleep(timeoutNs: delayNs)
            s.pointee.sysmonRelaxed.store(false, ordering: .relaxed)
        } else {
            _ = s.pointee.sysmonNote.sleep(timeoutNs: delayNs)
        }
        if woken {
            idle = 0
            delayNs = sysmonTickNs
            quietTicks = 0
        }
        if s.pointee.exiting.load(ordering: .acquiring) { return }
        // A wakeup from `pidleget` (possibly late, after we stopped waiting) is consumed here;
        // the run's end is not (checked just above, and it sets `exiting` before waking us).
        if s.pointee.sysmonNote.isSet { s.pointee.sysmonNote.clear() }
        s.pointee.sysmonCycles.wrappingAdd(1, ordering: .relaxed)
        let now = spool_nanotime()
        var nextDue = Int64.max
        var sawSyscall = false
        if retake(s, mp, ticks, now, &nextDue, &sawSyscall) != 0 {
            idle = 0
        } else {
            idle += 1
        }
        // relaxed: a hint, read once per tick.
        let everyPBusy = s.pointee.npidle.load(ordering: .relaxed) == 0
        quietTicks = sawSyscall || !everyPBusy ? 0 : quietTicks + 1
        capNs = nextDue == Int64.max ? Int64.max : max(min(nextDue - now, s.pointee.quantumNs / 10), sysmonTickNs)
        // "Batch while watching short work". The longest stint now running began at
        // nextDue - quantum (earlier still if a due timer lowered nextDue: then it counts as long).
        let longest = nextDue == Int64.max ? 0 : now + s.pointee.quantumNs - nextDue
        let wantBatch = s.pointee.sysmonBatch && !sawSyscall && longest < s.pointee.quantumNs / 10
            && netpollWaiters.load(ordering: .relaxed) > s.pointee.procs
        if wantBatch != batch {
            // A sandbox that refuses the call turns the feature off for the run rather than
            // retrying it every tick.
            if spool_set_sched_batch(wantBatch ? 1 : 0) == 0 {
                batch = wantBatch
            } else {
                s.pointee.sysmonBatch = false
                batch = false
            }
        }
        sysmonPollNetwork(s, now)
        if now - lastReclaim >= 10_000_000 {
            lastReclaim = now
            reclaimIdleMs(s, now)
        }
    }
}

/// Takes Ps that have been in one syscall for at least a tick and hands them off, and asks Gs
/// that have run for the quantum to stop. Returns how many Ps it took or preempted; lowers
/// `nextDue` to the earliest time a running G's quantum ends or a paced handoff falls due.
/// Mirrors Go's `retake`.
/// Context: sysmon.
func retake(_ s: SchedPtr, _ sysmonM: MPtr, _ ticks: UnsafeMutablePointer<SysmonTick>, _ now: Int64,
            _ nextDue: inout Int64, _ sawSyscall: inout Bool) -> Int {
    var n = 0
    let quantum = s.pointee.quantumNs
    // "Overdue timers": with no idle P, a timer fires only when some P passes through the
    // scheduler. If one is due, the first G found running for at least quantum/10 is asked to
    // stop now rather than at the end of its quantum (Spool's own rule; Go waits for the
    // quantum, which is why a 1 ms sleep beside a spinner at GOMAXPROCS 1 is ~20 ms late).
    // relaxed: hints; a stale value only moves one request by a tick.
    let timerWhen = s.pointee.timer0When.load(ordering: .relaxed)
    // The earliest timer's due time when only a running G can fire it (no P is idle), else nil.
    let timerDue: Int64? = s.pointee.npidle.load(ordering: .relaxed) == 0 && timerWhen != 0 ? timerWhen : nil
    var timerOverdue = timerDue.map { $0 <= now } ?? false
    let minStint = max(quantum / 10, 100_000)
    for i in 0..<s.pointee.procs {
        let pp = s.pointee.allp[i]
        // relaxed: a hint; the CAS below decides.
        let w = pp.pointee.statusWord.load(ordering: .relaxed)
        if w >> 8 != ticks[i].lastSyscalltick || pstatusOf(w) == .syscall {
            ticks[i].lastSyscalltick = w >> 8
            sawSyscall = true
        }
        if pstatusOf(w) == .running {
            // The owner bumps schedtick at every new stint (racy read of a 4-byte word, as in
            // Go: a torn or stale value only delays or advances one request).
            let t = pp.pointee.schedtick
            if ticks[i].run.schedtick != t {
                ticks[i].run = SysmonRunTick(schedtick: t, schedwhen: now, signalled: 0)
            } else if now - ticks[i].run.schedwhen >= quantum
                        || (timerOverdue && now - ticks[i].run.schedwhen >= minStint) {
                if now - ticks[i].run.schedwhen < quantum { timerOverdue = false }
                preemptone(s, sysmonM, pp, &ticks[i].run, now)
                nextDue = min(nextDue, now + max(quantum / 20, 100_000))
                n += 1
                continue
            }
            // Look again when this stint's quantum ends, or when a due timer may cut it short.
            let since = ticks[i].run.schedwhen
            nextDue = min(nextDue, since + quantum)
            if let due = timerDue { nextDue = min(nextDue, max(due, since + minStint)) }
            continue
        }
        guard pstatusOf(w) == .syscall else { continue }
        let t = w >> 8
        if ticks[i].syscalltick != t {
            // A syscall sysmon has not seen before: it becomes eligible at the next tick.
            ticks[i].syscalltick = t
            ticks[i].syscallwhen = now
            continue
        }
        // Go's rule: leave the P alone if it has nothing queued, someone else can take new
        // work (a spinning M or an idle P), and the syscall is younger than 10 ms.
        if runqempty(pp)
            && s.pointee.nmspinning.load(ordering: .relaxed) + s.pointee.npidle.load(ordering: .relaxed) > 0
            && ticks[i].syscallwhen + 10_000_000 > now {
            continue
        }
        // "Paced thread growth": with many Ms already blocked, a handoff that must create a
        // thread waits longer (the lock only once the count says so).
        if s.pointee.pacedThreads {
            // relaxed: an estimate (Ms holding a P and sysmon are not blocked in calls).
            let blocked = s.pointee.mcount.load(ordering: .relaxed) - 1 - s.pointee.procs
            let due = ticks[i].syscallwhen + pacedHandoffAge(
                blocked: blocked, procs: s.pointee.procs, perP: s.pointee.blockedPerPBeforePacing,
                tickNs: sysmonTickNs)
            if now < due && !hasIdleM(s) {
                nextDue = min(nextDue, due)
                continue
            }
        }
        // "One CAS decides". acquiringAndReleasing: acquiring pairs with entersyscall's
        // releasing store (the P's trace buffer and caches become ours); releasing pairs with
        // the acquiring loads of a losing exitsyscall.
        guard pp.pointee.statusWord.compareExchange(
            expected: w, desired: pstatusWord(t, .handoff),
            ordering: .acquiringAndReleasing).exchanged else { continue }
        // The syscall M no longer holds the P (its `p` is already nil; `oldp` is only used by
        // its failed CAS). sysmon owns `pp.m` now.
        let fromM = pp.pointee.m.map { $0.pointee.id } ?? 0
        pp.pointee.m = nil
        handoffp(s, pp, fromM: fromM)
        n += 1
    }
    return n
}

/// Whether an idle M could take a P without creating a thread. Context: any, not holding
/// sched.lock.
func hasIdleM(_ s: SchedPtr) -> Bool {
    s.pointee.lock.lock()
    defer { s.pointee.lock.unlock() }
    return s.pointee.midle != nil
}

/// Tells Ms parked longer than the idle time to exit, down to the floor ("Idle threads exit").
/// Context: sysmon (any thread not holding sched.lock would do).
func reclaimIdleMs(_ s: SchedPtr, _ now: Int64) {
    let idleNs = s.pointee.threadIdleNs
    var victims: MPtr? = nil
    s.pointee.lock.lock()
    // relaxed: mcount changes only by newm/mexit; an estimate suffices for the floor.
    var live = s.pointee.mcount.load(ordering: .relaxed)
    var m = s.pointee.midle
    while let mm = m, live > s.pointee.threadFloor {
        m = mm.pointee.schedlink
        if mm != s.pointee.timerWaiter && now - mm.pointee.idleSince >= idleNs {
            mremove(s, mm)
            mm.pointee.reclaim = true
            mm.pointee.schedlink = victims // a private list now (it left sched.midle)
            victims = mm
            live -= 1
        }
    }
    s.pointee.lock.unlock()
    while let v = victims {
        victims = v.pointee.schedlink
        v.pointee.schedlink = nil
        v.pointee.park.wakeup() // releasing: `reclaim` is visible to the woken stopm
    }
}

/// Go's sysmon polls the network when nobody has for 10 ms, so that goroutines waiting on
/// sockets are not starved while every M is busy (`netpollSysmon`, Netpoll.swift).
/// Context: sysmon.
@inline(__always)
func sysmonPollNetwork(_ s: SchedPtr, _ now: Int64) { netpollSysmon(s, now) }
