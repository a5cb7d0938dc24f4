// The scheduler: creating goroutines, running them on Ms that hold Ps, finding work, parking
// and waking threads (Go's proc.go).
//
// Shape. Each M is a dedicated pthread whose own stack is g0. g0 runs `schedule`: find a
// runnable G (`findRunnable`), switch to it (`execute`), and when the G switches back, finish
// what the G asked for (park it, requeue it, or free it: Go's `mcall` continuations `park_m`,
// `gosched_m`, `goexit0`). A G never switches directly to another G; every switch goes through
// g0, so g0's stack is the only place scheduler state lives across a switch.
//
// findRunnable, in Go's order: runnext → local queue (the global queue first every 61st
// schedtick, for fairness) → global queue → a non-blocking network poll → steal half of a
// random victim's queue (4 passes, the last also taking runnext) → release the P and park the
// M. Timers are checked first. (Polling the network a few more times before parking, yielding
// the CPU between polls, was tried: +6% on echo at 16 connections, but a yield next to a
// CPU-bound thread costs a whole time slice; see BENCHMARKS.md.)
//
// Spinning (Go's policy). An M looking for work without having found any is "spinning"; the
// number of spinning Ms is bounded: an M may start spinning only if
// 2 × nmspinning < busy Ps (procs − npidle), and `wakep` starts a new spinning M only when
// none spins. Invariant "Delicate dance" (Go's name, same rule): a spinning M that gives up
// first decrements `nmspinning`, then re-checks every P's run queue; a producer first
// enqueues, then checks `nmspinning` in `wakep`. One of the two always sees the other, so a
// runnable G is never left with an idle P and no M looking.
//
// Threads. Idle Ms park on a futex note in `sched.midle` and are reused by `startm`; sysmon
// tells those idle longer than `SPOOL_THREAD_IDLE_MS` to exit, down to maxProcs + 4
// (Sysmon.swift, "Idle threads exit"), and `newm` refuses to pass `SPOOL_MAXTHREADS`. At most
// one parked M waits with a timeout for the earliest timer (`sched.timerWaiter`); the others
// sleep without one. A G in a blocking call keeps its M; its P is handed to another M by
// sysmon (Syscall.swift).
//
// Ending. When the main goroutine returns, `sched.exiting` is set; every M leaves at its next
// pass through the scheduler, so queued and blocked Gs are abandoned, never run again (as Go
// abandons them at exit). A G that never returns to the scheduler (a spinning loop) keeps its
// thread forever; nothing waits for it, and the instance's memory is leaked rather than freed
// under it (invariant "Abandoned, not freed").
//
// Rejected: one pthread per goroutine (no M:N), ucontext (a syscall per switch), running the
// scheduler on the caller's thread (`Runtime.run` is often called on a Swift Concurrency
// thread, whose task-locals would leak into goroutines; runtime-feasibility Q5).
//
// Preemption (Preempt.swift): sysmon asks a G that has held its P for the quantum to stop;
// it does at its next runtime call (`runtimeEnter`) or at a signal (CSpool/preempt.c), and
// `execute`'s `.gosched` action puts it on the global queue. Every public entry into the
// runtime raises the G's no-preempt count first (invariant "Runtime code is not preemptible").
//
// Execution context is stated on every function: "on a G" (goroutine stack, M holds a P),
// "g0" (the M's own stack), "no P", "sched.lock held".

import CSpool
import Synchronization
import SpoolTraceFormat
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Creating and ending goroutines

/// Round a stack size to whole pages, at least 16 KiB.
@inline(__always)
func roundStack(_ n: Int) -> Int { (max(n, 16 << 10) + 4095) & ~4095 }

/// Per-P cache limits (Go keeps up to 64 dead Gs per P).
let pGFreeMax = 64
let pStackFreeMax = 32

/// Takes a G struct from `pp`'s cache, the global free list, or a new allocation, and prepares
/// it to run `fn`. Mirrors Go's `gfget`. Context: the owner of `pp` (or any thread, with nil).
func newG(_ s: SchedPtr, _ fn: @escaping () -> Void, stackSize: Int, pp: PPtr? = nil) -> GPtr {
    var gp: GPtr? = nil
    if let pp, let g = pp.pointee.gfree {
        pp.pointee.gfree = g.pointee.schedlink
        pp.pointee.gfreeCount -= 1
        gp = g
    } else {
        GFreeList.lock.lock()
        gp = GFreeList.head
        if let g = gp {
            GFreeList.head = g.pointee.schedlink
            GFreeList.count -= 1
        }
        GFreeList.lock.unlock()
    }
    if gp == nil {
        let ctx = UnsafeMutablePointer<spool_gctx>.allocate(capacity: 1)
        ctx.initialize(to: spool_gctx())
        let g = GPtr.allocate(capacity: 1)
        g.initialize(to: G(ctx: ctx))
        gp = g
    }
    let g = gp!
    // relaxed: ids only need to be unique.
    g.pointee.goid = s.pointee.goidgen.wrappingAdd(1, ordering: .relaxed).newValue
    g.pointee.status = .runnable
    g.pointee.schedlink = nil
    g.pointee.m = nil
    g.pointee.fn = fn
    g.pointee.stackSize = roundStack(stackSize)
    g.pointee.traceSeq = 0
    g.pointee.param = nil
    g.pointee.gen = s.pointee.gen
    g.pointee.isMain = false
    g.pointee.ctx.pointee.goid = g.pointee.goid
    g.pointee.ctx.pointee.sp = nil // "fresh": execute builds the entry frame
    s.pointee.gcount.wrappingAdd(1, ordering: .relaxed)
    return g
}

