// The runtime's data structures: G, M, P and sched (Go's runtime2.go).
//
// A G is a goroutine: a C context (`spool_gctx`: saved sp, exclusivity set, errno, stack) and
// the scheduler's bookkeeping. An M is an OS thread with its own scheduler stack (g0: the
// pthread's stack). A P is a logical processor: an M must hold one to run goroutines; it owns
// a local run queue and a trace buffer. `Sched` is one runtime instance (one `Runtime.run`):
// the global run queue, the idle P and M lists, the spinning count, timers.
//
// Everything lives in manually allocated memory addressed through typed pointers (`GPtr`,
// `MPtr`, `PPtr`, `SchedPtr`): never in Swift class properties, because a class property passed
// `inout` across a switch leaves a dynamic exclusivity access open on the old thread
// (runtime-feasibility Q5). Structures are never freed while any thread might still touch them:
// G structs are recycled through the free list; a finished runtime's sched, Ps and Ms are
// leaked when an abandoned goroutine still occupies one of its threads ("Abandoned, not freed").
//
// Ownership rules (who may write what) are stated on each field. "owner" of a P means the M
// whose `p` it is; "sched.lock" means the field is guarded by `Sched.lock`.

import CSpool
import Synchronization
import SpoolTraceFormat

typealias GPtr = UnsafeMutablePointer<G>
typealias MPtr = UnsafeMutablePointer<M>
typealias PPtr = UnsafeMutablePointer<P>
typealias SchedPtr = UnsafeMutablePointer<Sched>

/// G status, as Go's `_Gidle` … `_Gdead`. Ownership: the status is written only by the M that
/// runs the G, or by the waker holding the lock the G parked under ("Unlock on g0").
enum GStatus: UInt8 {
    case idle, runnable, running, waiting, dead
}

/// A goroutine.
struct G {
    /// C context: saved registers' sp, exclusivity set, errno, stack. Allocated once per G
    /// struct and reused with it.
    let ctx: UnsafeMutablePointer<spool_gctx>
    /// Goroutine id, from 1 in each runtime instance. 0 while free.
    var goid: UInt64 = 0
    var status: GStatus = .idle
    /// Link in the global run queue, the free list, or a sync primitive's waiter list.
    /// Invariant "One queue at a time": a G is in at most one of them, so one link suffices.
    var schedlink: GPtr? = nil
    /// The M running this G (nil unless running).
    var m: MPtr? = nil
    /// The body, held (retained) until it starts running; nil afterwards.
    var fn: (() -> Void)? = nil
    /// Requested usable stack bytes; the stack itself is taken at first execute.
    var stackSize: Int = 0
    /// Trace sequence number (schema/trace-format.md, "Ordering").
    var traceSeq: UInt64 = 0
    /// Set by a waker: the sudog that completed (channels, select).
    var param: UnsafeMutableRawPointer? = nil
    /// The runtime instance the G belongs to: a waker from a later instance ignores it.
    var gen: UInt64 = 0
    var isMain: Bool = false
    /// The trace session this G was last described in (GoCreate or GoStatus): a G first met in
    /// a session started mid-run gets a GoStatus before its first event (Go's tracer does the
    /// same per generation). Written by whoever performs the G's transition.
    var traceSession: UInt64 = 0
    /// A reusable block for the sudog and value slot of a blocking channel operation (a G
    /// blocks on one operation at a time), so parking on a channel does not allocate.
    /// Owned by the G itself; nil while in use.
    var sudogCache: UnsafeMutableRawPointer? = nil
    var sudogCacheBytes: Int = 0
}

/// What a G asked its M's g0 to do after switching away (Go's `mcall(fn)` argument).
enum GoAction: UInt8 {
    case none, park, gosched, exit
    /// Back from a syscall with no P to run on: g0 queues the G and parks the M
    /// (`exitsyscall0`, Syscall.swift).
    case exitsyscall
}

