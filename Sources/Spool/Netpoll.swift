// The network poller: goroutines wait for socket readiness without holding a thread (Go's
// netpoll.go). The epoll half is NetpollEpoll.swift; sockets are TCP.swift.
//
// Contract. A goroutine whose non-blocking read, write, accept or connect returns EAGAIN calls
// `pollWait`, which parks it (`GoBlock` net_read / net_write) on its fd's poll descriptor. The
// fd is registered once, edge-triggered, for EPOLLIN|EPOLLOUT|EPOLLRDHUP. `netpoll(delay)`
// collects the ready descriptors and returns the goroutines they release; the scheduler makes
// them runnable on whichever P it holds (`NetpollReady`), or on the global queue when it holds
// none. netpoll is called
//   * non-blocking by `findRunnable`, after the local and global queues and before stealing
//     (`netpollFindRunnable`), by one M at a time (`netpollPolling`);
//   * blocking by an M that found nothing at all and gave up its P (`netpollBlockIdle`), until
//     the earliest timer or fd deadline. Invariant "One poller": at most one M blocks in
//     epoll_wait (`netpollLastPoll` is 0 while it does); the others park in `stopm`. It is woken
//     early through an eventfd (`netpollBreak`) when an earlier timer or deadline appears, or when
//     the runtime instance ends.
//
// pollDesc. Each fd in use has a `PollDesc` with two one-G semaphores, `rg` (readers) and `wg`
// (writers), each holding one of
//   pdNil    nothing pending;
//   pdReady  a readiness notification arrived that no goroutine has consumed yet;
//   pdWait   a goroutine is about to park (it has seen EAGAIN and is on its way to g0);
//   a G      that goroutine is parked here.
// Invariant "No lost wakeups": readiness is never dropped between a goroutine seeing EAGAIN and
// it being parked. The goroutine moves the slot pdNil→pdWait before parking and g0 commits
// pdWait→G after the G's registers are saved (`netpollblockcommit`, run as gopark's unlock
// function, "Unlock on g0"). The poller moves the slot to pdReady whatever it holds: a G is
// taken out and readied, a pdWait makes the commit CAS fail, and the committing g0 then readies
// the G itself at once. A pdReady found by a goroutine before it parks is consumed and the
// syscall retried. So every edge the kernel reports reaches the goroutine, at worst as one
// spurious retry.
//
// Invariant "Stale events dropped": the epoll user data of a registration is the pollDesc's
// address with its 16-bit `fdseq` tag (Go's taggedPointer; NIO's EPollUserData). Freeing a
// pollDesc bumps the tag, so an event fetched for a closed fd (whose number, or whose pollDesc,
// may already be reused) no longer matches and is dropped. PollDescs are never freed, only
// recycled through `pollcache`, so an event can always dereference its pointer. (A tag that
// matches when read and goes stale just after can only produce a spurious pdReady on the new
// use of the pollDesc, which the "No lost wakeups" retry absorbs; Go has the same window.)
//
// Deadlines. Each pollDesc has a read and a write deadline (`rd`/`wd`: 0 none, > 0 a
// CLOCK_MONOTONIC instant, -1 expired), under `pd.lock`. A min-heap of (when, pd, tag, mode)
// (`netpollDeadlines`) is checked by every netpoll; the blocking poll sleeps no longer than its
// earliest entry. An expired deadline wakes the waiter with pdNil and a `GoWake(timer)` event;
// its operation fails with `.timedOut`, and so does every later one until the deadline is
// reset. Each pollDesc keeps at most one live heap entry per mode (`rtimer`/`wtimer`): moving a
// deadline later leaves the entry in place and it re-arms itself when it fires.
//
// Lock order: pd.lock < netpollDeadlineLock < sched.lock. `netpollInitLock` and
// `PollCache.lock` are leaves.
//
// "Yield before blocking" (Spool's own). An M about to become the blocking poller first yields
// its thread once (`sched_yield`) and polls again without blocking, if more goroutines wait on
// the network than there are Ps. A thread runnable on the same CPU (over loopback, typically
// the peer about to send the next request) then runs first, and the readiness it produces is
// found without the poller going to sleep and being woken again: two context switches, a
// remote wakeup paid by the peer's send, and on a VM often an idle vCPU's halt exit. With
// nothing else runnable on the CPU the yield returns at once (one syscall). Measured on this
// 2-vCPU KVM machine (BENCHMARKS.md, echo at 16 connections, fresh server per run, 16 rounds):
// 5.9% more requests per second (won 10 of 16 rounds), whole-machine idle 5.4% against 7.8%,
// server CPU per request 8.2 against 9.1 µs, p99 0.78 against 0.85 ms. At 64 connections
// +1%; at one connection unchanged, because the gate keeps it out: yielding there too took
// a one-connection echo from 41-46k to 27-37k requests per second in alternating runs (more
// runs fell out of the fast mode of Sysmon.swift's "Exact ticks"), and a lone waiter has
// little for the second poll to find. `SPOOL_POLLYIELD=0` turns it off (`sched.pollYield`).
// Rejected, measured on the same benchmark: spinning in the poll for 20-50 µs (with or without
// yields, holding the P or not): worse p99, or half the one-connection throughput; waking no
// M for the Gs a poll queues (27% slower).
//
// Waiters. `netpollWaiters` counts goroutines parked on a pollDesc; no M polls (or blocks in
// epoll) when it is 0. It is incremented after the commit CAS and decremented by whoever takes a
// G out of a slot, so it may be transiently negative; readers test `> 0`.
//
// Instances. The poller is per process (one epoll fd, created on first use) while schedulers
// are per `Runtime.run`: a connection may outlive a run. A G of an earlier instance released by
// the poller is dropped (the scheduler abandons such Gs).
//
// Rejected. EPOLLONESHOT re-armed before every wait (one epoll_ctl per park; the feasibility
// prototype did this): edge-triggered once-per-fd registration costs nothing per operation.
// Storing the G pointer in the epoll data (no way to detect stale events). A per-fd RuntimeLock
// held across the park (every event would take a lock; the CAS protocol needs none). Polling on a
// dedicated thread (an extra thread hop for every wakeup, and the readied G could not be put on
// a P by the thread that found it). Runtime timers for deadlines: the runtime's timers wake
// a sleeping G and cannot run a callback, and the poller must look at deadlines anyway to
// bound its sleep.
//
// sysmon (Sysmon.swift) also polls, non-blocking, when no M is blocked in netpoll and the last
// blocking poll ended over 10 ms ago (`netpollSysmon`), so readiness and deadlines are noticed
// even while every P runs goroutines that never reach findRunnable's own poll.
//
// Execution context is stated on each function: "on a G", "g0", "no P", "pd.lock held".

