// The public face of the runtime: `Runtime.run`, `go`, yield/sleep, counts, tracing control;
// and the construction and teardown of one runtime instance.
//
// One instance per `Runtime.run`: a fresh `Sched`, Ps and Ms (ids restart: P 0…, M 1…, G 1…),
// so a finished run leaves nothing that a later run could trip over. The calling thread only
// waits: goroutines run on dedicated M threads, never on the caller's thread (which may be a
// Swift Concurrency worker whose task-locals would leak into goroutines).

import CSpool
import Synchronization
import SpoolTraceFormat
#if canImport(Glibc)
import Glibc
#endif

/// Errors from `Runtime`.
public enum RuntimeError: Error, CustomStringConvertible {
    /// `Runtime.run` was called while another run is in progress.
    case alreadyRunning
    /// A trace file could not be opened or tracing was misused.
    case trace(String)

    public var description: String {
        switch self {
        case .alreadyRunning: return "Runtime.run: a runtime is already running in this process"
        case .trace(let m): return "trace: \(m)"
        }
    }
}

/// Spool's goroutine runtime: an M:P:G scheduler in the style of Go's.
///
/// `Runtime.run { ... }` starts `maxProcs` logical processors (Ps) and runs the closure as the
/// main goroutine; `go { ... }` starts more goroutines; channels, `select`, `WaitGroup`,
/// `GoMutex` and `Runtime.sleep(for:)` park goroutines without blocking threads.
///
/// ## Hazards: what is unreliable inside a goroutine
///
/// A goroutine runs on its own stack and can move to another OS thread at any point where it
/// blocks or yields (every channel operation, `select`, `sleep`, `yield`, `WaitGroup.wait`,
/// `GoMutex.lock`). Thread-bound facilities therefore break:
///
/// - `pthread_self()`, `gettid()`, `Thread.current`, `Thread.current.threadDictionary`, pthread
///   keys, and `@_thread_local`/C `__thread` variables: they name the *current thread*, which
///   can change across any of those calls. The optimizer may even reuse a `pthread_self()`
///   value computed before the call (it is a `const` function). Pass state explicitly.
/// - OS locks (`pthread_mutex`, `NSLock`, `Synchronization.Mutex`, `os_unfair_lock`,
///   `DispatchQueue.sync`) held across a blocking Spool call: another goroutine on the same
///   thread may deadlock or trap ("Recursive call to lock Mutex"), and the holder may resume on
///   a thread that does not own the lock. Use `GoMutex`, or never block while holding one.
/// - `@TaskLocal` values and `withUnsafeCurrentTask`: goroutines are not Swift tasks; task
///   locals are not bound inside them. `await` cannot be used in goroutine code.
/// - `MainActor.assumeIsolated` and `dispatchPrecondition(.onQueue(.main))`: goroutines never
///   run on the main thread.
/// - Deep recursion and large stack buffers: a goroutine has a fixed stack (256 KiB by default,
///   `SPOOL_STACK_KB`, or `go(stackSize:_:)`). Overflowing it ends the process with
///   "goroutine N overflowed its stack"; Swift emits no stack probes, so a single frame larger
///   than the 64 KiB guard gap could skip it and corrupt memory instead.
///
/// What the runtime keeps per goroutine across switches: Swift's exclusivity-checking access
/// set and `errno` (read `errno` right after the call that set it anyway).
///
/// Preemption: a goroutine that has run for the quantum (`SPOOL_QUANTUM_MS`, 10 ms; a tenth of
/// it when every P is busy and a timer is due) is stopped at its next runtime call, or by a
/// signal if it makes none (`SPOOL_ASYNCPREEMPT=0` turns signals off; see
/// `Runtime.withoutPreemption`).
///
/// Environment: `SPOOL_MAXPROCS` (number of Ps; default: CPUs available), `SPOOL_STACK_KB`
/// (default goroutine stack), `SPOOL_TRACE=FILE` (record an execution trace),
/// `SPOOL_TRACEBACK=crash` (fatal errors abort instead of exiting with status 2),
/// `SPOOL_MAXTHREADS` (thread cap, default 10000: reaching it is a fatal error),
/// `SPOOL_THREAD_IDLE_MS` (idle threads beyond maxProcs + 4 exit after this long, default
/// 1000; Go keeps them forever), `SPOOL_POLLYIELD=0` (an M about to block in the network
/// poller no longer yields its thread once first), `SPOOL_SYSMONBATCH=0` (sysmon never runs as
/// a SCHED_BATCH thread), `SPOOL_PACEDTHREADS=0` (a syscall's P is taken for a new thread
/// after one tick however many threads are already blocked). Calls that block a thread go
/// through `Runtime.blocking`.
public enum Runtime {
    /// Runs `body` as the main goroutine on a fresh runtime with `maxProcs` Ps (default:
    /// `SPOOL_MAXPROCS`, else the CPU count), and returns when it returns, rethrowing its
    /// error. Goroutines still alive then are abandoned: they never run again (a goroutine
    /// spinning in a loop keeps its thread, but nothing waits for it). Can be called again
    /// afterwards; not concurrently, and not from inside a goroutine.
    public static func run(maxProcs: Int? = nil, _ body: @escaping () throws -> Void) throws {
        try run(maxProcs: maxProcs, runqCapacity: nil, body)
    }

