// Blocking system calls: `Runtime.blocking`, `entersyscall` / `exitsyscall`, and `handoffp`
// (Go's proc.go). The article's "Managing Blocking System Calls and Thread Handoff".
//
// A goroutine about to make a call that may block its thread (a file read, a real sleep, a
// C library call) wraps it in `Runtime.blocking { ... }`. `entersyscall` records
// `GoSyscallBegin` and leaves its P attached in `syscall` state: the P is not running
// goroutines, but it is still this M's. Three things can happen next:
//
//   * the call returns quickly: `exitsyscallfast` takes the P back with one CAS
//     (`syscall` → `running`) and the G continues (`GoSyscallEnd`). A short syscall costs two
//     atomic operations and no thread;
//   * the call lasts: sysmon (Sysmon.swift) sees the same syscall on two of its ticks (at least
//     20 µs apart) and `retake`s the P with one CAS (`syscall` → `handoff`). `handoffp` writes
//     `ProcHandoff` into the P's batch and gives the P to an idle M, a new M (ThreadCreate
//     cause `handoff`), or the idle list if there is nothing to do. Other goroutines keep
//     running while the thread blocks;
//   * when such a call returns, the P is gone: the G is runnable and waits for a P
//     (`GoSyscallEndBlocked`, in the M's own batch). `exitsyscall` takes an idle P if there is
//     one and continues at once (`ProcStart`, `GoStart`); otherwise g0 puts the G on the global
//     queue and parks the M (`exitsyscall0` → `stopm`), where it may later be reclaimed.
//
// Invariant "One CAS decides": the race between sysmon's `retake` and the returning M's
// `exitsyscallfast` is decided by a single compare-and-swap on the P's status word, from
// `syscall`; exactly one of them wins, and the winner owns the P (its run queue, caches and
// trace buffer) from then on. Nobody else ever moves a P out of `syscall`. The word also
// holds the P's syscall count, so the returning M's CAS names its own syscall: a P that was
// retaken, handed on, and is now in another M's syscall fails it (no ABA).
//
// Invariant "Handoff before blocked end": `ProcHandoff` precedes the G's `GoSyscallEndBlocked`
// in time. sysmon holds the P in `handoff` state while it writes the event and picks the next
// M; a returning M that lost the CAS waits (yielding the thread) until the status leaves
// `handoff` before it reads the clock for its own event. Without this the importer could see
// the G leave its syscall before the P was taken, and count a handoff without a syscall.
//
// Who writes what while a G is in a syscall: the P's `m` still names the M in the call (sysmon
// needs it for `ProcHandoff [fromM, toM]`); the M's `p` is nil and `oldp` names the P (Go's
// `m.oldp`), so runtime code cannot use the P by mistake. Goroutine operations (`go`, channel
// operations, `Runtime.sleep`) must not be called inside `Runtime.blocking`'s closure; a nested
// `Runtime.blocking` just runs its closure.
//
// Rejected: entering a syscall by releasing the P at once (Go did before 1.2: a thread switch
// per short syscall); signalling the thread in a blocking call (EINTR, runtime-feasibility);
// a lock around the handoff decision (the exit path of every syscall would take it);
// `GoSyscallEndBlocked` written by sysmon (it names the time the G came back, which only the
// returning M knows).
//
// Execution context is stated on every function: "on a G", "g0", "no P", "sysmon".

import CSpool
import Synchronization
import SpoolTraceFormat
#if canImport(Glibc)
import Glibc
#endif

// MARK: - entersyscall / exitsyscall

/// The current G enters a call that may block its thread. Mirrors Go's `reentersyscall`.
/// Context: on a G, holding a P; returns without a P (`mp.oldp` set).
@inline(never)
func entersyscall() {
    let mp = getm()!
    let gp = mp.pointee.curg!
    let pp = mp.pointee.p!
    traceGoStatus(pp, gp, .running)
    traceEv(pp.pointee.trace, .goSyscallBegin)
    // relaxed: only the owner writes the word while the P is not in `syscall`.
    let tick = (pp.pointee.statusWord.load(ordering: .relaxed) >> 8) &+ 1
    mp.pointee.syscalltick = tick
    mp.pointee.oldp = pp
    mp.pointee.p = nil
    // releasing: everything the owner wrote to the P (trace buffer, caches) happens before
    // sysmon's winning CAS in `retake` (acquiringAndReleasing). Partner of both CASes.
    pp.pointee.statusWord.store(pstatusWord(tick, .syscall), ordering: .releasing)
    sysmonWakeIfRelaxed(mp.pointee.sched) // so that this syscall is retaken after one tick
}