import CSpool
import Synchronization
import SpoolTraceFormat
#if canImport(Glibc)
import Glibc
#endif

typealias PollDescPtr = UnsafeMutablePointer<PollDesc>

let pdNil: UInt = 0
let pdReady: UInt = 1
let pdWait: UInt = 2

/// A direction of a pollDesc.
enum PollMode {
    case read, write
}

/// One of a pollDesc's two semaphores (Go's `rg`/`wg`).
struct PollSlot: ~Copyable {
    /// pdNil, pdReady, pdWait, or the bits of the parked G ("No lost wakeups"). Sequentially
    /// consistent everywhere: the waiter's pdWait store and error check pair with a closer's or
    /// deadline's info store and slot load (a Dekker pattern, as in Go).
    let state = Atomic<UInt>(pdNil)
    /// The G parking here, handed from `netpollblock` to `netpollblockcommit` on the same M.
    var parking: GPtr? = nil
}

/// Bits of `PollDesc.info` (Go's pollInfo), read without the lock by `netpollcheckerr`.
let pollClosing: UInt32 = 1
let pollExpiredRead: UInt32 = 2
let pollExpiredWrite: UInt32 = 4

/// A poll descriptor: the runtime's half of one fd (Go's `pollDesc`). Never freed; recycled
/// through `PollCache` (invariant "Stale events dropped").
struct PollDesc: ~Copyable {
    /// Link in the pollcache free list (PollCache.lock).
    var link: PollDescPtr? = nil
    /// The fd; constant while the pollDesc is in use.
    var fd: Int32 = -1
    /// Registration tag, 16 bits, never 0: bumped when the pollDesc is freed. Written under
    /// pd.lock; read lock-free by the poller (acquiring; partner: the releasing store in
    /// `pollcacheFree`).
    let fdseq = Atomic<UInt>(1)
    /// Summary of closing/rd/wd for lock-free checks; written under pd.lock (see PollSlot).
    let info = Atomic<UInt32>(0)
    let rg: UnsafeMutablePointer<PollSlot>
    let wg: UnsafeMutablePointer<PollSlot>
    /// Set by the poller when an event says the peer shut down its side or the socket failed
    /// (EPOLLRDHUP, EPOLLHUP, EPOLLERR); cleared by `pollOpen`. A reader that emptied the socket
    /// checks it before waiting for readiness (TCP.swift, "Drained reads"): that event may have
    /// been consumed already, and edge-triggered epoll will not repeat it. releasing/acquiring.
    let readHup = Atomic<Bool>(false)
    /// Protects everything below.
    let lock = RuntimeLock()
    var closing = false
    /// Deadlines: 0 none, > 0 a CLOCK_MONOTONIC instant (ns), -1 expired.
    var rd: Int64 = 0
    var wd: Int64 = 0
    /// The `when` of this pollDesc's live heap entry per mode, 0 if none.
    var rtimer: Int64 = 0
    var wtimer: Int64 = 0

    init() {
        rg = .allocate(capacity: 1)
        rg.initialize(to: PollSlot())
        wg = .allocate(capacity: 1)
        wg.initialize(to: PollSlot())
    }
}