/// Creates a goroutine running `fn` and makes it runnable in `runnext` of the current P.
/// Mirrors Go's `newproc`. Context: on a G.
func newproc(_ fn: @escaping () -> Void, stackSize: Int?) {
    let rt = runtimeEnter()
    defer { runtimeExit(rt) }
    guard let mp = getm(), let parent = mp.pointee.curg else {
        fatal("go { } called outside a goroutine (call it inside Runtime.run)")
    }
    let s = mp.pointee.sched
    let pp = currentP(mp)
    let gp = newG(s, fn, stackSize: stackSize ?? s.pointee.stackSize, pp: pp)
    gp.pointee.traceSession = traceSessionID.load(ordering: .relaxed)
    traceEv(pp.pointee.trace, .goCreate, gp.pointee.goid, parent.pointee.goid)
    runqput(s, pp, gp, next: true)
    wakep(s)
}

/// The first Swift frame of every goroutine, called by `spool_gentry` on the G's stack.
let goroutineEntry: @convention(c) (UnsafeMutableRawPointer?) -> Void = { arg in
    // SAFETY: `arg` is the GPtr that `execute` passed to spool_ctx_init for this very stack.
    let gp = arg!.assumingMemoryBound(to: G.self)
    runBody(gp)
    goexit1()
}

/// Runs and releases the body. Separate and never inlined so that every Swift value the body
/// retained is released before `goexit1` leaves this stack for good.
@inline(never)
func runBody(_ gp: GPtr) {
    let body = gp.pointee.fn!
    gp.pointee.fn = nil
    body()
}

/// Ends the current goroutine. Mirrors Go's `goexit1`. Context: on a G; never returns.
func goexit1() -> Never {
    // Runtime code from here on, never left: the G ends on g0 (spool_ctx_init resets the
    // count when the G struct is reused).
    if let ctx = spool_getctx() { spool_nopreempt_inc(ctx) }
    let mp = getm()!
    traceGoStatus(mp.pointee.p!, mp.pointee.curg!, .running)
    traceEv(mp.pointee.p!.pointee.trace, .goEnd)
    mcall(mp, .exit)
    fatal("goexit: a dead goroutine was resumed")
}

/// Frees a finished G: its stack goes to the P's stack cache or the stack pools, the G struct
/// to the P's cache or the global free list. Mirrors Go's `gfput`.
/// Mirrors Go's `goexit0`/`gfput`. Context: g0 of the M that ran it.
func gdestroy(_ s: SchedPtr, _ gp: GPtr) {
    assert(getm()?.pointee.curg == nil, "gdestroy: not on g0")
    let wasMain = gp.pointee.isMain
    gp.pointee.status = .dead
    gp.pointee.isMain = false
    gp.pointee.goid = 0
    s.pointee.gcount.wrappingSubtract(1, ordering: .relaxed)
    // Invariant "Stacks only while started": a dead or queued-but-never-run G holds no stack,
    // so a spawning burst costs no memory until the Gs run. The stack goes back to the pools
    // (warm first) before the G is published on the free list, where another M may take it.
    let pp = getm()?.pointee.p
    if let st = gp.pointee.ctx.pointee.stack {
        gp.pointee.ctx.pointee.stack = nil
        if let pp, st.pointee.size == s.pointee.stackSize, pp.pointee.stackFreeCount < pStackFreeMax {
            st.pointee.next = pp.pointee.stackFree
            pp.pointee.stackFree = st
            pp.pointee.stackFreeCount += 1
        } else {
            spool_stack_free(st)
        }
    }
    if let pp, pp.pointee.gfreeCount < pGFreeMax {
        gp.pointee.schedlink = pp.pointee.gfree
        pp.pointee.gfree = gp
        pp.pointee.gfreeCount += 1
    } else {
        GFreeList.lock.lock()
        gp.pointee.schedlink = GFreeList.head
        GFreeList.head = gp
        GFreeList.count += 1
        GFreeList.lock.unlock()
    }
    if wasMain { mainDone(s) }
}

/// The main goroutine returned: make every M leave and wake `Runtime.run`. Context: g0.
func mainDone(_ s: SchedPtr) {
    // releasing: pairs with the acquiring loads in findRunnable/stopm.
    s.pointee.exiting.store(true, ordering: .releasing)
    s.pointee.lock.lock()
    while let m = s.pointee.midle {
        s.pointee.midle = m.pointee.schedlink
        m.pointee.idle = false
        m.pointee.nextp = nil
        m.pointee.park.wakeup()
    }
    s.pointee.timerWaiter = nil
    s.pointee.lock.unlock()
    netpollExitBreak() // an M blocked in netpoll must come back to leave
    s.pointee.done.wakeup()
}