/// A status word: syscall count `tick`, status `st` (see `P.statusWord`).
@inline(__always)
func pstatusWord(_ tick: UInt64, _ st: PStatus) -> UInt64 { tick << 8 | UInt64(st.rawValue) }

@inline(__always)
func pstatusOf(_ w: UInt64) -> PStatus { PStatus(rawValue: UInt8(truncatingIfNeeded: w))! }

/// The current G's call returned. Takes its P back, or an idle one, or queues the G and parks
/// this M until a P is free. Mirrors Go's `exitsyscall`. Context: on a G, without a P (after
/// `entersyscall` on this same thread); returns on a G holding a P, possibly on another M.
@inline(never)
func exitsyscall() {
    let mp = getm()!
    let gp = mp.pointee.curg!
    let s = mp.pointee.sched
    let oldp = mp.pointee.oldp!
    mp.pointee.oldp = nil

    // The run ended during the call: this goroutine is abandoned like every blocked one
    // ("Abandoned, not freed"); exitsyscall0 drops it and the M leaves. acquiring: pairs with
    // mainDone's releasing store.
    if s.pointee.exiting.load(ordering: .acquiring) {
        mcall(mp, .exitsyscall)
        fatal("exitsyscall: goroutine \(gp.pointee.goid) of an ended run was resumed")
    }

    // exitsyscallfast, 1: our own P, if sysmon has not retaken it ("One CAS decides"). The
    // expected word names our syscall by its count: a P that was retaken, handed to another M
    // and is now in *that* M's syscall is not ours to take (Go takes it and writes the other
    // G's loss; Spool leaves it to sysmon). acquiringAndReleasing: winning means nobody touched
    // the P since entersyscall, and our writes to it follow.
    let tick = mp.pointee.syscalltick
    if oldp.pointee.statusWord.compareExchange(
        expected: pstatusWord(tick, .syscall), desired: pstatusWord(tick, .running),
        ordering: .acquiringAndReleasing).exchanged {
        mp.pointee.p = oldp
        traceGoStatus(oldp, gp, .syscall) // a session started during the call
        traceEv(oldp.pointee.trace, .goSyscallEnd)
        return
    }

    // Lost: sysmon owns or owned the P. "Handoff before blocked end": wait until its
    // ProcHandoff is written. acquiring: pairs with handoffp's releasing stores.
    while pstatusOf(oldp.pointee.statusWord.load(ordering: .acquiring)) == .handoff {
        spool_osyield()
    }
    traceSyscallEndBlocked(mp, gp)

    // exitsyscallfast, 2: any idle P.
    s.pointee.lock.lock()
    let pp = pidleget(s)
    s.pointee.lock.unlock()
    if let pp {
        acquirep(mp, pp)
        gp.pointee.traceSeq &+= 1
        traceEv(pp.pointee.trace, .goStart, gp.pointee.goid, gp.pointee.traceSeq & 127)
        return
    }
    // Slow path on g0 (exitsyscall0). Returns when a P runs this G again.
    mcall(mp, .exitsyscall)
}

/// `GoSyscallEndBlocked` in the M's own batch, which is sealed at once (a parked M may never
/// write again; M batches use small buffers outside the pool, Trace.swift). A G first met in a session started during
/// the call is described first (`GoStatus(syscall)`, in the same M batch).
/// Context: on a G, no P.
func traceSyscallEndBlocked(_ mp: MPtr, _ gp: GPtr) {
    gp.pointee.traceSeq &+= 1
    guard traceEnabled.load(ordering: .relaxed) else { return }
    let t = mp.pointee.trace
    let id = traceSessionID.load(ordering: .relaxed)
    if gp.pointee.traceSession != id {
        gp.pointee.traceSession = id
        traceWrite(t, .goStatus, gp.pointee.goid, (gp.pointee.traceSeq &- 1) & 127,
                   UInt64(GoStatusCode.syscall.rawValue))
    }
    traceWrite(t, .goSyscallEndBlocked, gp.pointee.goid, gp.pointee.traceSeq & 127, 0)
    traceFlushOwner(t)
}