/// A thread.
struct M {
    /// M id, from 1 in each runtime instance.
    let id: Int64
    let sched: SchedPtr
    /// g0: this thread's own stack, which runs `schedule`.
    let g0: UnsafeMutablePointer<spool_gctx>
    /// The G running on this M (nil on g0). Written by this M only.
    var curg: GPtr? = nil
    /// The attached P, or nil. Written by this M only (acquirep/releasep).
    var p: PPtr? = nil
    /// A P handed over by `startm`, taken by this M when it wakes.
    var nextp: PPtr? = nil
    /// Whether this M is spinning (looking for work; counted in `sched.nmspinning`).
    var spinning: Bool = false
    /// Parked idle Ms sleep here.
    let park: Note
    /// Link in `sched.midle`. sched.lock.
    var schedlink: MPtr? = nil
    /// Set while parked in `sched.midle`. sched.lock.
    var idle: Bool = false
    /// The action the current G requested when it switched to g0, and its argument.
    var action: GoAction = .none
    var unlockf: (@convention(c) (UnsafeMutableRawPointer?) -> Void)? = nil
    var unlockArg: UnsafeMutableRawPointer? = nil
    /// Per-M fast random state (stealing order).
    var rand: UInt64
    /// Thread cause for the trace.
    var cause: ThreadCause
    /// The M's own trace buffer, for events with no P.
    let trace: UnsafeMutablePointer<TraceOwner>
    /// The words this M's SIGURG handler shares with sysmon (tid, signal pending):
    /// Preempt.swift, CSpool/preempt.c. Allocated with the M, never freed.
    let mctx: UnsafeMutablePointer<spool_mctx>
    /// Whether this M's ThreadCreate was written by its creator (in the creator's P batch).
    var traceCreated = false
    /// Link in `sched.allm` (every M of the instance, never removed), and whether the M has
    /// exited. sched.lock.
    var alllink: MPtr? = nil
    var exited = false
    /// The P this M held when its G entered a syscall (Go's `m.oldp`), which `exitsyscall`
    /// tries to take back. Written by this M only.
    var oldp: PPtr? = nil
    /// `oldp`'s syscall count at `entersyscall` (Go's `m.syscalltick`). Written by this M only.
    var syscalltick: UInt64 = 0
    /// When this M last parked in `sched.midle` (spool_nanotime), and whether sysmon chose it
    /// for reclamation (it leaves at its next wakeup: Sysmon.swift, "Idle threads exit").
    /// sched.lock.
    var idleSince: Int64 = 0
    var reclaim = false
}

/// P status (Go's `_Pidle`, `_Prunning`, `_Psyscall`). `handoff` is Spool's: sysmon owns the
/// P between winning it from a syscall and handing it on (Syscall.swift, "One CAS decides").
enum PStatus: UInt8 {
    case idle, running, syscall, handoff
}

/// A logical processor.
struct P: ~Copyable {
    let id: Int32
    /// The status word: the `PStatus` in the low 8 bits, the P's syscall count (Go's
    /// `syscalltick`, bumped by every `entersyscall`) above. Atomic because sysmon reads it
    /// without owning the P, and the `syscall` → `running`/`handoff` transitions are CASes
    /// between the M back from the syscall and sysmon (invariant "One CAS decides",
    /// Syscall.swift); the count in the word makes the CAS name one particular syscall.
    let statusWord = Atomic<UInt64>(UInt64(PStatus.idle.rawValue))
    /// Plain accessors for the owner (the setter keeps the count; only the owner sets, and
    /// never while the P is in `syscall`, the only state others CAS from). acquiring/releasing:
    /// ownership of the P (its caches and trace buffer) passes with these stores; partner:
    /// the CASes in Syscall.swift.
    var status: PStatus {
        get { PStatus(rawValue: UInt8(truncatingIfNeeded: statusWord.load(ordering: .acquiring)))! }
        nonmutating set {
            let w = statusWord.load(ordering: .relaxed)
            statusWord.store((w & ~0xff) | UInt64(newValue.rawValue), ordering: .releasing)
        }
    }
    /// The M holding this P. Written by that M (acquirep/releasep).
    var m: MPtr? = nil
    /// Link in `sched.pidle`. sched.lock.
    var link: PPtr? = nil
    /// Bumped at every non-inheriting `execute` (Go's schedtick); the global queue is checked
    /// first every 61st tick.
    var schedtick: UInt32 = 0
    /// Consecutive Gs run from `runnext` inheriting the time slice (owner only). See
    /// "Bounded inheritance" in Proc.swift.
    var inheritStreak: UInt32 = 0
    /// The G this P last stopped for a preemption, until the P runs its next G (owner only):
    /// the 61st-tick fairness pick skips it (Proc.swift, `findRunnable`).
    var justPreempted: GPtr? = nil