// MARK: - Switching

/// Switches from the current G to g0, asking g0 to perform `action` (Go's `mcall`).
/// Context: on a G. Returns (for park/gosched) when the G is resumed, possibly on another M:
/// the caller must not use `mp` afterwards.
@inline(never)
func mcall(_ mp: MPtr, _ action: GoAction) {
    assert(getm() == mp && mp.pointee.curg != nil, "mcall: not on a G")
    let gp = mp.pointee.curg!
    mp.pointee.action = action
    spool_gogo(gp.pointee.ctx, mp.pointee.g0)
}

/// Parks the current G: it becomes waiting, and `unlockf(arg)` runs on g0 once its registers
/// are saved (invariant "Unlock on g0"). Mirrors Go's `gopark`. Context: on a G; typically
/// with the lock that `unlockf` releases held.
func gopark(_ reason: BlockReason,
            _ unlockf: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?,
            _ arg: UnsafeMutableRawPointer?) {
    let mp = getm()!
    assert(mp.pointee.curg != nil, "gopark on g0")
    let pp = currentP(mp)
    traceGoStatus(pp, mp.pointee.curg!, .running)
    traceEv(pp.pointee.trace, .goBlock, UInt64(reason.rawValue))
    mp.pointee.unlockf = unlockf
    mp.pointee.unlockArg = arg
    mcall(mp, .park)
}

/// Releases the RuntimeLock whose word is `arg`: the usual `gopark` unlock function.
let parkUnlockLock: @convention(c) (UnsafeMutableRawPointer?) -> Void = { arg in
    // SAFETY: arg is the `word` of a live RuntimeLock (the parking G holds it).
    let word = arg!.assumingMemoryBound(to: Atomic<UInt32>.self)
    RuntimeLock(word: word).unlock()
}

extension RuntimeLock {
    init(word: Word) { self.word = word }
    var raw: UnsafeMutableRawPointer { UnsafeMutableRawPointer(word) }
}

/// Makes the waiting `gp` runnable on the current P, in `runnext`. Mirrors Go's `ready`.
/// Context: an M holding a P (on a G, or g0 for timers). Gs of an earlier runtime instance
/// (abandoned) are ignored.
func ready(_ s: SchedPtr, _ pp: PPtr, _ gp: GPtr, timer: Bool = false, next: Bool = true) {
    if gp.pointee.gen != s.pointee.gen { return }
    markReady(pp, gp, timer ? .timer : .unblock)
    runqput(s, pp, gp, next: next)
    wakep(s)
}

/// Why a waiting G becomes runnable; it picks the trace event (schema/trace-format.md).
enum ReadyCause {
    /// By the goroutine running on the P: GoUnblock.
    case unblock
    /// By a timer or a deadline: GoWake(timer).
    case timer
    /// By the runtime otherwise: GoWake(runtime).
    case runtime
    /// By the netpoller, its fd ready: NetpollReady.
    case netpoll
}

/// Marks the waiting `gp` runnable and records why in `pp`'s batch, with the G's next trace
/// seq; queueing it is the caller's job. Shared by `ready` and the netpoller
/// (`netpollgoready`). Context: an M holding `pp`.
@inline(__always)
func markReady(_ pp: PPtr, _ gp: GPtr, _ cause: ReadyCause) {
    precondition(gp.pointee.status == .waiting, "ready: goroutine \(gp.pointee.goid) is not waiting")
    traceGoStatus(pp, gp, .blocked)
    gp.pointee.status = .runnable
    gp.pointee.traceSeq &+= 1
    let seq = gp.pointee.traceSeq & 127
    switch cause {
    case .unblock: traceEv(pp.pointee.trace, .goUnblock, gp.pointee.goid, seq)
    case .timer: traceEv(pp.pointee.trace, .goWake, gp.pointee.goid, seq, UInt64(WakeSource.timer.rawValue))
    case .runtime: traceEv(pp.pointee.trace, .goWake, gp.pointee.goid, seq, UInt64(WakeSource.runtime.rawValue))
    case .netpoll: traceEv(pp.pointee.trace, .netpollReady, gp.pointee.goid, seq)
    }
}

/// `ready` from a goroutine: the usual way sync primitives wake a waiter. Context: on a G.
func goready(_ gp: GPtr) {
    let mp = getm()!
    ready(mp.pointee.sched, currentP(mp), gp)
}

/// The P of the M running the calling goroutine. A goroutine inside `Runtime.blocking { }`
/// runs without one (its P may be handed to another M), so goroutine operations there trap
/// here with a message saying so instead of a nil dereference. Context: on a G.
@inline(__always)
func currentP(_ mp: MPtr) -> PPtr {
    guard let pp = mp.pointee.p else {
        fatal("goroutine operations (go, channels, select, WaitGroup, GoMutex, sleep, yield) are not allowed inside Runtime.blocking { }: the goroutine holds no P there")
    }
    return pp
}