/// Free pollDescs. PollDescs are allocated one by one and never freed.
enum PollCache {
    static let lock = RuntimeLock()
    nonisolated(unsafe) static var first: PollDescPtr? = nil
}

/// Context: any.
func pollcacheAlloc() -> PollDescPtr {
    PollCache.lock.lock()
    if let pd = PollCache.first {
        PollCache.first = pd.pointee.link
        PollCache.lock.unlock()
        pd.pointee.link = nil
        return pd
    }
    PollCache.lock.unlock()
    let pd = PollDescPtr.allocate(capacity: 1)
    pd.initialize(to: PollDesc())
    // The epoll user data keeps the address in its top 48 bits.
    precondition(UInt(bitPattern: pd) >> 48 == 0, "netpoll: pollDesc address above 2^48")
    return pd
}

/// Returns `pd` to the cache, bumping its tag so in-flight events for it are dropped.
/// Context: any; nobody waits on `pd`.
func pollcacheFree(_ pd: PollDescPtr) {
    pd.pointee.lock.lock()
    var seq = (pd.pointee.fdseq.load(ordering: .relaxed) + 1) & 0xFFFF
    if seq == 0 { seq = 1 }
    // releasing: partner of the poller's acquiring load in netpollHandleEvent.
    pd.pointee.fdseq.store(seq, ordering: .releasing)
    pd.pointee.lock.unlock()
    PollCache.lock.lock()
    pd.pointee.link = PollCache.first
    PollCache.first = pd
    PollCache.lock.unlock()
}

// MARK: - Global poller state

/// Whether netpollinit ran (acquiring loads; partner: the releasing store in netpollinit).
let netpollInited = Atomic<Bool>(false)
let netpollInitLock = RuntimeLock()
/// The epoll fd and the break eventfd; written once, before `netpollInited` is published.
nonisolated(unsafe) var netpollEpfd: Int32 = -1
nonisolated(unsafe) var netpollEventFd: Int32 = -1
/// 1 while a netpollBreak is in flight (Go's netpollWakeSig): further breaks are skipped until
/// a blocking poll consumes it.
let netpollWakeSig = Atomic<UInt32>(0)
/// Goroutines parked on a pollDesc (see "Waiters").
let netpollWaiters = Atomic<Int>(0)
/// 0 while an M blocks in netpoll (invariant "One poller"), else the time the last blocking
/// poll ended (Go's sched.lastpoll).
let netpollLastPoll = Atomic<Int64>(1)
/// When the blocked poller will wake by itself (0: never, or nobody blocked).
let netpollPollUntil = Atomic<Int64>(0)
/// Yields before a blocking poll ("Yield before blocking"), for tests.
let netpollYields = Atomic<Int>(0)
/// Set while an M runs a non-blocking netpoll from findRunnable (Go's sched.pollingNet).
let netpollPolling = Atomic<Bool>(false)

/// A pending fd deadline.
struct PollDeadline {
    var when: Int64
    var pd: PollDescPtr
    var tag: UInt
    var mode: PollMode
}

/// The deadline heap (netpollDeadlineLock) and its earliest `when` (0: empty), read
/// lock-free by netpoll (acquiring; partner: the releasing stores under the lock).
let netpollDeadlineLock = RuntimeLock()
nonisolated(unsafe) var netpollDeadlines: [PollDeadline] = []
let netpollDeadline0 = Atomic<Int64>(0)

/// The Gs a netpoll released: by readiness (`io`) and by an expired deadline (`timedOut`).
/// Linked through `schedlink` (a parked G is in no queue: "One queue at a time").
struct NetpollList {
    var io = GQueue()
    var timedOut = GQueue()
    var isEmpty: Bool { io.head == nil && timedOut.head == nil }
}

// MARK: - The goroutine side

/// Why a poll operation cannot proceed.
enum PollError {
    case closing, timeout
}

/// Go's netpollcheckerr. Context: any (lock-free).
@inline(__always)
func netpollcheckerr(_ pd: PollDescPtr, _ mode: PollMode) -> PollError? {
    let info = pd.pointee.info.load(ordering: .sequentiallyConsistent)
    if info & pollClosing != 0 { return .closing }
    if mode == .read && info & pollExpiredRead != 0 { return .timeout }
    if mode == .write && info & pollExpiredWrite != 0 { return .timeout }
    return nil
}

/// Recomputes `info` from closing/rd/wd. Context: pd.lock held, before any netpollunblock
/// (so a waiter that re-checks after pdWait sees the new state).
func publishInfo(_ pd: PollDescPtr) {
    var i: UInt32 = 0
    if pd.pointee.closing { i |= pollClosing }
    if pd.pointee.rd < 0 { i |= pollExpiredRead }
    if pd.pointee.wd < 0 { i |= pollExpiredWrite }
    pd.pointee.info.store(i, ordering: .sequentiallyConsistent)
}

