// Preemption: how a goroutine that runs too long is made to give up its P (Go's
// `preemptone`, `asyncPreempt`, `gopreempt_m`). The article's "Preemption" section.
//
// sysmon (Sysmon.swift, `retake`) watches every running P's `schedtick`. When the same G has
// held a P for the quantum (`SPOOL_QUANTUM_MS`, default 10 ms), sysmon sets the G's
// `preempt` flag (PreemptRequest) and, unless async preemption is off, sends SIGURG to its M
// (`spool_preempt_signal`: at most one pending per M; retried every `quantum / 20` while the
// request stands). Two ways the G then stops:
//
//   * cooperatively: every runtime call (channel operations, `go`, `yield`, sleeps, locks,
//     TCP, `Runtime.blocking`) starts with `runtimeEnter`, which sees the flag and yields
//     first (Preempted(cooperative), GoStop(preempted));
//   * asynchronously: the signal handler (CSpool/preempt.c) finds the G at a safe point in
//     user code, saves every register and calls `asyncPreemptPark` on the G's stack
//     (Preempted(async), GoStop(preempted)). A G in a tight loop without calls stops this way.
//
// A preempted G goes to the global run queue, as in Go, so a P's other goroutines run first
// and any P may pick it up.
//
// Invariant "Runtime code is not preemptible": Spool's scheduler is Swift, compiled into the
// same executable as user code and partly inlined into it, so the handler cannot tell runtime
// code by its PC. Instead every entry from user code into the runtime raises the G's
// no-preempt count (`spool_gctx.nopreempt`) with `runtimeEnter` before touching an M, a P, a
// lock or the trace buffer, and lowers it with `runtimeExit` when it returns to user code
// (it may park and resume on another M in between: the count belongs to the G). The handler
// refuses while the count is nonzero. A public entry point that forgets it could be
// interrupted with a runtime lock held or halfway through a P's run queue: every `public`
// function that reaches the scheduler must begin with `runtimeEnter` (HACKING.md, "Preemption").
// The count is read by the M only after it is raised, so the M read is never stale.
//
// `Runtime.withoutPreemption { }` raises the same count for user code that must not be
// interrupted (code holding an OS lock: `Synchronization.Mutex`, NSLock, pthread mutexes,
// `DispatchQueue.sync`; a preempted holder would deadlock the next goroutine on its thread).
// `Runtime.blocking` holds it for the whole call: a G in a syscall has no P to give back.
//
// Rejected: per-M lock counts alone (Go's `m.locks`): the runtime touches P-owned structures
// (run queues, trace buffers) without locks; a PC range for the Swift runtime (cross-module
// inlining puts runtime code in user functions); signalling Ms in blocking calls (EINTR).

import CSpool
import SpoolTraceFormat

/// Default quantum: how long a G may hold a P before sysmon asks it to stop (Go's
/// `forcePreemptNS`).
let defaultQuantumNs: Int64 = 10_000_000

/// Test hooks: override the environment for the next runs. Set only holding the runtime
/// test lock.
nonisolated(unsafe) var testQuantumNs: Int64? = nil
nonisolated(unsafe) var testAsyncPreempt: Bool? = nil

/// Reads the preemption settings into a new instance and installs the signal handler.
/// Context: `Runtime.run`, before any M starts.
func preemptConfigure(_ s: SchedPtr) {
    let ms = envInt("SPOOL_QUANTUM_MS").map { Int64(max($0, 1)) * 1_000_000 }
    s.pointee.quantumNs = max(testQuantumNs ?? ms ?? defaultQuantumNs, 100_000)
    let on = testAsyncPreempt ?? (envString("SPOOL_ASYNCPREEMPT") != "0")
    s.pointee.asyncPreempt = on
    spool_preempt_install(on ? 1 : 0, asyncPreemptPark)
}

// MARK: - Runtime regions

/// Enters runtime code from user code: raises the calling G's no-preempt count, then yields
/// first if a preemption was requested (cooperative preemption). Returns the G's context for
/// `runtimeExit`, or nil on a thread that runs no goroutine (where it does nothing).
/// Context: any; on a G, the M must be read (`getm`) only after this returns.
@inline(__always)
func runtimeEnter() -> UnsafeMutablePointer<spool_gctx>? {
    guard let ctx = spool_getctx() else { return nil }
    spool_nopreempt_inc(ctx)
    if spool_preempt_requested(ctx) != 0 && ctx.pointee.nopreempt == 1 {
        preemptPark(.cooperative)
    }
    return ctx
}

/// Leaves runtime code entered with `runtimeEnter`. Context: the same G.
@inline(__always)
func runtimeExit(_ ctx: UnsafeMutablePointer<spool_gctx>?) {
    if let ctx { _ = spool_nopreempt_dec(ctx) }
}

/// Stops the current G for a preemption: it goes to the global queue and the M schedules.
/// Returns when the G runs again, perhaps on another M. Context: on a G holding a P, with
/// its no-preempt count raised (by `runtimeEnter` or `asyncPreemptPark`).
@inline(never)
func preemptPark(_ kind: PreemptKind) {
    guard let mp = getm(), let gp = mp.pointee.curg else { return }
    spool_preempt_clear(gp.pointee.ctx)
    guard let pp = mp.pointee.p else { return } // in a syscall
    traceGoStatus(pp, gp, .running)
    traceEv(pp.pointee.trace, .preempted, UInt64(kind.rawValue))
    traceEv(pp.pointee.trace, .goStop, UInt64(StopReason.preempted.rawValue))
    pp.pointee.justPreempted = gp
    mcall(mp, .gosched)
}