/// Puts the current G on the global queue and schedules (Go's `Gosched`). Context: on a G.
func gosched() {
    let mp = getm()!
    let pp = currentP(mp)
    traceGoStatus(pp, mp.pointee.curg!, .running)
    traceEv(pp.pointee.trace, .goStop, UInt64(StopReason.yield.rawValue))
    mcall(mp, .gosched)
}

// MARK: - The scheduler loop (g0)

/// Runs `gp` on the current M until it switches back. Mirrors Go's `execute`; afterwards
/// performs the action the G asked for. Context: g0, holding a P.
func execute(_ mp: MPtr, _ gp: GPtr, inheritTime: Bool) {
    assert(getm() == mp && mp.pointee.curg == nil && mp.pointee.p != nil, "execute: not on g0 with a P")
    let s = mp.pointee.sched
    let pp = mp.pointee.p!
    mp.pointee.curg = gp
    gp.pointee.m = mp
    gp.pointee.status = .running
    pp.pointee.justPreempted = nil
    if !inheritTime { pp.pointee.schedtick &+= 1 }
    let ctx = gp.pointee.ctx
    if ctx.pointee.sp == nil {
        // First run: take a stack now (not at `go`), so queued Gs hold no memory.
        if ctx.pointee.stack == nil, gp.pointee.stackSize == s.pointee.stackSize,
           let st = pp.pointee.stackFree {
            pp.pointee.stackFree = st.pointee.next
            pp.pointee.stackFreeCount -= 1
            st.pointee.next = nil
            ctx.pointee.stack = st
        }
        if ctx.pointee.stack == nil {
            guard let st = spool_stack_alloc(gp.pointee.stackSize) else {
                fatal("cannot allocate a \(gp.pointee.stackSize >> 10) KiB stack for goroutine "
                      + "\(gp.pointee.goid) (errno \(errno); vm.max_map_count caps live goroutines)")
            }
            ctx.pointee.stack = st
        }
        spool_ctx_init(ctx, goroutineEntry, UnsafeMutableRawPointer(gp))
    }
    traceGoStatus(pp, gp, .runnable)
    gp.pointee.traceSeq &+= 1
    traceEv(pp.pointee.trace, .goStart, gp.pointee.goid, gp.pointee.traceSeq & 127)
    spool_preempt_clear(ctx) // a request concerns one stint on a P (Go clears gp.preempt here)
    spool_gogo(mp.pointee.g0, ctx)
    // Back on g0 (g0 never migrates, so `mp` is still this thread's M).
    mp.pointee.curg = nil
    gp.pointee.m = nil
    let action = mp.pointee.action
    mp.pointee.action = .none
    switch action {
    case .park:
        gp.pointee.status = .waiting
        let f = mp.pointee.unlockf, a = mp.pointee.unlockArg
        mp.pointee.unlockf = nil
        mp.pointee.unlockArg = nil
        f?(a)
    case .gosched:
        gp.pointee.status = .runnable
        s.pointee.lock.lock()
        globrunqput(s, gp)
        s.pointee.lock.unlock()
    case .exit:
        gdestroy(s, gp)
    case .exitsyscall:
        exitsyscall0(mp, gp) // Syscall.swift; may leave this M without a P (it then exits)
    case .none:
        fatal("goroutine \(gp.pointee.goid) switched to g0 without an action")
    }
}

/// Runs goroutines until the runtime instance ends. Mirrors Go's `schedule` loop.
/// Context: g0.
func schedule(_ mp: MPtr) {
    while let (gp, inherit) = findRunnable(mp) {
        // Tracing was stopped: seal this P's last batch so stopTrace can finish the file.
        if let pp = mp.pointee.p, !traceEnabled.load(ordering: .relaxed),
           pp.pointee.trace.pointee.busy.pointee.load(ordering: .relaxed) {
            traceFlushOwner(pp.pointee.trace)
        }
        if mp.pointee.spinning { resetspinning(mp) }
        execute(mp, gp, inheritTime: inherit)
    }
}