    /// Per-P caches, touched only by the owner (no lock), as Go's `p.gFree` and stack cache:
    /// dead G structs, and default-size stacks of Gs that just ended (resident, linked through
    /// `spool_stack.next`). Drained to the global pools when the instance ends.
    var gfree: GPtr? = nil
    var gfreeCount: Int = 0
    var stackFree: UnsafeMutablePointer<spool_stack>? = nil
    var stackFreeCount: Int = 0

    // The local run queue (runq.swift). Invariant "Owner writes the tail": only the owner
    // stores `runqtail` and the slots between tail and head+capacity; stealers only CAS `runqhead`.
    let runqhead = Atomic<UInt32>(0)
    let runqtail = Atomic<UInt32>(0)
    let runq: UnsafeMutablePointer<Atomic<UInt>>
    let runqMask: UInt32
    /// A G to run next, inheriting the time slice (Go's `runnext`). Owner sets it; stealers CAS it.
    let runnext = Atomic<UInt>(0)

    /// Trace buffer state for this P. Written only by the owner (invariant "Owner writes the
    /// buffer"), or by the flusher holding sched.lock while the P is idle.
    let trace: UnsafeMutablePointer<TraceOwner>

    var runqCapacity: UInt32 { runqMask + 1 }
}

/// A timer: a sleeping G and when it wakes.
struct Timer {
    var when: Int64
    var g: GPtr
}

/// One runtime instance: created by `Runtime.run`, abandoned when it returns.
struct Sched: ~Copyable {
    /// Distinguishes instances; a G from another instance is never readied.
    let gen: UInt64
    let lock = RuntimeLock()
    let procs: Int
    let allp: UnsafeMutablePointer<PPtr>

    /// Idle Ps (sched.lock) and their count (written under sched.lock, read lock-free).
    var pidle: PPtr? = nil
    let npidle = Atomic<Int>(0)
    /// Idle Ms (sched.lock).
    var midle: MPtr? = nil
    /// Every M ever started by this instance (sched.lock; for ThreadCreate at trace start).
    var allm: MPtr? = nil
    /// The M, if any, parked with a timeout for the earliest timer (sched.lock).
    var timerWaiter: MPtr? = nil
    /// Spinning Ms. Partner: `wakep` CASes 0→1; `resetspinning`/`findRunnable` decrement.
    let nmspinning = Atomic<Int>(0)

    /// The global run queue (sched.lock), and its size (written under the lock, read lock-free).
    var runqhead: GPtr? = nil
    var runqtail: GPtr? = nil
    let runqsize = Atomic<Int>(0)

    let goidgen = Atomic<UInt64>(0)
    var mnext: Int64 = 0
    /// Live Ms and Gs (for `Runtime.threadCount`, `Runtime.goroutineCount`).
    let mcount = Atomic<Int>(0)
    let gcount = Atomic<Int>(0)
    /// Ms that hold a P or are running; the finalizer waits for this to reach 0.
    let mrunning = Atomic<Int>(0)

    /// Set when the main goroutine has returned: every M leaves at its next schedule.
    let exiting = Atomic<Bool>(false)
    /// The thread in `Runtime.run` sleeps here until the main goroutine returns.
    let done = Note()
    /// Woken whenever an M exits (the finalizer waits on it).
    let mexited = Note()

    /// Timers (timers lock), and the earliest `when` (0: none), read lock-free by findRunnable.
    let timersLock = RuntimeLock()
    var timers: [Timer] = []
    let timer0When = Atomic<Int64>(0)

    /// Default stack size for new Gs, bytes.
    let stackSize: Int