/// Prepares for an operation in `mode`: fails if the fd is closing or the deadline passed,
/// and clears a stale pdReady (the syscall about to run sees the current state itself).
/// Go's poll_runtime_pollReset. Context: on a G, the only one using `mode` of `pd`.
func pollReset(_ pd: PollDescPtr, _ mode: PollMode, keepReady: Bool = false) -> PollError? {
    if let e = netpollcheckerr(pd, mode) { return e }
    // A caller that will wait before its syscall keeps a readiness that arrived since its last
    // one (TCP.swift, "Drained reads"): with edge-triggered epoll it will not come again.
    if keepReady { return nil }
    let slot = mode == .read ? pd.pointee.rg : pd.pointee.wg
    _ = slot.pointee.state.compareExchange(expected: pdReady, desired: pdNil, ordering: .sequentiallyConsistent)
    return nil
}

/// Waits until `pd` may be ready in `mode` (the caller retries its syscall), or fails if the fd
/// is closed or the deadline passes. Go's poll_runtime_pollWait. Context: on a G, the only one
/// using `mode` of `pd`.
func pollWait(_ pd: PollDescPtr, _ mode: PollMode) -> PollError? {
    if let e = netpollcheckerr(pd, mode) { return e }
    while !netpollblock(pd, mode) {
        if let e = netpollcheckerr(pd, mode) { return e }
        // Woken by a deadline that was moved again before we ran: wait again (as Go).
    }
    return nil
}

/// Parks the current G until `pd` is ready in `mode`. Returns true on readiness, false when
/// woken by close or a deadline. Mirrors Go's netpollblock. Context: on a G.
func netpollblock(_ pd: PollDescPtr, _ mode: PollMode) -> Bool {
    let slot = mode == .read ? pd.pointee.rg : pd.pointee.wg
    while true {
        // A readiness that arrived since the syscall's EAGAIN ("No lost wakeups").
        if slot.pointee.state.compareExchange(expected: pdReady, desired: pdNil, ordering: .sequentiallyConsistent).exchanged {
            return true
        }
        if slot.pointee.state.compareExchange(expected: pdNil, desired: pdWait, ordering: .sequentiallyConsistent).exchanged {
            break
        }
        let v = slot.pointee.state.load(ordering: .sequentiallyConsistent)
        if v != pdReady && v != pdNil {
            fatal("netpoll: two goroutines wait on fd \(pd.pointee.fd) for \(mode) at once")
        }
    }
    // Re-check after publishing pdWait: pairs with close/deadline storing info, then loading
    // the slot.
    if netpollcheckerr(pd, mode) == nil {
        netpollTestHookBeforePark?(pd, mode)
        let (_, gp) = currentG("netpoll")
        slot.pointee.parking = gp
        gopark(mode == .read ? .netRead : .netWrite, netpollblockcommit, UnsafeMutableRawPointer(slot))
    }
    let old = slot.pointee.state.exchange(pdNil, ordering: .sequentiallyConsistent)
    if old > pdWait { fatal("netpoll: corrupted pollDesc slot for fd \(pd.pointee.fd)") }
    return old == pdReady
}

/// Test hook (Go's export_test.go style): runs in `netpollblock` after the slot holds pdWait and
/// before the G parks, so tests can deliver readiness or a close inside the "No lost wakeups"
/// window deterministically. nil outside tests; set only while no runtime runs.
nonisolated(unsafe) var netpollTestHookBeforePark: ((PollDescPtr, PollMode) -> Void)? = nil

/// gopark's unlock function for netpollblock: commits the park (pdWait → G). If the slot moved
/// on meanwhile (readiness, close or a deadline), the G is made runnable again at once, so the
/// notification is not lost ("No lost wakeups"). Go's netpollblockcommit, which instead returns
/// false and lets park_m resume the G. Context: g0 holding a P, right after the G parked.
let netpollblockcommit: @convention(c) (UnsafeMutableRawPointer?) -> Void = { arg in
    // SAFETY: arg is a PollSlot of a pollDesc (never freed) that the parking G wrote
    // `parking` into on this M before switching here.
    let slot = arg!.assumingMemoryBound(to: PollSlot.self)
    let gp = slot.pointee.parking!
    slot.pointee.parking = nil
    let (ok, now) = slot.pointee.state.compareExchange(
        expected: pdWait, desired: gbits(gp), ordering: .sequentiallyConsistent)
    if ok {
        // relaxed: a hint for pollers (see "Waiters").
        netpollWaiters.wrappingAdd(1, ordering: .relaxed)
        return
    }
    let mp = getm()!
    netpollgoready(mp.pointee.sched, mp.pointee.p!, gp, now == pdReady ? .io : .runtime)
    runqput(mp.pointee.sched, mp.pointee.p!, gp, next: true)
}