/// Finds a runnable G, parking the M while there is none. Returns nil when the instance is
/// ending. Mirrors Go's `findRunnable` (no netpoll yet). Context: g0, holding a P; returns
/// holding a P.
func findRunnable(_ mp: MPtr) -> (GPtr, Bool)? {
    assert(getm() == mp && mp.pointee.curg == nil, "findRunnable: not on g0")
    let s = mp.pointee.sched
    while true {
        // acquiring: pairs with mainDone's releasing store.
        if s.pointee.exiting.load(ordering: .acquiring) { return nil }
        // No P: an M back from a syscall that sysmon reclaimed while it waited (exitsyscall0).
        guard let pp = mp.pointee.p else { return nil }
        checkTimers(s, pp)

        // Fairness: every 61st tick, the global queue first (Go's constant). Fairness is for
        // goroutines that waited: not for the one this P just preempted after a whole quantum,
        // when it is alone there (in Go it wins back the P on such a tick ahead of the local
        // queue, and a goroutine woken beside a spinner waits two quanta instead of one).
        if pp.pointee.schedtick % 61 == 0 && s.pointee.runqsize.load(ordering: .relaxed) > 0 {
            s.pointee.lock.lock()
            var gp: GPtr? = nil
            if !(s.pointee.runqsize.load(ordering: .relaxed) == 1 && s.pointee.runqhead == pp.pointee.justPreempted) {
                gp = globrunqget(s, pp, max: 1)
            }
            s.pointee.lock.unlock()
            if let gp { return (gp, false) }
        }
        // Bounded inheritance: a pair of goroutines handing work to each other through
        // `runnext` shares one time slice, so only sysmon's quantum (10 ms) would cut the
        // chain, as in Go. After `maxInheritStreak` inherited runs, the queue head and the
        // global queue go first once: a cheaper and much earlier cut (kept from before
        // preemption existed; it costs one counter).
        if pp.pointee.inheritStreak >= maxInheritStreak {
            pp.pointee.inheritStreak = 0
            if let gp = runqgetHead(pp) { return (gp, false) }
            if s.pointee.runqsize.load(ordering: .relaxed) > 0 {
                s.pointee.lock.lock()
                let gp = globrunqget(s, pp, max: 1)
                s.pointee.lock.unlock()
                if let gp { return (gp, false) }
            }
        }
        if let (gp, inherit) = runqget(pp) {
            pp.pointee.inheritStreak = inherit ? pp.pointee.inheritStreak &+ 1 : 0
            return (gp, inherit)
        }
        if s.pointee.runqsize.load(ordering: .relaxed) > 0 {
            s.pointee.lock.lock()
            let gp = globrunqget(s, pp, max: 0)
            s.pointee.lock.unlock()
            if let gp { return (gp, false) }
        }

        // Poll the network, non-blocking (Netpoll.swift), before stealing.
        if let gp = netpollFindRunnable(mp, pp) { return (gp, false) }

        // Steal, if spinning is allowed: at most half the busy Ps have a spinning M.
        let busy = s.pointee.procs - s.pointee.npidle.load(ordering: .relaxed)
        if mp.pointee.spinning || 2 * s.pointee.nmspinning.load(ordering: .relaxed) < busy {
            if !mp.pointee.spinning {
                mp.pointee.spinning = true
                // sequentiallyConsistent: partner of wakep's load (Delicate dance).
                s.pointee.nmspinning.wrappingAdd(1, ordering: .sequentiallyConsistent)
            }
            if let gp = stealWork(mp, pp) { return (gp, false) }
        }

        // Nothing: give up the P.
        s.pointee.lock.lock()
        if s.pointee.exiting.load(ordering: .acquiring) {
            s.pointee.lock.unlock()
            return nil
        }
        if s.pointee.runqsize.load(ordering: .relaxed) > 0 {
            let gp = globrunqget(s, pp, max: 0)
            s.pointee.lock.unlock()
            if let gp { return (gp, false) }
            continue
        }
        releasep(mp)
        pidleput(s, pp)
        s.pointee.lock.unlock()

        // Delicate dance: stop spinning first, then look once more at every queue.
        if mp.pointee.spinning {
            mp.pointee.spinning = false
            // sequentiallyConsistent: must be ordered before the run-queue loads below; pairs
            // with wakep's load of nmspinning after a producer's runqput.
            s.pointee.nmspinning.wrappingSubtract(1, ordering: .sequentiallyConsistent)
            var reacquired = false
            for i in 0..<s.pointee.procs where !runqempty(s.pointee.allp[i]) {
                s.pointee.lock.lock()
                let p2 = pidleget(s)
                s.pointee.lock.unlock()
                if let p2 {
                    acquirep(mp, p2)
                    mp.pointee.spinning = true
                    s.pointee.nmspinning.wrappingAdd(1, ordering: .sequentiallyConsistent)
                    reacquired = true
                }
                break
            }
            if reacquired { continue }
        }
        // Nothing anywhere: block in netpoll if goroutines wait on the network and no other M
        // does ("One poller", Netpoll.swift); it may come back with a P and a G to run.
        switch netpollBlockIdle(mp) {
        case .run(let gp): return (gp, false)
        case .lookAgain: continue
        case .stop: break
        }
        if !stopm(mp) { return nil }
    }
}

/// How many consecutive `runnext` Gs a P runs before serving its queue head once.
let maxInheritStreak: UInt32 = 64

/// Looks through the other Ps' queues (4 passes in random order; the last also takes
/// `runnext`). Mirrors Go's `stealWork` (no timer stealing: timers are global here).
/// Context: g0, spinning, holding `pp`.
func stealWork(_ mp: MPtr, _ pp: PPtr) -> GPtr? {
    let s = mp.pointee.sched
    let n = s.pointee.procs
    if n == 1 { return nil }
    for pass in 0..<4 {
        let stealRunNext = pass == 3
        let start = Int(fastrand(mp) % UInt64(n))
        var step = Int(fastrand(mp) % UInt64(n)) + 1
        while gcd(step, n) != 1 { step += 1 }
        var k = start
        for _ in 0..<n {
            let p2 = s.pointee.allp[k]
            k = (k + step) % n
            if p2 == pp { continue }
            if let (gp, count) = runqsteal(pp, p2, stealRunNext: stealRunNext) {
                traceEv(pp.pointee.trace, .steal, UInt64(p2.pointee.id), UInt64(count))
                return gp
            }
        }
    }
    return nil
}