/// g0's half of a syscall exit with no P free: try once more for an idle P (under sched.lock,
/// so a P released after our check in `exitsyscall` is not missed), else put the G on the
/// global queue and park this M. Mirrors Go's `exitsyscall0`.
/// Context: g0 (execute's continuation), no P. Returns holding a P, or without one when the
/// instance is ending (the G is then abandoned) or sysmon reclaimed this M (findRunnable then
/// lets the M exit).
func exitsyscall0(_ mp: MPtr, _ gp: GPtr) {
    let s = mp.pointee.sched
    gp.pointee.status = .runnable
    s.pointee.lock.lock()
    if s.pointee.exiting.load(ordering: .acquiring) {
        // Abandoned: queued nowhere, never resumed (findRunnable then lets this M leave).
        s.pointee.lock.unlock()
        return
    }
    if let pp = pidleget(s) {
        s.pointee.lock.unlock()
        acquirep(mp, pp)
        // Runs next on this P (Go executes it directly; here schedule's next pass does).
        runqput(s, pp, gp, next: true)
        return
    }
    // No idle P: every P is busy, and each checks the global queue before it goes idle
    // (under sched.lock), so the G cannot be stranded here.
    globrunqput(s, gp)
    s.pointee.lock.unlock()
    _ = stopm(mp)
}

// MARK: - handoffp (sysmon)

/// Gives `pp`, just retaken from M `fromM` stuck in a syscall, to whoever should run it.
/// Mirrors Go's `handoffp`: an M if there is local or global work, a spinning M if nobody is
/// looking for work, else the idle list (a pending timer with nobody waiting for it also
/// gets an M). `ProcHandoff` goes into the P's batch before the P leaves sysmon's hands.
/// Context: sysmon, owning `pp` (status `handoff`, `pp.m` cleared); no locks held.
func handoffp(_ s: SchedPtr, _ pp: PPtr, fromM: Int64) {
    if !runqempty(pp) || s.pointee.runqsize.load(ordering: .relaxed) > 0 {
        startmHandoff(s, pp, fromM: fromM, spinning: false)
        return
    }
    // No local work: help only if nobody is spinning and no P is idle (an idle P means an M
    // will be started by wakep when work appears).
    if s.pointee.nmspinning.load(ordering: .sequentiallyConsistent)
        + s.pointee.npidle.load(ordering: .sequentiallyConsistent) == 0,
       s.pointee.nmspinning.compareExchange(expected: 0, desired: 1,
                                            ordering: .sequentiallyConsistent).exchanged {
        startmHandoff(s, pp, fromM: fromM, spinning: true)
        return
    }
    s.pointee.lock.lock()
    if s.pointee.runqsize.load(ordering: .relaxed) > 0
        || (s.pointee.timer0When.load(ordering: .acquiring) != 0 && s.pointee.timerWaiter == nil) {
        s.pointee.lock.unlock()
        startmHandoff(s, pp, fromM: fromM, spinning: false)
        return
    }
    traceEv(pp.pointee.trace, .procHandoff, UInt64(fromM), 0)
    // releasing (inside the status setter): the P's state is published with it; exitsyscall's
    // acquiring load waits for it ("Handoff before blocked end").
    pp.pointee.status = .idle
    pidleput(s, pp)
    s.pointee.lock.unlock()
}

/// Hands `pp` to an idle M, or starts one (ThreadCreate cause `handoff`). Mirrors Go's
/// `startm` as called from `handoffp`, plus the trace event. Context: sysmon, owning `pp`.
func startmHandoff(_ s: SchedPtr, _ pp: PPtr, fromM: Int64, spinning: Bool) {
    s.pointee.lock.lock()
    if let nmp = mget(s) {
        s.pointee.lock.unlock()
        traceEv(pp.pointee.trace, .procHandoff, UInt64(fromM), UInt64(nmp.pointee.id))
        pp.pointee.status = .idle // releasing; then the note's wakeup publishes nextp
        nmp.pointee.spinning = spinning
        nmp.pointee.nextp = pp
        nmp.pointee.park.wakeup()
        return
    }
    s.pointee.lock.unlock()
    // newm writes ThreadCreate and ProcHandoff into pp's batch, then starts the thread, whose
    // acquirep moves the status to `running`.
    newm(s, pp, spinning: spinning, cause: .handoff, creatorP: pp, handoffFrom: fromM)
    // If the new thread has not acquired the P yet, leave `handoff` now (ProcHandoff is
    // written). acquiringAndReleasing; fails harmlessly when acquirep got there first.
    let w = pp.pointee.statusWord.load(ordering: .acquiring)
    if pstatusOf(w) == .handoff {
        _ = pp.pointee.statusWord.compareExchange(expected: w, desired: (w & ~0xff) | UInt64(PStatus.idle.rawValue),
                                                  ordering: .acquiringAndReleasing)
    }
}

