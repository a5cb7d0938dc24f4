// Runtime locks and notes: the two futex-based primitives the scheduler is built on.
//
// A `RuntimeLock` is Go's `mutex` (lock_futex.go): a three-state futex word (0 unlocked,
// 1 locked, 2 locked with sleepers). It blocks the *thread*, so it may only guard short
// critical sections that never switch goroutines while held, with one sanctioned exception:
// invariant "Unlock on g0" — `gopark` may be entered with a lock held; the lock is released
// by the M's g0 right after the parking G's registers are saved, so that no waker can see the
// G before it is fully parked (Go's `unlockf`). The lock is not owned by a thread (unlike
// pthread mutexes, `Synchronization.Mutex` or NSLock), so releasing it on g0 of the same M,
// or on any other thread, is legal.
//
// A `Note` is Go's `note`: a one-shot wakeup for one sleeping thread (an idle M, the thread
// waiting in `Runtime.run`, the trace flusher). `notewakeup` sets the word and wakes the
// futex; `notesleep` waits until it is set; `noteclear` re-arms it.
//
// Both hold a pointer to a separately allocated `Atomic<UInt32>` so the futex has a stable
// address and the handle is a plain copyable value; the word is never freed for locks and
// notes that belong to long-lived runtime structures (they are leaked with them).
//
// Rejected: pthread mutexes and condition variables (thread-owned; unsafe to release on
// another thread, and they would tie a lock to an M across a goroutine switch).

import CSpool
import Synchronization

typealias Word = UnsafeMutablePointer<Atomic<UInt32>>

@inline(__always)
func allocWord(_ v: UInt32 = 0) -> Word {
    let w = Word.allocate(capacity: 1)
    w.initialize(to: Atomic<UInt32>(v))
    return w
}

/// Go's runtime `mutex`. Context: any thread (G, g0 or a foreign thread); never held across a
/// goroutine switch except through `gopark` (invariant "Unlock on g0").
struct RuntimeLock {
    let word: Word

    init() { word = allocWord() }

    @inline(__always)
    func lock() {
        // acquiring: pairs with the releasing exchange in `unlock`.
        if word.pointee.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged {
            return
        }
        lockSlow()
    }

    @inline(never)
    func lockSlow() {
        var spins = 0
        while true {
            // Spin a little: critical sections are a few hundred nanoseconds.
            if spins < 4 {
                for _ in 0..<30 where word.pointee.load(ordering: .relaxed) != 0 {}
                if word.pointee.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged {
                    return
                }
            } else if spins < 5 {
                spool_osyield()
            } else {
                // Mark contended, then sleep; whoever unlocks a contended lock wakes one sleeper.
                // acquiring: pairs with `unlock`'s releasing exchange.
                if word.pointee.exchange(2, ordering: .acquiring) == 0 { return }
                _ = spool_futex_wait(UnsafeMutableRawPointer(word), 2, -1)
            }
            spins += 1
        }
    }

    /// Releases the lock; if it was contended (word 2), wakes one sleeper. A woken sleeper
    /// re-takes the lock with an exchange to 2, so later unlocks keep waking the others.
    @inline(__always)
    func unlock() {
        // releasing: pairs with the acquiring CAS/exchange in `lock`.
        let old = word.pointee.exchange(0, ordering: .releasing)
        assert(old != 0, "unlock of unlocked RuntimeLock")
        if old == 2 { spool_futex_wake(UnsafeMutableRawPointer(word), 1) }
    }
}

/// Go's `note`. One sleeper, any number of wakers; re-armed with `clear`.
struct Note {
    let word: Word

    init() { word = allocWord() }

    /// Context: the owning thread, before it may sleep again.
    func clear() { word.pointee.store(0, ordering: .relaxed) }

    /// Context: any thread. releasing: pairs with the acquiring loads in `sleep`.
    func wakeup() {
        word.pointee.store(1, ordering: .releasing)
        spool_futex_wake(UnsafeMutableRawPointer(word), 1)
    }

    /// Blocks the thread until `wakeup`. Context: the owning thread, never a G (it would block
    /// the M).
    func sleep() {
        while word.pointee.load(ordering: .acquiring) == 0 {
            _ = spool_futex_wait(UnsafeMutableRawPointer(word), 0, -1)
        }
    }

    /// Blocks until `wakeup` or until `ns` nanoseconds passed. Returns whether it was woken.
    func sleep(timeoutNs ns: Int64) -> Bool {
        let deadline = spool_nanotime() + ns
        while word.pointee.load(ordering: .acquiring) == 0 {
            let left = deadline - spool_nanotime()
            if left <= 0 { return word.pointee.load(ordering: .acquiring) != 0 }
            _ = spool_futex_wait(UnsafeMutableRawPointer(word), 0, left)
        }
        return true
    }

    var isSet: Bool { word.pointee.load(ordering: .acquiring) != 0 }
}