@inline(__always)
func gcd(_ a: Int, _ b: Int) -> Int {
    var a = a, b = b
    while b != 0 { (a, b) = (b, a % b) }
    return a
}

@inline(__always)
func fastrand(_ mp: MPtr) -> UInt64 {
    // xorshift64*
    var x = mp.pointee.rand
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27
    mp.pointee.rand = x
    return x &* 2685821657736338717
}

/// A spinning M found work: stop spinning, and if it was the last spinner, wake another M so
/// the remaining work keeps being looked for. Mirrors Go's `resetspinning`. Context: g0.
func resetspinning(_ mp: MPtr) {
    let s = mp.pointee.sched
    mp.pointee.spinning = false
    // sequentiallyConsistent: partner of wakep's CAS.
    let n = s.pointee.nmspinning.wrappingSubtract(1, ordering: .sequentiallyConsistent).newValue
    precondition(n >= 0, "resetspinning: negative nmspinning")
    wakep(s)
}

// MARK: - Ps

/// Attaches `pp` to `mp`. Mirrors Go's `acquirep`. Context: g0 (or the starting thread), `pp`
/// taken off the idle list.
func acquirep(_ mp: MPtr, _ pp: PPtr) {
    precondition(mp.pointee.p == nil && pp.pointee.m == nil, "acquirep: P or M already attached")
    mp.pointee.p = pp
    pp.pointee.m = mp
    pp.pointee.status = .running
    traceEv(pp.pointee.trace, .procStart, UInt64(mp.pointee.id))
}

/// Detaches the current P. Mirrors Go's `releasep`. Context: g0; sched.lock held when the P
/// goes on the idle list right after.
func releasep(_ mp: MPtr) {
    let pp = mp.pointee.p!
    traceEv(pp.pointee.trace, .procStop)
    pp.pointee.m = nil
    pp.pointee.status = .idle
    mp.pointee.p = nil
}

/// Context: sched.lock held.
func pidleput(_ s: SchedPtr, _ pp: PPtr) {
    precondition(runqempty(pp) || s.pointee.exiting.load(ordering: .relaxed), "pidleput: P with runnable Gs")
    pp.pointee.link = s.pointee.pidle
    s.pointee.pidle = pp
    // relaxed: written under sched.lock; lock-free readers treat it as a hint.
    s.pointee.npidle.wrappingAdd(1, ordering: .sequentiallyConsistent)
}

/// Context: sched.lock held.
func pidleget(_ s: SchedPtr) -> PPtr? {
    guard let pp = s.pointee.pidle else { return nil }
    s.pointee.pidle = pp.pointee.link
    pp.pointee.link = nil
    s.pointee.npidle.wrappingSubtract(1, ordering: .sequentiallyConsistent)
    // sequentiallyConsistent: partner of sysmon's store before its last look at npidle
    // ("Deep sleep" in Sysmon.swift): either it sees this P taken or we see it waiting. On one
    // CPU, only once it has slept a millisecond (relaxed: a hint; sysmon wakes by itself).
    if s.pointee.sysmonWait.load(ordering: .sequentiallyConsistent)
        && (s.pointee.sysmonKeepWarm
            || spool_nanotime() - s.pointee.sysmonSleptAt.load(ordering: .relaxed) >= 1_000_000)
        && s.pointee.sysmonWait.exchange(false, ordering: .sequentiallyConsistent) {
        s.pointee.sysmonNote.wakeup()
    }
    return pp
}

// MARK: - Ms

/// Tries to get another M spinning, if there is an idle P and nobody spins. Mirrors Go's
/// `wakep`. Context: any M.
func wakep(_ s: SchedPtr) {
    // sequentiallyConsistent: partner of the spinning M's decrement in findRunnable (the
    // Delicate dance): our caller's runqput happens before this load.
    if s.pointee.nmspinning.load(ordering: .sequentiallyConsistent) != 0 { return }
    if s.pointee.npidle.load(ordering: .sequentiallyConsistent) == 0 { return }
    if !s.pointee.nmspinning.compareExchange(expected: 0, desired: 1, ordering: .sequentiallyConsistent).exchanged {
        return
    }
    s.pointee.lock.lock()
    guard let pp = pidleget(s) else {
        s.pointee.nmspinning.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        s.pointee.lock.unlock()
        return
    }
    s.pointee.lock.unlock()
    startm(s, pp, spinning: true)
}

