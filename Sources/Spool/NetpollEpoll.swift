// The epoll half of the netpoller (Go's netpoll_epoll.go). Netpoll.swift has the design and
// its invariants; this file only talks to the kernel.
//
// One epoll fd per process, created on first use (`netpollGenericInit`), plus an eventfd
// registered level-triggered with user data 0, which `netpollBreak` writes to wake a blocked
// epoll_wait. Every socket is registered once, edge-triggered, for
// EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET, with user data `pd address << 16 | fdseq` (invariant
// "Stale events dropped"). Mapping of events to waiters, as Go: IN, RDHUP, HUP or ERR wake the
// reader; OUT, HUP or ERR wake the writer (an error or hang-up must reach whoever waits, whose
// syscall then reports it).
//
// Rejected: NIO's (registration id, fd) pair plus a table lookup (the pollDesc address saves
// the lookup, and pollDescs are never freed, so the pointer is always valid); a pipe for the
// break (an eventfd is one descriptor and its counter never fills in practice).

import CSpool
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

private let epollCtlAdd: Int32 = 1 // EPOLL_CTL_ADD
private let epollCtlDel: Int32 = 2 // EPOLL_CTL_DEL
private let epollIn = EPOLLIN.rawValue
private let epollOut = EPOLLOUT.rawValue
private let epollErr = EPOLLERR.rawValue
private let epollHup = EPOLLHUP.rawValue
private let epollRdHup = EPOLLRDHUP.rawValue
private let epollET = EPOLLET.rawValue

/// Events fetched per epoll_wait (Go: 128).
private let netpollBatch = 128

/// Creates the epoll fd and the break eventfd once per process. Go's netpollGenericInit.
/// Context: any.
func netpollGenericInit() {
    if netpollInited.load(ordering: .acquiring) { return }
    netpollInitLock.lock()
    if !netpollInited.load(ordering: .acquiring) {
        let epfd = sysEpollCreate()
        let efd = sysEventfd()
        if case .failure(let e) = sysEpollCtl(epfd, epollCtlAdd, efd, events: epollIn, data: 0) {
            fatal("runtime: epoll_ctl of the netpoll eventfd failed with \(e)")
        }
        netpollEpfd = epfd
        netpollEventFd = efd
        // releasing: publishes the two fds to every acquiring load of netpollInited.
        netpollInited.store(true, ordering: .releasing)
    }
    netpollInitLock.unlock()
}

/// The epoll user data of `pd` in its current registration.
@inline(__always)
func netpollPackData(_ pd: PollDescPtr, _ tag: UInt) -> UInt64 {
    UInt64(UInt(bitPattern: pd)) << 16 | UInt64(tag & 0xFFFF)
}

/// Registers `fd` with a fresh pollDesc (edge-triggered, both directions). Returns the
/// pollDesc, or the errno of epoll_ctl. Go's poll_runtime_pollOpen + netpollopen.
/// Context: any.
func pollOpen(_ fd: Int32) -> Result<PollDescPtr, NetError> {
    netpollGenericInit()
    let pd = pollcacheAlloc()
    pd.pointee.lock.lock()
    let rg = pd.pointee.rg.pointee.state.load(ordering: .relaxed)
    let wg = pd.pointee.wg.pointee.state.load(ordering: .relaxed)
    precondition(rg <= pdReady && wg <= pdReady, "netpoll: a goroutine is parked on a free pollDesc")
    pd.pointee.fd = fd
    pd.pointee.closing = false
    pd.pointee.rd = 0
    pd.pointee.wd = 0
    pd.pointee.rtimer = 0
    pd.pointee.wtimer = 0
    pd.pointee.rg.pointee.state.store(pdNil, ordering: .sequentiallyConsistent)
    pd.pointee.wg.pointee.state.store(pdNil, ordering: .sequentiallyConsistent)
    pd.pointee.readHup.store(false, ordering: .releasing)
    publishInfo(pd)
    let tag = pd.pointee.fdseq.load(ordering: .relaxed)
    pd.pointee.lock.unlock()
    let events = epollIn | epollOut | epollRdHup | epollET
    if case .failure(let e) = sysEpollCtl(netpollEpfd, epollCtlAdd, fd, events: events,
                                          data: netpollPackData(pd, tag)) {
        pollcacheFree(pd)
        return .failure(.system(op: "epoll_ctl", errno: e.rawValue))
    }
    return .success(pd)
}

/// Unregisters `pd`'s fd and frees `pd` (bumping its tag). The fd must still be open; the
/// caller closes it afterwards. Go's poll_runtime_pollClose. Context: any; `pd` is closing and
/// nobody waits on it.
func pollClose(_ pd: PollDescPtr) {
    precondition(pd.pointee.closing, "netpoll: pollClose without pollUnblock")
    let rg = pd.pointee.rg.pointee.state.load(ordering: .sequentiallyConsistent)
    let wg = pd.pointee.wg.pointee.state.load(ordering: .sequentiallyConsistent)
    precondition(rg <= pdReady && wg <= pdReady, "netpoll: closing an fd a goroutine is parked on")
    // ENOENT cannot happen (registered in pollOpen, fd still open); anything else is ignored:
    // the close that follows removes the registration anyway.
    _ = sysEpollCtl(netpollEpfd, epollCtlDel, pd.pointee.fd, events: 0, data: 0)
    pollcacheFree(pd)
}