    /// `run` with a local run-queue capacity (a power of two ≥ 2; default 256), for tests
    /// that want the overflow and steal edges hit often.
    static func run(maxProcs: Int?, runqCapacity: Int?, _ body: @escaping () throws -> Void) throws {
        if getm() != nil { fatal("Runtime.run called from inside a goroutine") }
        guard runActive.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            throw RuntimeError.alreadyRunning
        }
        defer { runActive.store(false, ordering: .releasing) }

        let procs = max(1, min(maxProcs ?? defaultMaxProcs(), 1024))
        let cap = runqCapacity ?? 256
        precondition(cap >= 2 && cap & (cap - 1) == 0, "run queue capacity must be a power of two ≥ 2")
        let stackKB = envInt("SPOOL_STACK_KB").map { max($0, 16) } ?? 256
        spool_signals_install()

        let s = makeSched(procs: procs, runqCapacity: cap, stackSize: stackKB << 10)
        currentSched = s

        let tracePath = armedTracePath ?? envString("SPOOL_TRACE")
        if let path = tracePath, !path.isEmpty {
            let sess = try TraceSession(path: path, sched: s)
            sess.begin(procs: procs)
        }

        final class Outcome: @unchecked Sendable { var error: Error? }
        let outcome = Outcome()
        let gp = newG(s, {
            do { try body() } catch { outcome.error = error }
        }, stackSize: s.pointee.stackSize)
        gp.pointee.isMain = true

        // P0 belongs to this thread until M1 starts; the other Ps start idle.
        let p0 = s.pointee.allp[0]
        gp.pointee.traceSession = traceSessionID.load(ordering: .relaxed)
        traceEv(p0.pointee.trace, .goCreate, gp.pointee.goid, 0)
        runqput(s, p0, gp, next: true)
        s.pointee.lock.lock()
        for i in stride(from: procs - 1, through: 1, by: -1) { pidleput(s, s.pointee.allp[i]) }
        s.pointee.lock.unlock()
        sysmonConfigure(s)
        preemptConfigure(s)
        netpollConfigure(s)
        newsysmon(s, creatorP: p0) // M 1 (Sysmon.swift)
        newm(s, p0, spinning: false, cause: .startup, creatorP: p0)

        s.pointee.done.sleep()
        s.pointee.sysmonNote.wakeup() // sysmon sees `exiting` and leaves