/// Runs `pp` on an idle M, or a new one. Mirrors Go's `startm`. Context: any; no locks held.
func startm(_ s: SchedPtr, _ pp: PPtr, spinning: Bool) {
    s.pointee.lock.lock()
    if let nmp = mget(s) {
        s.pointee.lock.unlock()
        nmp.pointee.spinning = spinning
        nmp.pointee.nextp = pp
        nmp.pointee.park.wakeup()
        return
    }
    s.pointee.lock.unlock()
    newm(s, pp, spinning: spinning, cause: spinning ? .spinning : .other)
}

/// Takes an idle M. If it was the timer waiter, another idle M (if any) is woken without a P
/// to take over that role, so a pending timer is never left without a watcher while the taken
/// M runs a long goroutine. Context: sched.lock held.
func mget(_ s: SchedPtr) -> MPtr? {
    guard let mp = s.pointee.midle else { return nil }
    s.pointee.midle = mp.pointee.schedlink
    mp.pointee.schedlink = nil
    mp.pointee.idle = false
    if s.pointee.timerWaiter == mp {
        s.pointee.timerWaiter = nil
        if let other = s.pointee.midle {
            s.pointee.midle = other.pointee.schedlink
            other.pointee.schedlink = nil
            other.pointee.idle = false
            other.pointee.nextp = nil
            other.pointee.park.wakeup() // re-parks in stopm as the timer waiter
        }
    }
    return mp
}

/// Removes a specific idle M. Context: sched.lock held; `mp.idle`.
func mremove(_ s: SchedPtr, _ mp: MPtr) {
    var link = s.pointee.midle
    var prev: MPtr? = nil
    while let m = link, m != mp { prev = m; link = m.pointee.schedlink }
    precondition(link == mp, "mremove: M not idle")
    if let prev { prev.pointee.schedlink = mp.pointee.schedlink } else { s.pointee.midle = mp.pointee.schedlink }
    mp.pointee.schedlink = nil
    mp.pointee.idle = false
    if s.pointee.timerWaiter == mp { s.pointee.timerWaiter = nil }
}

/// Allocates an M and starts its thread, which will run `pp`. Mirrors Go's `newm`.
/// `ThreadCreate` goes in the batch of the creator's P (`creatorP`, else the P of the calling
/// M), so it precedes, in the same or an earlier stream, every event of the new thread;
/// written by the new thread itself it could tie with its first ProcStart and sort after it.
/// Context: any.
/// `handoffFrom` (sysmon's `handoffp`): `ProcHandoff [handoffFrom, new M]` goes into `pp`'s
/// batch right after the ThreadCreate, before the new thread can touch the P.
/// The thread cap (`SPOOL_MAXTHREADS`, Sysmon.swift) is checked here: exceeding it is fatal.
func newm(_ s: SchedPtr, _ pp: PPtr?, spinning: Bool, cause: ThreadCause, creatorP: PPtr? = nil,
          handoffFrom: Int64? = nil) {
    let mp = allocm(s, cause: cause)
    let id = mp.pointee.id
    mp.pointee.nextp = pp
    mp.pointee.spinning = spinning
    if let tp = creatorP ?? getm()?.pointee.p, traceEnabled.load(ordering: .relaxed) {
        traceEv(tp.pointee.trace, .threadCreate, UInt64(id), UInt64(cause.rawValue))
        mp.pointee.traceCreated = true
    }
    if let from = handoffFrom, let pp {
        traceEv(pp.pointee.trace, .procHandoff, UInt64(from), UInt64(id))
    }
    mstartThread(s, mp, mstartEntry, what: "an M thread")
}

/// Allocates an M with a fresh id, its g0 context and its trace buffer owner, after checking
/// the thread cap. Shared by `newm` and `newsysmon`. Context: any; takes `sched.lock` briefly.
func allocm(_ s: SchedPtr, cause: ThreadCause) -> MPtr {
    checkmcount(s)
    s.pointee.lock.lock()
    s.pointee.mnext += 1
    let id = s.pointee.mnext
    s.pointee.lock.unlock()
    let g0 = UnsafeMutablePointer<spool_gctx>.allocate(capacity: 1)
    g0.initialize(to: spool_gctx())
    g0.pointee.is_g0 = 1
    let tr = UnsafeMutablePointer<TraceOwner>.allocate(capacity: 1)
    tr.initialize(to: TraceOwner(owner: .m(UInt32(id)), gen: s.pointee.gen))
    let mctx = UnsafeMutablePointer<spool_mctx>.allocate(capacity: 1)
    mctx.initialize(to: spool_mctx())
    let mp = MPtr.allocate(capacity: 1)
    mp.initialize(to: M(id: id, sched: s, g0: g0, park: Note(),
                        rand: UInt64(bitPattern: Int64(spool_nanotime())) | 1 &* UInt64(id),
                        cause: cause, trace: tr, mctx: mctx))
    return mp
}