/// Moves `mode`'s slot to pdReady (readiness) or pdNil (close, deadline) and returns the G
/// parked there, if any; `delta` gets -1 per G taken out. Go's netpollunblock.
/// Context: any (the poller, or pd.lock held for close/deadline).
func netpollunblock(_ pd: PollDescPtr, _ mode: PollMode, ioready: Bool, _ delta: inout Int) -> GPtr? {
    let slot = mode == .read ? pd.pointee.rg : pd.pointee.wg
    while true {
        let old = slot.pointee.state.load(ordering: .sequentiallyConsistent)
        if old == pdReady { return nil }
        // Only readiness is remembered; close and deadlines are seen through `info`.
        if old == pdNil && !ioready { return nil }
        let new = ioready ? pdReady : pdNil
        if slot.pointee.state.compareExchange(expected: old, desired: new, ordering: .sequentiallyConsistent).exchanged {
            if old == pdWait || old == pdNil { return nil }
            delta -= 1
            return gfrom(old)
        }
    }
}

/// Records the readiness of `pd` (events for `read`/`write`) into `list`. Go's netpollready.
/// Context: the poller.
func netpollready(_ list: inout NetpollList, _ pd: PollDescPtr, read: Bool, write: Bool) -> Int {
    var delta = 0
    if read, let g = netpollunblock(pd, .read, ioready: true, &delta) { list.io.push(g) }
    if write, let g = netpollunblock(pd, .write, ioready: true, &delta) { list.io.push(g) }
    return delta
}

/// Marks the fd closing and wakes its waiters, whose operations fail with `.closed`.
/// Go's poll_runtime_pollUnblock. Context: on a G (the waiters are readied on its P).
func pollUnblock(_ pd: PollDescPtr) {
    pd.pointee.lock.lock()
    precondition(!pd.pointee.closing, "netpoll: pollUnblock twice")
    pd.pointee.closing = true
    publishInfo(pd)
    var delta = 0
    let rg = netpollunblock(pd, .read, ioready: false, &delta)
    let wg = netpollunblock(pd, .write, ioready: false, &delta)
    pd.pointee.rtimer = 0
    pd.pointee.wtimer = 0
    pd.pointee.lock.unlock()
    if let rg { goready(rg) }
    if let wg { goready(wg) }
    netpollWaiters.wrappingAdd(delta, ordering: .relaxed)
}

/// Sets the deadline of `mode` (0: none, < 0: already passed, else a CLOCK_MONOTONIC
/// instant). A waiter whose deadline is now in the past is woken. Go's
/// poll_runtime_pollSetDeadline. Context: on a G.
func pollSetDeadline(_ pd: PollDescPtr, _ d: Int64, _ mode: PollMode) {
    pd.pointee.lock.lock()
    if pd.pointee.closing {
        pd.pointee.lock.unlock()
        return
    }
    let d = d < 0 ? -1 : d
    var armed: Int64 = 0
    switch mode {
    case .read:
        pd.pointee.rd = d
        if d > 0 && (pd.pointee.rtimer == 0 || pd.pointee.rtimer > d) {
            pd.pointee.rtimer = d
            armed = d
        }
    case .write:
        pd.pointee.wd = d
        if d > 0 && (pd.pointee.wtimer == 0 || pd.pointee.wtimer > d) {
            pd.pointee.wtimer = d
            armed = d
        }
    }
    if armed != 0 { netpollDeadlinePush(PollDeadline(when: armed, pd: pd, tag: pd.pointee.fdseq.load(ordering: .relaxed), mode: mode)) }
    publishInfo(pd)
    var delta = 0
    var gp: GPtr? = nil
    if d < 0 { gp = netpollunblock(pd, mode, ioready: false, &delta) }
    pd.pointee.lock.unlock()
    if let gp { goready(gp) }
    netpollWaiters.wrappingAdd(delta, ordering: .relaxed)
    if armed != 0 { netpollBreakIfLater(armed) }
}

// MARK: - Deadlines (poller side)

/// Context: pd.lock held (lock order pd.lock < netpollDeadlineLock).
func netpollDeadlinePush(_ e: PollDeadline) {
    netpollDeadlineLock.lock()
    netpollDeadlines.append(e)
    var i = netpollDeadlines.count - 1
    while i > 0 {
        let parent = (i - 1) / 2
        if netpollDeadlines[parent].when <= netpollDeadlines[i].when { break }
        netpollDeadlines.swapAt(parent, i)
        i = parent
    }
    // releasing: partner of netpoll's acquiring load.
    netpollDeadline0.store(netpollDeadlines[0].when, ordering: .releasing)
    netpollDeadlineLock.unlock()
}

/// Pops every heap entry due at `now`. Context: any; takes netpollDeadlineLock.
private func netpollDeadlinesDue(_ now: Int64) -> [PollDeadline] {
    var due: [PollDeadline] = []
    netpollDeadlineLock.lock()
    while let top = netpollDeadlines.first, top.when <= now {
        due.append(top)
        let n = netpollDeadlines.count
        netpollDeadlines.swapAt(0, n - 1)
        netpollDeadlines.removeLast()
        var i = 0
        let m = n - 1
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < m && netpollDeadlines[l].when < netpollDeadlines[smallest].when { smallest = l }
            if r < m && netpollDeadlines[r].when < netpollDeadlines[smallest].when { smallest = r }
            if smallest == i { break }
            netpollDeadlines.swapAt(i, smallest)
            i = smallest
        }
    }
    netpollDeadline0.store(netpollDeadlines.first?.when ?? 0, ordering: .releasing)
    netpollDeadlineLock.unlock()
    return due
}