        // Let the Ms leave (they do at their next pass through the scheduler). An M stuck in
        // an abandoned goroutine is not waited for beyond a short grace period.
        let graceEnd = spool_nanotime() + 100_000_000
        while s.pointee.mrunning.load(ordering: .acquiring) > 0 && spool_nanotime() < graceEnd {
            s.pointee.mexited.clear()
            if s.pointee.mrunning.load(ordering: .acquiring) == 0 { break }
            _ = s.pointee.mexited.sleep(timeoutNs: 5_000_000)
        }
        drainPCaches(s)
        if let session = currentTraceSession(), session.gen == s.pointee.gen {
            session.finish(endTicks: traceNow(),
                           allMsExited: s.pointee.mrunning.load(ordering: .acquiring) == 0)
        }
        currentSched = nil
        if let e = outcome.error { throw e }
    }

    /// Puts the current goroutine at the back of the global run queue and runs others
    /// (Go's `runtime.Gosched`). Context: on a goroutine.
    public static func yield() {
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        _ = currentG("Runtime.yield")
        gosched()
    }

    /// Parks the current goroutine for at least `duration`. Context: on a goroutine.
    public static func sleep(for duration: Duration) {
        let (secs, atto) = duration.components
        let (whole, overflow) = secs.multipliedReportingOverflow(by: 1_000_000_000)
        let ns = overflow || secs > Int64.max / 4_000_000_000 ? Int64.max / 4 : whole &+ atto / 1_000_000_000
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        timeSleep(ns)
    }

    /// Live goroutines in the current run (0 outside a run).
    public static var goroutineCount: Int {
        guard let s = activeSched else { return 0 }
        return s.pointee.gcount.load(ordering: .relaxed)
    }

    /// Live M threads of the current run (0 outside a run).
    public static var threadCount: Int {
        guard let s = activeSched else { return 0 }
        return s.pointee.mcount.load(ordering: .relaxed)
    }

    /// Number of Ps: of the current run, or what the next run will use by default.
    public static var maxProcs: Int {
        if let s = activeSched { return s.pointee.procs }
        return max(1, min(defaultMaxProcs(), 1024))
    }

    /// Whether a `Runtime.run` is in progress.
    public static var isRunning: Bool { runActive.load(ordering: .acquiring) }

    /// The id of the current goroutine (1 is the main goroutine), or nil outside one.
    public static var currentGoroutineID: Int? {
        // A runtime region: a preemption between reading the M and its curg could resume the
        // G on another M, and curg would name whichever G the old M runs by then.
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        return getg().map { Int($0.pointee.goid) }
    }

    /// The id of the M (thread) running the current goroutine, or nil outside one. It can
    /// change after any blocking call or `yield()`: that is goroutine migration.
    public static var currentThreadID: Int? {
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        guard let mp = getm(), mp.pointee.curg != nil else { return nil }
        return Int(mp.pointee.id)
    }

    /// The id of the P the current goroutine runs on, or nil outside one.
    public static var currentProcessorID: Int? {
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        guard let mp = getm(), mp.pointee.curg != nil, let pp = mp.pointee.p else { return nil }
        return Int(pp.pointee.id)
    }

    /// Starts recording an execution trace into `path` (schema/trace-format.md).
    ///
    /// Outside a run, every following `Runtime.run` is traced into `path` (rewritten by each
    /// run) until `stopTrace()`. Inside a run (on a goroutine), recording starts now: goroutines
    /// that already exist are described by a `GoStatus` event before their first event, Ps
    /// already running get a `ProcStart`, and live threads a `ThreadCreate`. The file is
    /// finalized by `stopTrace()` or when the run returns. Throws if a trace is already being
    /// recorded or the file cannot be created.
    public static func startTrace(path: String) throws {
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        guard let mp = getm(), mp.pointee.curg != nil else {
            if isRunning {
                throw RuntimeError.trace("startTrace(path:) during a run must be called on a goroutine")
            }
            armedTracePath = path
            return
        }
        if currentTraceSession() != nil { throw RuntimeError.trace("a trace is already being recorded") }
        let s = mp.pointee.sched
        let sess = try TraceSession(path: path, sched: s)
        sess.begin(procs: s.pointee.procs)
        // Threads that already exist (ThreadCreate may go in any P batch).
        s.pointee.lock.lock()
        var ms: [(Int64, ThreadCause)] = []
        var m = s.pointee.allm
        while let mm = m {
            if !mm.pointee.exited { ms.append((mm.pointee.id, mm.pointee.cause)) }
            m = mm.pointee.alllink
        }
        s.pointee.lock.unlock()
        // Re-read the M: nothing above can switch, but keep to the rule.
        let pp = getm()!.pointee.p!
        for (id, cause) in ms.reversed() {
            traceEv(pp.pointee.trace, .threadCreate, UInt64(id), UInt64(cause.rawValue))
        }
    }

    /// Stops recording. Inside a run, the file is finalized before this returns (waiting until
    /// every busy P has passed through the scheduler, at most about a second); outside a run,
    /// later runs are no longer traced (`SPOOL_TRACE` still applies to them).
    public static func stopTrace() {
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        armedTracePath = nil
        if let sess = currentTraceSession() { sess.stopInRun() }
    }
}