    /// sysmon (Sysmon.swift): its M (nil until started; set once), the note it sleeps on
    /// between ticks (woken when the run ends), the thread cap (`SPOOL_MAXTHREADS`), how long
    /// an idle M may stay parked before it exits (`SPOOL_THREAD_IDLE_MS`), and the number of
    /// Ms kept however long they idle. Set by `Runtime.run` before any M starts.
    var sysmonM: MPtr? = nil
    let sysmonNote = Note()
    /// sysmon sleeps until a P leaves the idle list (Sysmon.swift, "Deep sleep"): set by
    /// sysmon before it sleeps, taken by `pidleget`, which then wakes it.
    let sysmonWait = Atomic<Bool>(false)
    /// When sysmon last went into its deep sleep, and whether `pidleget` wakes it at once
    /// (more than one CPU) or only after a millisecond of it (Sysmon.swift, "One CPU").
    let sysmonSleptAt = Atomic<Int64>(0)
    var sysmonKeepWarm = true
    /// sysmon sleeps longer than its 20 µs tick (Sysmon.swift, "Relaxed ticks"): set by sysmon,
    /// taken by `entersyscall`, which then wakes it so a syscall is retaken after a short tick.
    let sysmonRelaxed = Atomic<Bool>(false)
    /// sysmon's passes through its loop (for tests: a sysmon that stopped sleeping shows here).
    let sysmonCycles = Atomic<Int>(0)
    /// Whether sysmon runs as a SCHED_BATCH thread while it only watches short goroutines of a
    /// network-bound program (Sysmon.swift, "Batch while watching short work";
    /// `SPOOL_SYSMONBATCH=0` turns it off).
    var sysmonBatch = true
    /// Whether a handoff that needs a new thread waits longer the more Ms are blocked in calls
    /// (Sysmon.swift, "Paced thread growth"; `SPOOL_PACEDTHREADS=0` turns it off), and after
    /// how many blocked Ms per P each further tick of waiting is added.
    var pacedThreads = true
    var blockedPerPBeforePacing = defaultBlockedPerPBeforePacing
    /// sysmon's thread id, once it runs (for tests).
    let sysmonTid = Atomic<Int32>(0)
    var maxThreads: Int = defaultMaxThreads
    var threadIdleNs: Int64 = defaultThreadIdleNs
    var threadFloor: Int = 0

    /// Preemption (Preempt.swift): the quantum (`SPOOL_QUANTUM_MS`) and whether sysmon sends
    /// signals (`SPOOL_ASYNCPREEMPT`). Set by `Runtime.run` before any M starts.
    var quantumNs: Int64 = defaultQuantumNs
    var asyncPreempt = true

    /// Whether an M about to block in netpoll first yields its thread once and polls again
    /// (Netpoll.swift, "Yield before blocking"; `SPOOL_POLLYIELD=0` turns it off). Set by
    /// `Runtime.run` before any M starts.
    var pollYield = true
}

/// The global G free list (all runtime instances share it; G structs are never freed).
/// Invariant "Dead Gs only": only `.dead` Gs of a finished body are on it; abandoned Gs never are.
struct GFreeList {
    static let lock = RuntimeLock()
    nonisolated(unsafe) static var head: GPtr? = nil
    nonisolated(unsafe) static var count = 0
}

// MARK: - Accessors

/// The current M, or nil on a thread that is not an M. Reads TLS through a noinline C call, so
/// it is re-read after every switch (a G may have migrated).
@inline(__always)
func getm() -> MPtr? {
    // SAFETY: the TLS slot only ever holds an `MPtr` set by `mstart` for this thread.
    spool_getm()?.assumingMemoryBound(to: M.self)
}

/// The current G, or nil on g0 or a non-M thread.
@inline(__always)
func getg() -> GPtr? { getm()?.pointee.curg }

/// Fatal error (Go's `throw`/fatal `panic`): prints "fatal error: msg" and exits with status 2,
/// as Go does. With `SPOOL_TRACEBACK=crash` it aborts instead, so Swift's backtracer (or a
/// core dump) shows where.
func fatal(_ msg: String) -> Never {
    var s = "fatal error: \(msg)\n"
    s.withUTF8 { buf in _ = write(2, buf.baseAddress, buf.count) }
    if let v = getenv("SPOOL_TRACEBACK"), String(cString: v) == "crash" { abort() }
    _exit(2)
}

#if canImport(Glibc)
import Glibc
#endif