/// Fires the deadlines due at `now`: each wakes its waiter into `list.timedOut`, unless the
/// entry is stale (pollDesc reused, deadline moved or cleared); a deadline moved later re-arms.
/// Returns the waiter-count delta. Context: the poller (any M, with or without a P).
func netpollExpireDeadlines(_ now: Int64, _ list: inout NetpollList) -> Int {
    var delta = 0
    for e in netpollDeadlinesDue(now) {
        let pd = e.pd
        pd.pointee.lock.lock()
        if pd.pointee.fdseq.load(ordering: .relaxed) != e.tag || pd.pointee.closing {
            pd.pointee.lock.unlock()
            continue
        }
        let isRead = e.mode == .read
        let armedWhen = isRead ? pd.pointee.rtimer : pd.pointee.wtimer
        if armedWhen != e.when {
            pd.pointee.lock.unlock() // superseded by an earlier entry
            continue
        }
        let d = isRead ? pd.pointee.rd : pd.pointee.wd
        var rearm: Int64 = 0
        if d > now { rearm = d }
        if isRead { pd.pointee.rtimer = rearm } else { pd.pointee.wtimer = rearm }
        if rearm != 0 {
            netpollDeadlinePush(PollDeadline(when: rearm, pd: pd, tag: e.tag, mode: e.mode))
        } else if d > 0 {
            if isRead { pd.pointee.rd = -1 } else { pd.pointee.wd = -1 }
            publishInfo(pd)
            if let g = netpollunblock(pd, e.mode, ioready: false, &delta) { list.timedOut.push(g) }
        }
        pd.pointee.lock.unlock()
    }
    return delta
}

// MARK: - Making released Gs runnable

/// What made a netpoll G runnable, for the trace.
enum NetpollWake {
    case io       // NetpollReady
    case deadline // GoWake(timer)
    case runtime  // GoWake(runtime): close or a deadline raced with the park
}

/// Marks the parked `gp` runnable and records why, in `pp`'s batch; the caller queues or runs
/// it. The netpoll counterpart of `ready`. Context: an M holding `pp`.
func netpollgoready(_ s: SchedPtr, _ pp: PPtr, _ gp: GPtr, _ why: NetpollWake) {
    switch why {
    case .io: markReady(pp, gp, .netpoll)
    case .deadline: markReady(pp, gp, .timer)
    case .runtime: markReady(pp, gp, .runtime)
    }
}

/// Makes every G of `list` runnable on `pp`; returns the first (for the caller to run) when
/// `takeFirst`, queueing the rest, and wakes another M if some were queued. Gs of another
/// runtime instance are dropped. Go's injectglist with a P. Context: an M holding `pp`.
func netpollInject(_ s: SchedPtr, _ pp: PPtr, _ list: inout NetpollList, takeFirst: Bool) -> GPtr? {
    let gen = s.pointee.gen
    var first: GPtr? = nil
    var queued = 0
    func drain(_ q: inout GQueue, _ why: NetpollWake) {
        while let gp = q.pop(gen: gen) {
            netpollgoready(s, pp, gp, why)
            if takeFirst && first == nil {
                first = gp
            } else {
                runqput(s, pp, gp, next: false)
                queued += 1
            }
        }
    }
    drain(&list.io, .io)
    drain(&list.timedOut, .deadline)
    if queued > 0 { wakep(s) }
    return first
}