/// Starts a goroutine running `body`. It is created runnable on the current P, in the
/// `runnext` slot, so it usually runs soon after the caller blocks or yields; idle Ps steal it
/// otherwise. Context: on a goroutine (inside `Runtime.run`).
public func go(_ body: @escaping () -> Void) {
    newproc(body, stackSize: nil)
}

/// Starts a goroutine with a stack of `stackSize` usable bytes (rounded up to pages, at least
/// 16 KiB) instead of the default.
public func go(stackSize: Int, _ body: @escaping () -> Void) {
    newproc(body, stackSize: stackSize)
}

// MARK: - Instances

let runActive = Atomic<Bool>(false)
let genCounter = Atomic<UInt64>(0)
nonisolated(unsafe) var currentSched: SchedPtr? = nil
nonisolated(unsafe) var armedTracePath: String? = nil

/// The instance of the calling goroutine's M, else the one in progress.
var activeSched: SchedPtr? {
    if let mp = getm() { return mp.pointee.sched }
    return runActive.load(ordering: .acquiring) ? currentSched : nil
}

func defaultMaxProcs() -> Int {
    if let n = envInt("SPOOL_MAXPROCS"), n > 0 { return n }
    return Int(spool_ncpu())
}

func envString(_ name: String) -> String? {
    guard let v = getenv(name) else { return nil }
    return String(cString: v)
}

func envInt(_ name: String) -> Int? {
    envString(name).flatMap { Int($0.trimmingCharacters(in: " ")) }
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        String(self.drop(while: { $0 == set }).reversed().drop(while: { $0 == set }).reversed())
    }
}

extension P {
    init(id: Int32, capacity: Int, gen: UInt64) {
        self.id = id
        runq = UnsafeMutablePointer<Atomic<UInt>>.allocate(capacity: capacity)
        for i in 0..<capacity { (runq + i).initialize(to: Atomic<UInt>(0)) }
        runqMask = UInt32(capacity - 1)
        trace = UnsafeMutablePointer<TraceOwner>.allocate(capacity: 1)
        trace.initialize(to: TraceOwner(owner: .p(UInt32(id)), gen: gen))
    }
}

extension Sched {
    init(gen: UInt64, procs: Int, allp: UnsafeMutablePointer<PPtr>, stackSize: Int) {
        self.gen = gen
        self.procs = procs
        self.allp = allp
        self.stackSize = stackSize
    }
}

/// Returns the per-P G and stack caches of the instance's idle Ps to the global pools (a P
/// still held by a thread stuck in an abandoned goroutine keeps its caches). Context: the
/// thread in `Runtime.run`, after the instance ended.
func drainPCaches(_ s: SchedPtr) {
    s.pointee.lock.lock()
    var p = s.pointee.pidle
    while let pp = p {
        while let st = pp.pointee.stackFree {
            pp.pointee.stackFree = st.pointee.next
            st.pointee.next = nil
            spool_stack_free(st)
        }
        pp.pointee.stackFreeCount = 0
        while let g = pp.pointee.gfree {
            pp.pointee.gfree = g.pointee.schedlink
            GFreeList.lock.lock()
            g.pointee.schedlink = GFreeList.head
            GFreeList.head = g
            GFreeList.count += 1
            GFreeList.lock.unlock()
        }
        pp.pointee.gfreeCount = 0
        p = pp.pointee.link
    }
    s.pointee.lock.unlock()
}

/// Builds an instance: sched and its Ps (all idle, not on the idle list). No thread is started.
/// Also used directly by run-queue tests. Context: any thread.
func makeSched(procs: Int, runqCapacity: Int, stackSize: Int = 256 << 10) -> SchedPtr {
    let gen = genCounter.wrappingAdd(1, ordering: .relaxed).newValue
    let allp = UnsafeMutablePointer<PPtr>.allocate(capacity: procs)
    for i in 0..<procs {
        let pp = PPtr.allocate(capacity: 1)
        pp.initialize(to: P(id: Int32(i), capacity: runqCapacity, gen: gen))
        allp[i] = pp
    }
    let s = SchedPtr.allocate(capacity: 1)
    s.initialize(to: Sched(gen: gen, procs: procs, allp: allp, stackSize: roundStack(stackSize)))
    return s
}