/// Called by the trampoline (CSpool/preempt_amd64.S) on the preempted G's stack with every
/// register saved; the handler checked that the G was at a safe point in user code.
let asyncPreemptPark: @convention(c) () -> Void = {
    guard let ctx = spool_getctx() else { return }
    spool_nopreempt_inc(ctx)
    preemptPark(.async)
    _ = spool_nopreempt_dec(ctx)
}

// MARK: - No-preempt regions

extension Runtime {
    /// Runs `body` with asynchronous preemption held off for the calling goroutine, for code
    /// that must not be interrupted by another goroutine on the same thread: code holding an OS
    /// lock (`Synchronization.Mutex`, NSLock, a pthread mutex, `DispatchQueue.sync`), or
    /// timing-sensitive sections. A preemption requested meanwhile happens when `body` returns.
    /// Runtime calls inside `body` work as usual (blocking ones still park the goroutine).
    /// Keep such regions short: the goroutine keeps its P for the whole region.
    /// Context: any (outside a goroutine it just runs `body`).
    public static func withoutPreemption<R>(_ body: () throws -> R) rethrows -> R {
        guard let ctx = spool_getctx() else { return try body() }
        spool_nopreempt_inc(ctx)
        defer {
            if spool_nopreempt_dec(ctx) == 0 && spool_preempt_requested(ctx) != 0 {
                // The request arrived during the region: honour it now (Go's releasem).
                spool_nopreempt_inc(ctx)
                preemptPark(.cooperative)
                _ = spool_nopreempt_dec(ctx)
            }
        }
        return try body()
    }

    /// Whether sysmon may interrupt goroutines with signals in the current (or next) run:
    /// `SPOOL_ASYNCPREEMPT=0` turns it off, leaving only cooperative preemption at runtime calls.
    public static var asyncPreemptionEnabled: Bool {
        if let s = activeSched { return s.pointee.asyncPreempt }
        return testAsyncPreempt ?? (envString("SPOOL_ASYNCPREEMPT") != "0")
    }
}

// MARK: - sysmon's half

/// What sysmon remembers about a running P between ticks (Go's `sysmontick` fields
/// `schedtick`, `schedwhen`), and when it last signalled the P's M.
struct SysmonRunTick {
    var schedtick: UInt32 = 0
    var schedwhen: Int64 = 0
    var signalled: Int64 = 0
}

/// Asks the G running on `pp` to stop: PreemptRequest, and SIGURG to its M unless async
/// preemption is off, the G is in runtime code (it will see the flag at its next runtime call
/// or when it leaves the region), or the M was signalled less than `retryNs` ago. The reads of
/// `pp.m` and `m.curg` race with the P's owner, as Go's do: a request that lands on the next G
/// only makes that G yield early. Mirrors Go's `preemptone`. Context: sysmon.
func preemptone(_ s: SchedPtr, _ sysmonM: MPtr, _ pp: PPtr, _ tick: inout SysmonRunTick, _ now: Int64) {
    guard let mp = pp.pointee.m, let gp = mp.pointee.curg else { return }
    let ctx = gp.pointee.ctx
    if spool_preempt_requested(ctx) == 0 {
        spool_preempt_request(ctx)
        traceEv(sysmonM.pointee.trace, .preemptRequest, gp.pointee.goid, UInt64(pp.pointee.id))
    }
    guard s.pointee.asyncPreempt, spool_nopreempt_get(ctx) == 0 else { return }
    let retryNs = max(s.pointee.quantumNs / 20, 100_000)
    if now - tick.signalled < retryNs { return }
    if spool_preempt_signal(mp.pointee.mctx) != 0 { tick.signalled = now }
}

// MARK: - Statistics (tests, diagnostics)

/// The signal handler's counters since the process started (CSpoolPreempt.h, `SPOOL_PS_*`).
struct PreemptStats {
    var signals: UInt64 = 0
    var injected: UInt64 = 0
    var hijacked: UInt64 = 0
    var parked: UInt64 = 0
    var unhijacked: UInt64 = 0
    /// Refusals by reason, in `SPOOL_PS_R_*` order.
    var refused: [UInt64] = []

    static func read() -> PreemptStats {
        var raw = [UInt64](repeating: 0, count: SPOOL_PS_COUNT)
        raw.withUnsafeMutableBufferPointer { spool_preempt_stats($0.baseAddress) }
        var st = PreemptStats()
        st.signals = raw[SPOOL_PS_SIGNALS]
        st.injected = raw[SPOOL_PS_INJECTED]
        st.hijacked = raw[SPOOL_PS_HIJACKED]
        st.parked = raw[SPOOL_PS_PARKED]
        st.unhijacked = raw[SPOOL_PS_UNHIJACKED]
        st.refused = Array(raw[SPOOL_PS_R_NOT_G...])
        return st
    }
}
