// Run queues: the per-P local ring, `runnext`, and the global queue (Go's proc.go runq*).
//
// The local queue is Go's: a fixed ring of `capacity` slots (256; a power of two, smaller in
// tests) with a head and a tail. The owner P is the single producer and pops from the head;
// other Ps steal half of it by CAS on the head. When the ring is full, the owner moves half
// of it plus the new G to the global queue in one batch (`runqputslow`), so a spawning loop
// costs one lock per 128 Gs. `runnext` holds the G made runnable most recently by the running
// G (a woken receiver, a new G); it runs next and inherits the time slice, which keeps a
// ping-pong pair on one P.
//
// Invariants:
//  * "Owner writes the tail": only the owner stores `runqtail` and fills slots; a slot at
//    index i is written only while `i - head >= capacity` cannot be observed by a stealer.
//  * "Head by CAS": every consumer (owner or stealer) takes Gs only by advancing `runqhead` with
//    a CAS after copying the slots out, so a G is taken exactly once.
//  * "Half or nothing": `runqgrab` takes at most half; `runqputslow` moves exactly half.
//
// Differences from Go: slots are `Atomic<UInt>` loaded/stored relaxed (Go uses plain accesses
// the Go memory model tolerates; Swift requires atomics for racy reads). The ordering comes
// from the head/tail acquire/release pairs exactly as in Go.

import CSpool
import Synchronization

@inline(__always)
func gbits(_ gp: GPtr) -> UInt { UInt(bitPattern: gp) }
@inline(__always)
func gfrom(_ bits: UInt) -> GPtr? { GPtr(bitPattern: bits) }

/// Whether `pp` has no runnable G locally. Context: any thread (racy snapshot).
func runqempty(_ pp: PPtr) -> Bool {
    // Go's loop: read head, tail, runnext, then re-read tail to get a consistent snapshot.
    while true {
        let head = pp.pointee.runqhead.load(ordering: .acquiring)
        let tail = pp.pointee.runqtail.load(ordering: .acquiring)
        let next = pp.pointee.runnext.load(ordering: .acquiring)
        if tail == pp.pointee.runqtail.load(ordering: .acquiring) {
            return head == tail && next == 0
        }
    }
}

/// Puts `gp` on `pp`'s local queue; with `next`, into `runnext` (the old runnext is kicked to
/// the tail). Overflows half the queue to the global queue. Mirrors Go's `runqput`.
/// Context: the owner of `pp` (on a G or g0).
func runqput(_ s: SchedPtr, _ pp: PPtr, _ gp: GPtr, next: Bool) {
    var gp = gp
    if next {
        // Owner-side swap; stealers only CAS runnext to 0. acquiringAndReleasing: publishes gp
        // to a stealer's acquiring load in runqgrab and takes the old value.
        var old = pp.pointee.runnext.load(ordering: .relaxed)
        while true {
            let (ok, cur) = pp.pointee.runnext.compareExchange(
                expected: old, desired: gbits(gp), ordering: .acquiringAndReleasing)
            if ok { break }
            old = cur
        }
        guard let kicked = gfrom(old) else { return }
        gp = kicked
    }
    while true {
        // acquiring: pairs with stealers' releasing CAS on runqhead (slots they copied are free).
        let h = pp.pointee.runqhead.load(ordering: .acquiring)
        let t = pp.pointee.runqtail.load(ordering: .relaxed) // only the owner writes it
        if t &- h < pp.pointee.runqCapacity {
            pp.pointee.runq[Int(t & pp.pointee.runqMask)].store(gbits(gp), ordering: .relaxed)
            // releasing: makes the slot visible to consumers' acquiring load of runqtail.
            pp.pointee.runqtail.store(t &+ 1, ordering: .releasing)
            return
        }
        if runqputslow(s, pp, gp, h, t) { return }
        // The queue is not full now (a stealer took some); retry.
    }
}