/// Makes every G of `list` runnable on the global queue, recording the events in `mp`'s own
/// batch, and wakes Ms for idle Ps. Go's injectglist without a P. Context: g0, no P.
func netpollInjectNoP(_ s: SchedPtr, _ mp: MPtr, _ list: inout NetpollList) {
    let gen = s.pointee.gen
    var head: GPtr? = nil, tail: GPtr? = nil
    var n = 0
    let sess = traceSessionID.load(ordering: .relaxed)
    for isIO in [true, false] {
        while let gp = isIO ? list.io.pop(gen: gen) : list.timedOut.pop(gen: gen) {
            precondition(gp.pointee.status == .waiting, "netpoll: goroutine \(gp.pointee.goid) is not waiting")
            if traceEnabled.load(ordering: .relaxed) && gp.pointee.traceSession != sess {
                gp.pointee.traceSession = sess
                traceWrite(mp.pointee.trace, .goStatus, gp.pointee.goid, gp.pointee.traceSeq & 127,
                           UInt64(GoStatusCode.blocked.rawValue))
            }
            gp.pointee.status = .runnable
            gp.pointee.traceSeq &+= 1
            let seq = gp.pointee.traceSeq & 127
            if isIO {
                traceEv(mp.pointee.trace, .netpollReady, gp.pointee.goid, seq)
            } else {
                traceEv(mp.pointee.trace, .goWake, gp.pointee.goid, seq, UInt64(WakeSource.timer.rawValue))
            }
            gp.pointee.schedlink = nil
            if let t = tail { t.pointee.schedlink = gp } else { head = gp }
            tail = gp
            n += 1
        }
    }
    guard let head, let tail else { return }
    // M batches are sealed at once: their events are rare (Trace.swift).
    traceFlushOwner(mp.pointee.trace)
    s.pointee.lock.lock()
    globrunqputbatch(s, head, tail, n)
    s.pointee.lock.unlock()
    // Start an M for each idle P (up to n), directly, as Go's injectglist does: `wakep` would
    // do nothing while some M still counts as spinning, and a spinning M that has already
    // checked the global queue and is giving up its P re-checks only the local queues (the
    // "Delicate dance"), so the Gs could sit on the global queue with every P idle.
    for _ in 0..<n {
        if s.pointee.npidle.load(ordering: .sequentiallyConsistent) == 0 { break }
        s.pointee.lock.lock()
        let pp = pidleget(s)
        s.pointee.lock.unlock()
        guard let pp else { break }
        startm(s, pp, spinning: false)
    }
}

// MARK: - Scheduler hooks

/// Test hook: overrides `SPOOL_POLLYIELD` for the next runs. Set only holding the runtime test
/// lock.
nonisolated(unsafe) var testPollYield: Bool? = nil

/// Reads the poller's settings into a new instance. Context: `Runtime.run`, before any M starts.
func netpollConfigure(_ s: SchedPtr) {
    s.pointee.pollYield = testPollYield ?? (envString("SPOOL_POLLYIELD") != "0")
}

/// The non-blocking poll of `findRunnable`, after the local and global queues and before
/// stealing: returns a G made runnable by the network (or a deadline), queueing any others on
/// `pp`. Skipped when nobody waits, when an M blocks in netpoll already (it will see the
/// events), or when another M is polling. Mirrors that step of Go's findRunnable.
/// Context: g0 holding `pp`.
func netpollFindRunnable(_ mp: MPtr, _ pp: PPtr) -> GPtr? {
    if !netpollInited.load(ordering: .acquiring) { return nil }
    if netpollWaiters.load(ordering: .relaxed) <= 0 { return nil }
    if netpollLastPoll.load(ordering: .relaxed) == 0 { return nil }
    guard var list = netpollNonBlocking(), !list.isEmpty else { return nil }
    return netpollInject(mp.pointee.sched, pp, &list, takeFirst: true)
}

/// A non-blocking poll, unless another M is running one (then nil). Context: g0.
func netpollNonBlocking() -> NetpollList? {
    // acquiring/releasing: one non-blocking poller at a time (kernel contention).
    if netpollPolling.exchange(true, ordering: .acquiring) { return nil }
    let list = netpoll(0)
    netpollPolling.store(false, ordering: .releasing)
    return list
}

/// The blocking poll of an M that found nothing to run and gave up its P: blocks in epoll_wait
/// until readiness, the earliest timer or fd deadline, or a netpollBreak, if goroutines wait
/// on the network and no other M blocks there ("One poller"). Afterwards it takes an idle P if
/// there is one: the first released G is returned to run at once on this M, the others are
/// queued on that P (waking Ms for idle Ps); with no G, `.lookAgain` (run findRunnable again,
/// holding the P). Without an idle P the Gs go to the global queue (`.stop`). Returns `.stop`
/// at once when it should not poll. Mirrors the end of Go's findRunnable: the readied G runs
/// on the polling M, with no other M woken for it (a one-connection echo server otherwise
/// moves its P between two threads twice per request).
/// Context: g0, no P, not spinning.
func netpollBlockIdle(_ mp: MPtr) -> NetpollIdleOutcome {
    assert(mp.pointee.p == nil && !mp.pointee.spinning, "netpollBlockIdle: holding a P or spinning")
    if !netpollInited.load(ordering: .acquiring) { return .stop }
    if netpollWaiters.load(ordering: .sequentiallyConsistent) <= 0 { return .stop }
    let s = mp.pointee.sched
    if s.pointee.exiting.load(ordering: .acquiring) { return .stop }
    // "Yield before blocking". relaxed: hints; a stale value costs one yield or one block.
    if s.pointee.pollYield && netpollWaiters.load(ordering: .relaxed) > s.pointee.procs
        && netpollLastPoll.load(ordering: .relaxed) != 0 {
        netpollYields.wrappingAdd(1, ordering: .relaxed)
        spool_osyield()
        if !s.pointee.exiting.load(ordering: .acquiring), var list = netpollNonBlocking(), !list.isEmpty {
            return netpollRunFound(mp, &list)
        }
    }
    // sequentiallyConsistent: partner of netpollBreakIfLater's load ("One poller"), ordered
    // before our load of timer0When below.
    if netpollLastPoll.exchange(0, ordering: .sequentiallyConsistent) == 0 { return .stop }
    var pollUntil = s.pointee.timer0When.load(ordering: .sequentiallyConsistent)
    let d0 = netpollDeadline0.load(ordering: .acquiring)
    if d0 != 0 && (pollUntil == 0 || d0 < pollUntil) { pollUntil = d0 }
    netpollPollUntil.store(pollUntil, ordering: .sequentiallyConsistent)
    // A last look at exiting, after publishing that we poll: mainDone sets exiting, then breaks.
    var list = NetpollList()
    if !s.pointee.exiting.load(ordering: .acquiring) {
        let delay = pollUntil == 0 ? -1 : max(pollUntil - spool_nanotime(), 0)
        list = netpoll(delay)
    }
    netpollPollUntil.store(0, ordering: .sequentiallyConsistent)
    netpollLastPoll.store(spool_nanotime() | 1, ordering: .sequentiallyConsistent)
    return netpollRunFound(mp, &list)
}