/// Wakes the M blocked in netpoll, if any; at most one wakeup is in flight (Go's
/// netpollBreak). Context: any.
func netpollBreak() {
    // acquiringAndReleasing: partner of the blocking poll's releasing store of 0 after it
    // drained the eventfd; a failed CAS means a wakeup is already pending.
    if !netpollWakeSig.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged {
        return
    }
    _ = sysEventfdSignal(netpollEventFd) // false: counter saturated, a wakeup is pending anyway
}

/// Polls for ready fds: `delay` < 0 blocks until something happens, 0 does not block, > 0
/// blocks at most that many nanoseconds. The wait is also bounded by the earliest fd deadline,
/// and expired deadlines are fired. Returns the released Gs. Go's netpoll(delay).
/// Context: g0 (an M in findRunnable; with `delay` != 0 it holds no P).
func netpoll(_ delay: Int64) -> NetpollList {
    var list = NetpollList()
    var delay = delay
    // acquiring: partner of netpollDeadlinePush's releasing store.
    let d0 = netpollDeadline0.load(ordering: .acquiring)
    if d0 != 0 {
        let untilDeadline = max(d0 - spool_nanotime(), 0)
        if delay < 0 || untilDeadline < delay { delay = untilDeadline }
    }
    let waitms: Int32
    if delay < 0 {
        waitms = -1
    } else if delay == 0 {
        waitms = 0
    } else if delay < 1_000_000 {
        waitms = 1
    } else if delay < 1_000_000_000_000_000 {
        waitms = Int32(delay / 1_000_000)
    } else {
        waitms = 1_000_000_000 // Go's cap: about 11.5 days
    }
    var delta = 0
    withUnsafeTemporaryAllocation(of: epoll_event.self, capacity: netpollBatch) { buf in
        // SAFETY: `buf` is a g0-stack buffer of `netpollBatch` kernel-layout (packed) events,
        // alive for this closure; epoll_wait fills the first `n`.
        let events = buf.baseAddress!
        let n = sysEpollWait(netpollEpfd, events, Int32(netpollBatch), timeoutMs: waitms)
        for i in 0..<n {
            let ev = spool_epoll_event_events(events, i)
            let data = spool_epoll_event_data(events, i)
            delta += netpollHandleEvent(ev, data, blocking: delay != 0, &list)
        }
    }
    // Fire due deadlines, including one set while we waited (its setter broke the wait).
    let dl = netpollDeadline0.load(ordering: .acquiring)
    if dl != 0 {
        let now = spool_nanotime()
        if dl <= now { delta += netpollExpireDeadlines(now, &list) }
    }
    // relaxed: a hint (see "Waiters" in Netpoll.swift).
    if delta != 0 { netpollWaiters.wrappingAdd(delta, ordering: .relaxed) }
    return list
}

/// Handles one epoll event: the break eventfd (drained only by a blocking poll, as in Go, so a
/// non-blocking poll cannot swallow a wakeup meant for the blocked poller), or a pollDesc whose
/// tag must match its registration ("Stale events dropped"). Returns the waiter-count delta.
/// Separate so tests can feed it stale events. Context: the poller.
func netpollHandleEvent(_ ev: UInt32, _ data: UInt64, blocking: Bool, _ list: inout NetpollList) -> Int {
    if ev == 0 { return 0 }
    if data == 0 {
        if ev != epollIn { fatal("runtime: netpoll eventfd ready for \(ev)") }
        if blocking {
            sysEventfdDrain(netpollEventFd)
            // releasing: partner of netpollBreak's CAS (a new break may be sent from now on).
            netpollWakeSig.store(0, ordering: .releasing)
        }
        return 0
    }
    // SAFETY: non-zero user data is always a pollDesc address packed by netpollPackData, and
    // pollDescs are never freed; the tag check below drops events of an earlier registration.
    guard let pd = PollDescPtr(bitPattern: UInt(data >> 16)) else { return 0 }
    let tag = UInt(data & 0xFFFF)
    // acquiring: partner of pollcacheFree's releasing store.
    if pd.pointee.fdseq.load(ordering: .acquiring) != tag { return 0 }
    let read = ev & (epollIn | epollRdHup | epollHup | epollErr) != 0
    let write = ev & (epollOut | epollHup | epollErr) != 0
    if !read && !write { return 0 }
    // releasing: before the reader is woken (or finds the readiness), it must see the hangup.
    if ev & (epollRdHup | epollHup | epollErr) != 0 { pd.pointee.readHup.store(true, ordering: .releasing) }
    return netpollready(&list, pd, read: read, write: write)
}