/// Moves half of the full local queue plus `gp` to the global queue. Mirrors Go's
/// `runqputslow`. Context: the owner of `pp`.
func runqputslow(_ s: SchedPtr, _ pp: PPtr, _ gp: GPtr, _ h: UInt32, _ t: UInt32) -> Bool {
    let n = (t &- h) / 2
    precondition(n == pp.pointee.runqCapacity / 2, "runqputslow: queue is not full")
    var batch = [GPtr]()
    batch.reserveCapacity(Int(n) + 1)
    for i in 0..<n {
        batch.append(gfrom(pp.pointee.runq[Int((h &+ i) & pp.pointee.runqMask)].load(ordering: .relaxed))!)
    }
    // releasing: the copies above happen before stealers may reuse those slots; pairs with the
    // acquiring head loads in runqput/runqgrab.
    if !pp.pointee.runqhead.compareExchange(expected: h, desired: h &+ n, ordering: .releasing).exchanged {
        return false
    }
    batch.append(gp)
    for i in 0..<(batch.count - 1) { batch[i].pointee.schedlink = batch[i + 1] }
    batch[batch.count - 1].pointee.schedlink = nil
    s.pointee.lock.lock()
    globrunqputbatch(s, batch[0], batch[batch.count - 1], batch.count)
    s.pointee.lock.unlock()
    return true
}

/// Takes a G from `pp`: runnext first (inheriting the time slice), then the head.
/// Mirrors Go's `runqget`. Context: the owner of `pp`.
func runqget(_ pp: PPtr) -> (GPtr, inheritTime: Bool)? {
    let next = pp.pointee.runnext.load(ordering: .relaxed)
    // A stealer may CAS runnext to 0 concurrently, so the owner CASes too.
    if next != 0,
       pp.pointee.runnext.compareExchange(expected: next, desired: 0, ordering: .acquiring).exchanged {
        return (gfrom(next)!, true)
    }
    return runqgetHead(pp).map { ($0, false) }
}

/// Takes the G at the head of `pp`'s local queue, leaving `runnext` alone.
/// Context: the owner of `pp`.
func runqgetHead(_ pp: PPtr) -> GPtr? {
    while true {
        // acquiring: pairs with other consumers' releasing CAS.
        let h = pp.pointee.runqhead.load(ordering: .acquiring)
        let t = pp.pointee.runqtail.load(ordering: .relaxed)
        if t == h { return nil }
        let gp = pp.pointee.runq[Int(h & pp.pointee.runqMask)].load(ordering: .relaxed)
        // releasing: our read of the slot happens before the owner may overwrite it.
        if pp.pointee.runqhead.compareExchange(expected: h, desired: h &+ 1, ordering: .releasing).exchanged {
            return gfrom(gp)!
        }
    }
}

/// Copies up to half of `pp`'s queue into `batch` (a ring of `batchMask + 1` slots) starting
/// at `batchHead`; with `stealRunNext`, takes `runnext` when the queue is empty. Returns how
/// many. Mirrors Go's `runqgrab`. Context: any M holding some other P.
func runqgrab(_ pp: PPtr, _ batch: UnsafeMutablePointer<Atomic<UInt>>, _ batchMask: UInt32,
              _ batchHead: UInt32, stealRunNext: Bool) -> UInt32 {
    while true {
        // acquiring (both): pairs with the owner's releasing tail store and consumers' CAS.
        let h = pp.pointee.runqhead.load(ordering: .acquiring)
        let t = pp.pointee.runqtail.load(ordering: .acquiring)
        var n = t &- h
        n = n - n / 2
        if n == 0 {
            if stealRunNext {
                let next = pp.pointee.runnext.load(ordering: .acquiring)
                if next != 0 {
                    if pp.pointee.status == .running {
                        // Go sleeps 3 µs here so that a P about to run its runnext (a ping-pong
                        // partner that was just woken) gets to do so; stealing it would bounce
                        // the pair between Ps.
                        spool_usleep_ns(3_000)
                    }
                    if !pp.pointee.runnext.compareExchange(expected: next, desired: 0, ordering: .acquiring).exchanged {
                        continue
                    }
                    batch[Int(batchHead & batchMask)].store(next, ordering: .relaxed)
                    return 1
                }
            }
            return 0
        }
        if n > pp.pointee.runqCapacity / 2 { continue } // read inconsistent h and t
        for i in 0..<n {
            let g = pp.pointee.runq[Int((h &+ i) & pp.pointee.runqMask)].load(ordering: .relaxed)
            batch[Int((batchHead &+ i) & batchMask)].store(g, ordering: .relaxed)
        }
        // releasing: the copies happen before the owner may reuse the slots.
        if pp.pointee.runqhead.compareExchange(expected: h, desired: h &+ n, ordering: .releasing).exchanged {
            return n
        }
    }
}