/// What an M without a P does with the Gs its poll released (possibly none): takes an idle P,
/// runs the first G and queues the others on that P (waking Ms for idle Ps); with no G,
/// `.lookAgain` holding the P. Without an idle P they go on the global queue (`.stop`).
/// Context: g0, no P, not spinning.
func netpollRunFound(_ mp: MPtr, _ list: inout NetpollList) -> NetpollIdleOutcome {
    let s = mp.pointee.sched
    s.pointee.lock.lock()
    let pp = pidleget(s)
    s.pointee.lock.unlock()
    guard let pp else {
        if !list.isEmpty { netpollInjectNoP(s, mp, &list) }
        return .stop
    }
    acquirep(mp, pp)
    // While this M runs what it found, no M blocks in the poller: the next M to find nothing
    // to do takes the role, any M's findRunnable polls without blocking, and sysmon polls
    // after 10 ms. netpollInject wakes Ms for idle Ps only for the Gs it queues.
    if let gp = netpollInject(s, pp, &list, takeFirst: true) { return .run(gp) }
    return .lookAgain
}

/// What an M does after `netpollBlockIdle`.
enum NetpollIdleOutcome {
    /// Stop the M (it holds no P).
    case stop
    /// Look for work again, holding the P it took.
    case lookAgain
    /// Run this G, made runnable by the poll, on the P it took.
    case run(GPtr)
}

/// sysmon's network poll: if goroutines wait on the network, no M is blocked in netpoll and the
/// last blocking poll ended more than 10 ms ago, poll without blocking and put what is ready on
/// the global queue (starting Ms for idle Ps). This is what keeps sockets served while every P
/// runs goroutines that never let findRunnable reach its own poll (a yield loop, a CPU-bound
/// goroutine). Mirrors the netpoll step of Go's sysmon. Context: sysmon (an M without a P).
func netpollSysmon(_ s: SchedPtr, _ now: Int64) {
    if !netpollInited.load(ordering: .acquiring) { return }
    if netpollWaiters.load(ordering: .relaxed) <= 0 { return }
    // sequentiallyConsistent: as netpollBlockIdle's exchange ("One poller"); 0 means an M is
    // blocked in epoll_wait and will see the events itself.
    let last = netpollLastPoll.load(ordering: .sequentiallyConsistent)
    if last == 0 || now - last < 10_000_000 { return }
    if !netpollLastPoll.compareExchange(expected: last, desired: now | 1, ordering: .sequentiallyConsistent).exchanged {
        return
    }
    var list = netpoll(0)
    if list.isEmpty { return }
    guard let mp = getm() else { fatal("netpollSysmon: not on an M") }
    netpollInjectNoP(s, mp, &list)
}

/// An earlier timer or deadline `when` appeared: wake the blocked poller if it would sleep past
/// it. Go's wakeNetPoller. Context: any.
func netpollBreakIfLater(_ when: Int64) {
    if !netpollInited.load(ordering: .acquiring) { return }
    // The caller stored `when` (timer0When, or a deadline) before this fence: either the poller
    // sees it when computing its sleep, or we see it blocked ("One poller").
    atomicMemoryFence(ordering: .sequentiallyConsistent)
    if netpollLastPoll.load(ordering: .sequentiallyConsistent) != 0 { return }
    let until = netpollPollUntil.load(ordering: .sequentiallyConsistent)
    if until == 0 || until > when { netpollBreak() }
}

/// The earliest timer of `s` changed (Time.swift, wakeTimerWaiter). Context: any.
func netpollTimerChanged(_ s: SchedPtr) {
    let w = s.pointee.timer0When.load(ordering: .sequentiallyConsistent)
    if w != 0 { netpollBreakIfLater(w) }
}

/// The runtime instance is ending (mainDone): a blocked poller must come back to leave.
/// Context: any.
func netpollExitBreak() {
    if netpollInited.load(ordering: .acquiring) { netpollBreak() }
}