/// Links `mp` into `sched.allm`, counts it, and starts its pthread at `entry`; failing to
/// create the thread is fatal. Context: any; takes `sched.lock` briefly.
func mstartThread(_ s: SchedPtr, _ mp: MPtr,
                  _ entry: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?,
                  what: String) {
    s.pointee.lock.lock()
    mp.pointee.alllink = s.pointee.allm
    s.pointee.allm = mp
    s.pointee.lock.unlock()
    s.pointee.mcount.wrappingAdd(1, ordering: .relaxed)
    s.pointee.mrunning.wrappingAdd(1, ordering: .relaxed)
    let r = spool_thread_start(entry, UnsafeMutableRawPointer(mp))
    if r != 0 { fatal("cannot create \(what) (pthread_create: errno \(r))") }
}

let mstartEntry: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { arg in
    // SAFETY: arg is the MPtr newm allocated for this thread; Ms are never freed.
    mstart(arg!.assumingMemoryBound(to: M.self))
    return nil
}

/// The body of every M thread. Mirrors Go's `mstart`. Context: a new pthread (becomes g0).
func mstart(_ mp: MPtr) {
    let s = mp.pointee.sched
    spool_setm(UnsafeMutableRawPointer(mp))
    spool_preempt_thread_init(mp.pointee.mctx)
    let altstack = spool_sigaltstack_setup()
    if !mp.pointee.traceCreated {
        traceEv(mp.pointee.trace, .threadCreate, UInt64(mp.pointee.id), UInt64(mp.pointee.cause.rawValue))
        traceFlushOwner(mp.pointee.trace)
    }
    if let pp = mp.pointee.nextp {
        mp.pointee.nextp = nil
        acquirep(mp, pp)
        schedule(mp)
    } else if stopm(mp) {
        schedule(mp)
    }
    mexit(mp)
    spool_sigaltstack_release(altstack)
    spool_setm(nil)
    _ = s
}

/// Parks the M (without a P) until `startm` hands it one; returns false when the instance
/// is ending. At most one parked M sleeps with a timeout for the earliest timer; when it
/// expires, it takes an idle P (if any) so `findRunnable` runs the timers. Mirrors Go's
/// `stopm` (plus the timer wait Go does in `netpoll(delay)`). Context: g0, no P.
func stopm(_ mp: MPtr) -> Bool {
    assert(getm() == mp && mp.pointee.curg == nil, "stopm: not on g0")
    let s = mp.pointee.sched
    precondition(mp.pointee.p == nil, "stopm holding a P")
    var tryIdleP = false
    while true {
        s.pointee.lock.lock()
        if s.pointee.exiting.load(ordering: .acquiring) {
            s.pointee.lock.unlock()
            return false
        }
        if tryIdleP, let pp = pidleget(s) {
            s.pointee.lock.unlock()
            acquirep(mp, pp)
            return true
        }
        tryIdleP = true
        var deadline: Int64 = 0
        let w = s.pointee.timer0When.load(ordering: .acquiring)
        if w != 0 && s.pointee.timerWaiter == nil {
            s.pointee.timerWaiter = mp
            deadline = w
        }
        mp.pointee.idle = true
        mp.pointee.idleSince = spool_nanotime() // for sysmon's reclaimIdleMs
        mp.pointee.schedlink = s.pointee.midle
        s.pointee.midle = mp
        s.pointee.lock.unlock()

        var woken: Bool
        if deadline != 0 {
            woken = mp.pointee.park.sleep(timeoutNs: max(deadline - spool_nanotime(), 0))
        } else {
            mp.pointee.park.sleep()
            woken = true
        }
        if !woken {
            s.pointee.lock.lock()
            if mp.pointee.idle {
                mremove(s, mp)
                s.pointee.lock.unlock()
                continue // a timer is due: take an idle P if there is one
            }
            s.pointee.lock.unlock()
            // Someone took us off the idle list and is about to wake us.
            mp.pointee.park.sleep()
        }
        mp.pointee.park.clear()
        if let pp = mp.pointee.nextp {
            mp.pointee.nextp = nil
            acquirep(mp, pp)
            return true
        }
        // Sysmon chose this M to exit ("Idle threads exit", Sysmon.swift); mstart's mexit follows.
        if mp.pointee.reclaim { return false }
        // Woken without a P (timer change or exit): look again.
    }
}

/// The M leaves: gives back its P and ends the thread. Context: g0.
func mexit(_ mp: MPtr) {
    let s = mp.pointee.sched
    if mp.pointee.spinning {
        mp.pointee.spinning = false
        s.pointee.nmspinning.wrappingSubtract(1, ordering: .sequentiallyConsistent)
    }
    if mp.pointee.p != nil {
        let pp = mp.pointee.p!
        s.pointee.lock.lock()
        releasep(mp)
        pidleput(s, pp)
        s.pointee.lock.unlock()
    }
    traceEv(mp.pointee.trace, .threadExit, UInt64(mp.pointee.id))
    traceFlushOwner(mp.pointee.trace)
    s.pointee.lock.lock()
    mp.pointee.exited = true
    s.pointee.lock.unlock()
    s.pointee.mcount.wrappingSubtract(1, ordering: .relaxed)
    // releasing: the M's last writes (trace, P release) happen before the finalizer's
    // acquiring load.
    s.pointee.mrunning.wrappingSubtract(1, ordering: .releasing)
    s.pointee.mexited.wakeup()
}