/// Steals half of `p2`'s queue into `pp`'s and returns one G to run. Mirrors Go's `runqsteal`.
/// Context: the owner of `pp`, whose local queue is empty.
func runqsteal(_ pp: PPtr, _ p2: PPtr, stealRunNext: Bool) -> (GPtr, count: Int)? {
    let t = pp.pointee.runqtail.load(ordering: .relaxed)
    var n = runqgrab(p2, pp.pointee.runq, pp.pointee.runqMask, t, stealRunNext: stealRunNext)
    if n == 0 { return nil }
    let count = Int(n)
    n -= 1
    let gp = gfrom(pp.pointee.runq[Int((t &+ n) & pp.pointee.runqMask)].load(ordering: .relaxed))!
    if n == 0 { return (gp, count) }
    let h = pp.pointee.runqhead.load(ordering: .acquiring)
    precondition(t &- h &+ n < pp.pointee.runqCapacity, "runqsteal: runq overflow")
    // releasing: publishes the stolen slots to consumers of pp.
    pp.pointee.runqtail.store(t &+ n, ordering: .releasing)
    return (gp, count)
}

// MARK: - Global run queue (sched.lock held)

/// Appends `gp` to the global queue. Context: sched.lock held.
func globrunqput(_ s: SchedPtr, _ gp: GPtr) {
    gp.pointee.schedlink = nil
    if let t = s.pointee.runqtail { t.pointee.schedlink = gp } else { s.pointee.runqhead = gp }
    s.pointee.runqtail = gp
    // relaxed: written under sched.lock; lock-free readers only use it as a hint.
    s.pointee.runqsize.wrappingAdd(1, ordering: .relaxed)
}

/// Appends the linked batch `head…tail` of `n` Gs. Context: sched.lock held.
func globrunqputbatch(_ s: SchedPtr, _ head: GPtr, _ tail: GPtr, _ n: Int) {
    tail.pointee.schedlink = nil
    if let t = s.pointee.runqtail { t.pointee.schedlink = head } else { s.pointee.runqhead = head }
    s.pointee.runqtail = tail
    s.pointee.runqsize.wrappingAdd(n, ordering: .relaxed)
}

/// Takes a batch from the global queue: returns one G and puts the rest on `pp`'s local queue.
/// `max` > 0 limits the batch. Mirrors Go's `globrunqget`. Context: sched.lock held; the
/// caller owns `pp`.
func globrunqget(_ s: SchedPtr, _ pp: PPtr, max: Int) -> GPtr? {
    let size = s.pointee.runqsize.load(ordering: .relaxed)
    if size == 0 { return nil }
    var n = size / s.pointee.procs + 1
    if n > size { n = size }
    if max > 0 && n > max { n = max }
    let half = Int(pp.pointee.runqCapacity / 2)
    if n > half { n = half }
    s.pointee.runqsize.wrappingSubtract(n, ordering: .relaxed)
    let gp = globrunqpop(s)!
    n -= 1
    while n > 0 {
        let g1 = globrunqpop(s)!
        runqput(s, pp, g1, next: false)
        n -= 1
    }
    return gp
}

@inline(__always)
private func globrunqpop(_ s: SchedPtr) -> GPtr? {
    guard let gp = s.pointee.runqhead else { return nil }
    s.pointee.runqhead = gp.pointee.schedlink
    if s.pointee.runqhead == nil { s.pointee.runqtail = nil }
    gp.pointee.schedlink = nil
    return gp
}