// MARK: - Public API

/// An error from one of the runtime's blocking wrappers: the call and its errno.
public struct BlockingCallError: Error, Equatable, CustomStringConvertible {
    /// The system call that failed ("read", "write", "clock_nanosleep").
    public let call: String
    /// Its errno (never EINTR: interrupted calls are retried).
    public let errno: Int32

    public var description: String {
        let msg = strerror(errno).map { String(cString: $0) } ?? "errno \(errno)"
        return "\(call): \(msg) (errno \(errno))"
    }
}

extension Runtime {
    /// Runs `body`, a call that may block its thread (a file read, a real sleep, a C library
    /// call that waits), without keeping the goroutine's processor: if the call lasts longer
    /// than one sysmon tick (≥ 20 µs), the P is handed to another thread and other goroutines
    /// keep running; the goroutine gets a P back when the call returns. A short call keeps its
    /// P and costs two atomic operations.
    ///
    /// Each blocking call that outlasts its P occupies one OS thread; a storm of them creates
    /// threads up to `SPOOL_MAXTHREADS` (then the process stops with a fatal error). Idle
    /// threads are reclaimed after `SPOOL_THREAD_IDLE_MS`. Run many blocking calls through a
    /// bounded pool of goroutines to keep the thread count down.
    ///
    /// Inside `body`, do not use goroutine operations (`go`, channels, `Runtime.sleep`,
    /// `WaitGroup`, `GoMutex`): the goroutine has no P there. A nested `Runtime.blocking`, or
    /// a call outside any goroutine, just runs `body`.
    ///
    /// Context: on a goroutine (or any thread, where it is a plain call).
    public static func blocking<T>(_ body: () throws -> T) rethrows -> T {
        // The region spans the call: a G in a syscall holds no P to give back, so it must never
        // be preempted there (and sysmon sends it no signal: EINTR).
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        guard let mp = getm(), mp.pointee.curg != nil, mp.pointee.p != nil else {
            return try body()
        }
        entersyscall()
        defer { exitsyscall() }
        return try body()
    }

    /// Sleeps holding the thread (a real `clock_nanosleep`, as Go's `syscall.Nanosleep`), inside
    /// `Runtime.blocking`: the goroutine's P is handed off while it sleeps. Signals do not
    /// shorten it (it resumes with the remaining time). Prefer `Runtime.sleep(for:)`, which
    /// parks the goroutine without a thread; this one exists to exercise and measure thread
    /// handoff. Context: on a goroutine (or any thread).
    public static func blockingSleep(for duration: Duration) {
        let (secs, atto) = duration.components
        let (whole, overflow) = secs.multipliedReportingOverflow(by: 1_000_000_000)
        let ns = overflow || secs > Int64.max / 4_000_000_000 ? Int64.max / 4 : whole &+ atto / 1_000_000_000
        if ns <= 0 { return }
        let r = blocking { spool_blocking_sleep_ns(ns) }
        if r != 0 { fatal("clock_nanosleep failed: errno \(-r)") }
    }

    /// Reads up to `buffer.count` bytes from the file descriptor `fd` into `buffer`, blocking
    /// the thread (not the P) until data arrives: for files, pipes and devices (sockets belong to
    /// the netpoller). Returns the byte count, 0 at end of file. EINTR is retried, never thrown.
    /// Context: on a goroutine (or any thread).
    public static func readFile(fd: Int32, into buffer: inout [UInt8]) throws -> Int {
        let count = buffer.count
        if count == 0 { return 0 }
        let r = buffer.withUnsafeMutableBytes { raw in
            // SAFETY: `raw` is valid for `count` bytes for the duration of this closure, which
            // covers the whole read; the blocking call does not switch goroutines.
            blocking { spool_blocking_read(fd, raw.baseAddress, count) }
        }
        if r < 0 { throw BlockingCallError(call: "read", errno: Int32(-r)) }
        return Int(r)
    }

    /// Writes all of `bytes` to the file descriptor `fd`, blocking the thread (not the P) as
    /// long as it takes, retrying short writes and EINTR. Context: on a goroutine (or any thread).
    public static func writeFile(fd: Int32, _ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let r = bytes.withUnsafeBytes { raw in
                // SAFETY: as in readFile; `off < raw.count`.
                blocking { spool_blocking_write(fd, raw.baseAddress! + off, raw.count - off) }
            }
            if r < 0 { throw BlockingCallError(call: "write", errno: Int32(-r)) }
            off += Int(r)
        }
    }
}
