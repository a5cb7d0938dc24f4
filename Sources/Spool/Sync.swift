// Goroutine-aware synchronization: `WaitGroup` and `GoMutex`.
//
// Both park the waiting goroutine (never its thread) on a FIFO of Gs linked through
// `G.schedlink` — a waiting G is in no run queue, so the link is free (invariant "One queue
// at a time", runtime2.swift) — under a `RuntimeLock`, and park with "Unlock on g0", so a
// wakeup can never be lost between deciding to wait and being parked.
//
// `GoMutex` hands ownership directly to the first waiter on unlock (no barging), which is
// simple and starvation-free; Go's sync.Mutex spins and lets newcomers barge for throughput
// and switches to handoff only when a waiter starved for 1 ms.
//
// Why OS locks are unsafe in goroutines: a pthread mutex, NSLock, `Synchronization.Mutex` or
// `DispatchQueue.sync` belongs to the *thread* that took it. If a goroutine blocks (channel,
// sleep, WaitGroup, GoMutex) while holding one, another goroutine on the same thread may try
// to take it ("Recursive call to lock Mutex", deadlock), and the holder may resume on a
// different thread and unlock a mutex it does not own there. Hold OS locks only for short
// sections that never call into Spool; use `GoMutex` otherwise.

import CSpool
import Synchronization
import SpoolTraceFormat

/// A FIFO of parked Gs linked through `schedlink`. Context: the owner's lock held.
struct GQueue {
    var head: GPtr? = nil
    var tail: GPtr? = nil

    mutating func push(_ gp: GPtr) {
        gp.pointee.schedlink = nil
        if let t = tail { t.pointee.schedlink = gp } else { head = gp }
        tail = gp
    }

    /// Pops the first G of the current instance (`gen`), dropping abandoned ones.
    mutating func pop(gen: UInt64) -> GPtr? {
        while let g = head {
            head = g.pointee.schedlink
            if head == nil { tail = nil }
            g.pointee.schedlink = nil
            if g.pointee.gen == gen { return g }
        }
        return nil
    }
}

/// Waits for a collection of goroutines to finish, as Go's `sync.WaitGroup`.
///
///     let wg = WaitGroup()
///     for i in 0..<n { wg.add(1); go { work(i); wg.done() } }
///     wg.wait()
///
/// Context: `wait()` must run on a goroutine and parks it. `add`/`done` run on a goroutine
/// when they may release waiters. The counter going negative traps.
public final class WaitGroup: @unchecked Sendable {
    let mu = RuntimeLock()
    var counter = 0
    var waiters = GQueue()

    public init() {}

    /// Adds `delta` (may be negative) to the counter; at zero, every waiter is released.
    public func add(_ delta: Int) {
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        mu.lock()
        counter += delta
        if counter < 0 {
            mu.unlock()
            fatal("WaitGroup counter went negative")
        }
        if counter > 0 || waiters.head == nil {
            mu.unlock()
            return
        }
        let (mp, _) = currentGLocked("WaitGroup.done/add releasing waiters")
        let gen = mp.pointee.sched.pointee.gen
        var list: [GPtr] = []
        while let g = waiters.pop(gen: gen) { list.append(g) }
        mu.unlock()
        for g in list { goready(g) }
    }

    /// Decrements the counter by one.
    public func done() { add(-1) }

    /// Parks the goroutine until the counter is zero.
    public func wait() {
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        let (_, gp) = currentG("WaitGroup.wait")
        mu.lock()
        if counter == 0 {
            mu.unlock()
            return
        }
        waiters.push(gp)
        gopark(.waitGroup, parkUnlockLock, mu.raw)
    }

    private func currentGLocked(_ api: StaticString) -> (MPtr, GPtr) {
        guard let mp = getm(), let gp = mp.pointee.curg else {
            mu.unlock()
            fatal("\(api) must be called on a goroutine (inside Runtime.run)")
        }
        return (mp, gp)
    }
}

/// A mutual-exclusion lock for goroutines: a contended `lock()` parks the goroutine, not the
/// thread, and the lock may be released on a different thread than it was taken on (a
/// goroutine migrates between threads). Use it instead of OS locks (pthread, NSLock,
/// `Synchronization.Mutex`) whenever the critical section can block in Spool — see the module
/// documentation for why OS locks held across a goroutine switch break.
///
/// Unlock hands ownership to the longest waiter (FIFO). Not reentrant. Context: on a goroutine.
///
/// `state` is the lock word: bit 0 set while held, the rest the number of parked waiters
/// (times 2). Uncontended lock and unlock are one CAS each; `mu` guards the waiter queue and
/// every change of the waiter count, so a waiter that counted itself is on the queue before
/// any unlocker can look (invariant "Counted means queued").
public final class GoMutex: @unchecked Sendable {
    let mu = RuntimeLock()
    let state = Atomic<Int>(0)
    var waiters = GQueue()

    public init() {}

    /// Takes the lock, parking the goroutine while another holds it.
    public func lock() {
        // acquiring: the holder's critical section happens before ours.
        if state.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged { return }
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        let (_, gp) = currentG("GoMutex.lock")
        mu.lock()
        var s = state.load(ordering: .relaxed)
        while true {
            if s & 1 == 0 {
                let (done, now) = state.compareExchange(expected: s, desired: s | 1, ordering: .acquiring)
                if done { mu.unlock(); return }
                s = now
                continue
            }
            let (counted, now) = state.compareExchange(expected: s, desired: s + 2, ordering: .relaxed)
            if counted { break }
            s = now
        }
        waiters.push(gp)
        // Woken by unlock with ownership already transferred to us (the unlocker's releasing
        // update of `state` and the park/ready handshake order its critical section first).
        gopark(.mutex, parkUnlockLock, mu.raw)
    }

    /// Takes the lock if it is free.
    public func tryLock() -> Bool {
        var s = state.load(ordering: .relaxed)
        while s & 1 == 0 {
            let (done, now) = state.compareExchange(expected: s, desired: s | 1, ordering: .acquiring)
            if done { return true }
            s = now
        }
        return false
    }

    /// Releases the lock; the first waiter, if any, becomes the owner. Unlocking an unlocked
    /// GoMutex traps.
    public func unlock() {
        // releasing: our critical section happens before the next holder's.
        if state.compareExchange(expected: 1, desired: 0, ordering: .releasing).exchanged { return }
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        let (mp, _) = currentG("GoMutex.unlock")
        mu.lock()
        // Stable while we hold `mu` and bit 0: lockers change it only under `mu` or from 0.
        if state.load(ordering: .relaxed) & 1 == 0 {
            mu.unlock()
            fatal("unlock of unlocked GoMutex")
        }
        if let g = waiters.pop(gen: mp.pointee.sched.pointee.gen) {
            // Bit 0 stays set: ownership passes to g. releasing: our critical section
            // happens before g's.
            state.wrappingSubtract(2, ordering: .releasing)
            mu.unlock()
            goready(g)
            return
        }
        // No waiter left: unlocked, and the count reset (`pop` drops waiters left parked by a
        // run that ended, which were counted).
        state.store(0, ordering: .releasing)
        mu.unlock()
    }

    /// Runs `body` holding the lock.
    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}
