// Timers: `Runtime.sleep(for:)`.
//
// One min-heap of (when, G) per runtime instance, under `sched.timersLock`; `sched.timer0When`
// mirrors the earliest `when` (0: none) so that `findRunnable` can skip the lock when nothing
// is due. Expired timers are run by whichever M passes through `findRunnable` first (it holds a
// P, so the woken G goes on that P's queue with a `GoWake(timer)` event). When every M would
// park, one of them (`sched.timerWaiter`) parks with a timeout until the earliest timer.
//
// Invariant "Timer order": the timers lock is taken before sched.lock, never after.
// Invariant "Parked before due": a sleeping G holds the timers lock from inserting its timer
// until g0 has parked it ("Unlock on g0"), so the timer cannot fire into a running G.
//
// Rejected for now: Go's per-P timer heaps with timer stealing (a global heap is simpler and
// the lock is only taken by sleepers and when a timer is due); netpoll-based waiting (there is
// no netpoller yet; the futex timeout plays its role).

import CSpool
import Synchronization
import SpoolTraceFormat

/// Parks the current G for `ns` nanoseconds. Context: on a G.
func timeSleep(_ ns: Int64) {
    guard let mp = getm(), let gp = mp.pointee.curg else {
        fatal("Runtime.sleep called outside a goroutine")
    }
    if ns <= 0 { return }
    let s = mp.pointee.sched
    let when = spool_nanotime() + ns
    s.pointee.timersLock.lock()
    let old = s.pointee.timer0When.load(ordering: .relaxed)
    timerPush(s, Timer(when: when, g: gp))
    // releasing: pairs with findRunnable's / stopm's acquiring loads.
    s.pointee.timer0When.store(s.pointee.timers[0].when, ordering: .releasing)
    let earliest = old == 0 || when < old
    gopark(.sleep, earliest ? sleepCommitWake : sleepCommit, UnsafeMutableRawPointer(s))
}

private let sleepCommit: @convention(c) (UnsafeMutableRawPointer?) -> Void = { arg in
    // SAFETY: arg is the sleeping G's SchedPtr, alive for the instance.
    let s = arg!.assumingMemoryBound(to: Sched.self)
    s.pointee.timersLock.unlock()
}

private let sleepCommitWake: @convention(c) (UnsafeMutableRawPointer?) -> Void = { arg in
    // SAFETY: as sleepCommit.
    let s = arg!.assumingMemoryBound(to: Sched.self)
    s.pointee.timersLock.unlock()
    wakeTimerWaiter(s)
}

/// The earliest timer changed: make the M that waits for timers recompute its deadline, or,
/// if no M waits and some P is idle, get one going. Context: g0 (after a park).
func wakeTimerWaiter(_ s: SchedPtr) {
    s.pointee.lock.lock()
    if let w = s.pointee.timerWaiter {
        mremove(s, w)
        w.pointee.nextp = nil
        s.pointee.lock.unlock()
        w.pointee.park.wakeup()
        return
    }
    s.pointee.lock.unlock()
    netpollTimerChanged(s) // an M blocked in netpoll past the new timer recomputes its sleep
    // With no P idle, only sysmon's preemption fires the timer in time ("Overdue timers"); a
    // sysmon in a relaxed sleep planned before this timer existed comes back to plan again
    // ("Relaxed ticks", Sysmon.swift); not one in its deep sleep (`pidleget` decides those).
    // relaxed: hints.
    if s.pointee.npidle.load(ordering: .relaxed) == 0 && !s.pointee.sysmonWait.load(ordering: .relaxed) {
        sysmonWakeIfRelaxed(s)
    }
    wakep(s)
}

/// Readies every G whose timer is due. Context: an M holding `pp` (g0 in findRunnable).
func checkTimers(_ s: SchedPtr, _ pp: PPtr) {
    // acquiring: pairs with timeSleep's releasing store.
    let w = s.pointee.timer0When.load(ordering: .acquiring)
    if w == 0 { return }
    let now = spool_nanotime()
    if now < w { return }
    s.pointee.timersLock.lock()
    while let top = s.pointee.timers.first, top.when <= now {
        _ = timerPop(s)
        ready(s, pp, top.g, timer: true, next: false)
    }
    s.pointee.timer0When.store(s.pointee.timers.first?.when ?? 0, ordering: .releasing)
    s.pointee.timersLock.unlock()
}

// MARK: - Heap (timers lock held)

func timerPush(_ s: SchedPtr, _ t: Timer) {
    s.pointee.timers.append(t)
    var i = s.pointee.timers.count - 1
    while i > 0 {
        let parent = (i - 1) / 2
        if s.pointee.timers[parent].when <= s.pointee.timers[i].when { break }
        s.pointee.timers.swapAt(parent, i)
        i = parent
    }
}

func timerPop(_ s: SchedPtr) -> Timer? {
    let n = s.pointee.timers.count
    if n == 0 { return nil }
    s.pointee.timers.swapAt(0, n - 1)
    let top = s.pointee.timers.removeLast()
    var i = 0
    let m = n - 1
    while true {
        let l = 2 * i + 1, r = l + 1
        var smallest = i
        if l < m && s.pointee.timers[l].when < s.pointee.timers[smallest].when { smallest = l }
        if r < m && s.pointee.timers[r].when < s.pointee.timers[smallest].when { smallest = r }
        if smallest == i { break }
        s.pointee.timers.swapAt(i, smallest)
        i = smallest
    }
    return top
}
