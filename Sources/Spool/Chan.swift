// Channels and select (Go's chan.go and select.go).
//
// A channel is a lock, a ring buffer of `capacity` values, and two queues of waiting
// goroutines (`sudog`s): senders and receivers. A sender that finds a waiting receiver hands
// the value straight into the receiver's slot and readies it; otherwise it buffers, or parks
// on `sendq`. A receiver is symmetric; with a full buffer and a waiting sender, it takes the
// head of the buffer and moves the sender's value to the tail (FIFO is kept).
//
// Invariants:
//  * "Waiters only when stuck": `recvq` is non-empty only when the buffer is empty, and
//    `sendq` only when it is full (or the channel is unbuffered); both are empty once closed.
//  * "Unlock on g0" (Lock.swift): a parking G holds the channel lock until its registers are
//    saved, so a waker never readies a G that has not finished parking.
//  * "One winner": a G blocked in `select` sits on several queues; whoever dequeues one of its
//    sudogs first wins the CAS on the select's `done` word, and the others skip it.
//  * "Lock order": `select` locks its channels in address order; nothing else holds two
//    channel locks. Channel locks come before sched.lock.
//
// A sudog lives in manually allocated memory for the duration of one blocking operation; the
// value slot it points to is an `Optional<T>` the waker fills (receive) or empties (send).
// Waiters belonging to an earlier, finished `Runtime.run` (abandoned goroutines) are dropped
// from the queues when met: they are never readied.

import CSpool
import Synchronization
import SpoolTraceFormat

typealias SudogPtr = UnsafeMutablePointer<Sudog>

/// A goroutine waiting on a channel (Go's `sudog`).
struct Sudog {
    var g: GPtr
    /// The `Optional<T>` slot: filled by a sender for a receiver, emptied by a receiver.
    var elem: UnsafeMutableRawPointer
    var next: SudogPtr? = nil
    var prev: SudogPtr? = nil
    var queued = false
    /// For select: the shared "someone won" word and this sudog's case index.
    var selectDone: UnsafeMutablePointer<Atomic<UInt32>>? = nil
    var caseIndex = 0
    /// True when woken by a completed operation, false when woken by close.
    var success = false
}

/// A channel's mutable state (guarded by the channel's lock).
struct ChanState {
    var qcount = 0
    var sendx = 0
    var recvx = 0
    var closed = false
    var recvq = WaitQ()
    var sendq = WaitQ()
}

/// A FIFO of sudogs. Context: the owning channel's lock held.
struct WaitQ {
    var first: SudogPtr? = nil
    var last: SudogPtr? = nil

    var isEmpty: Bool { first == nil }

    mutating func enqueue(_ sg: SudogPtr) {
        sg.pointee.next = nil
        sg.pointee.prev = last
        sg.pointee.queued = true
        if let l = last { l.pointee.next = sg } else { first = sg }
        last = sg
    }

    /// Removes and returns the first sudog that can be completed: skips select sudogs whose
    /// select was already won ("One winner") and waiters of abandoned instances. Mirrors Go's
    /// `waitq.dequeue`.
    mutating func dequeue(gen: UInt64) -> SudogPtr? {
        while let sg = first {
            remove(sg)
            if sg.pointee.g.pointee.gen != gen { continue }
            if let done = sg.pointee.selectDone {
                // acquiringAndReleasing: the winner's writes to the select's state are
                // ordered with the selecting G's reads after it wakes.
                if !done.pointee.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged {
                    continue
                }
            }
            return sg
        }
        return nil
    }

    /// Unlinks `sg` if it is still queued (Go's `dequeueSudoG`).
    mutating func remove(_ sg: SudogPtr) {
        guard sg.pointee.queued else { return }
        if let p = sg.pointee.prev { p.pointee.next = sg.pointee.next } else { first = sg.pointee.next }
        if let n = sg.pointee.next { n.pointee.prev = sg.pointee.prev } else { last = sg.pointee.prev }
        sg.pointee.next = nil
        sg.pointee.prev = nil
        sg.pointee.queued = false
    }
}

/// The running goroutine, or a clear fatal error naming `api`.
@inline(__always)
func currentG(_ api: StaticString) -> (MPtr, GPtr) {
    guard let mp = getm(), let gp = mp.pointee.curg else {
        fatal("\(api) must be called on a goroutine (inside Runtime.run)")
    }
    return (mp, gp)
}

/// A typed conduit between goroutines, as Go's `chan T`.
///
/// `Channel(capacity: 0)` (the default) is unbuffered: `send` waits for a receiver. With a
/// capacity, `send` waits only while the buffer is full. `receive()` returns `nil` once the
/// channel is closed and drained. Sending on, or closing, a closed channel is a programming
/// error and traps.
///
/// Context: every operation must run on a goroutine (inside `Runtime.run`); blocking parks the
/// goroutine, never its thread. Iterating (`for v in channel`) receives until closed.
public final class Channel<T>: @unchecked Sendable {
    let mu = RuntimeLock()
    /// Buffer size (0: unbuffered).
    public let capacity: Int
    let buf: UnsafeMutablePointer<T>
    /// The mutable state, in manually allocated memory: accesses through a pointer carry no
    /// dynamic exclusivity checks (class stored properties would, on every access). Guarded
    /// by `mu`.
    let st: UnsafeMutablePointer<ChanState>
    var qcount: Int { get { st.pointee.qcount } set { st.pointee.qcount = newValue } }
    var sendx: Int { get { st.pointee.sendx } set { st.pointee.sendx = newValue } }
    var recvx: Int { get { st.pointee.recvx } set { st.pointee.recvx = newValue } }
    var closed: Bool { get { st.pointee.closed } set { st.pointee.closed = newValue } }

    public init(capacity: Int = 0) {
        precondition(capacity >= 0, "Channel capacity must not be negative")
        self.capacity = capacity
        buf = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(capacity, 1))
        st = UnsafeMutablePointer<ChanState>.allocate(capacity: 1)
        st.initialize(to: ChanState())
    }

    deinit {
        var i = recvx
        for _ in 0..<qcount {
            (buf + i).deinitialize(count: 1)
            i = i + 1 == capacity ? 0 : i + 1
        }
        buf.deallocate()
        st.deallocate()
        mu.word.deallocate()
    }

    /// Number of buffered values (a snapshot).
    public var count: Int {
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        mu.lock(); defer { mu.unlock() }
        return qcount
    }

    /// Sends `value`, waiting while no receiver or buffer space is available.
    /// Traps if the channel is closed (before or while waiting).
    public func send(_ value: T) {
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        let (mp, gp) = currentG("Channel.send")
        mu.lock()
        if trySendLocked(value, gen: mp.pointee.sched.pointee.gen) { return }
        // Block: the value waits in a slot the receiver empties.
        let (raw, cap, sg, slot) = allocSudog(gp)
        slot.initialize(to: value)
        st.pointee.sendq.enqueue(sg)
        gopark(.chanSend, parkUnlockLock, mu.raw)
        // Resumed (maybe on another M): the waker completed or closed.
        let ok = sg.pointee.success
        slot.deinitialize(count: 1)
        freeSudog(gp, raw, cap)
        if !ok { sendOnClosed() }
    }

    /// The non-blocking part of send. Returns true (lock released) when done; false with the
    /// lock still held when the caller must block. Context: `mu` held, on a G.
    func trySendLocked(_ value: T, gen: UInt64) -> Bool {
        if closed {
            mu.unlock()
            sendOnClosed()
        }
        if let sg = st.pointee.recvq.dequeue(gen: gen) {
            // SAFETY: a receiver's elem is its `T?` slot, alive until it resumes.
            sg.pointee.elem.assumingMemoryBound(to: T?.self).pointee = value
            sg.pointee.success = true
            let g = sg.pointee.g
            g.pointee.param = UnsafeMutableRawPointer(sg)
            mu.unlock()
            goready(g)
            return true
        }
        if qcount < capacity {
            (buf + sendx).initialize(to: value)
            sendx = sendx + 1 == capacity ? 0 : sendx + 1
            qcount += 1
            mu.unlock()
            return true
        }
        return false
    }

    /// Receives a value, waiting while none is available. Returns nil once the channel is
    /// closed and its buffer drained.
    public func receive() -> T? {
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        let (mp, gp) = currentG("Channel.receive")
        mu.lock()
        if let r = tryRecvLocked(gen: mp.pointee.sched.pointee.gen) { return r.value }
        let (raw, cap, sg, slot) = allocSudog(gp)
        slot.initialize(to: nil)
        st.pointee.recvq.enqueue(sg)
        gopark(.chanRecv, parkUnlockLock, mu.raw)
        let v = slot.move()
        freeSudog(gp, raw, cap)
        return v
    }

    /// The non-blocking part of receive: nil (lock held) when the caller must block; otherwise
    /// the result (nil value: closed), lock released. Context: `mu` held, on a G.
    func tryRecvLocked(gen: UInt64) -> (value: T?, Void)? {
        if let sg = st.pointee.sendq.dequeue(gen: gen) {
            // SAFETY: a sender's elem is its `T?` slot holding the value, alive until it resumes.
            let senderSlot = sg.pointee.elem.assumingMemoryBound(to: T?.self)
            let v: T
            if capacity == 0 {
                v = senderSlot.pointee.take()!
            } else {
                // Full buffer: take the head, the sender's value goes to the tail.
                v = (buf + recvx).move()
                (buf + recvx).initialize(to: senderSlot.pointee.take()!)
                recvx = recvx + 1 == capacity ? 0 : recvx + 1
                sendx = recvx
            }
            sg.pointee.success = true
            let g = sg.pointee.g
            g.pointee.param = UnsafeMutableRawPointer(sg)
            mu.unlock()
            goready(g)
            return (v, ())
        }
        if qcount > 0 {
            let v = (buf + recvx).move()
            recvx = recvx + 1 == capacity ? 0 : recvx + 1
            qcount -= 1
            mu.unlock()
            return (v, ())
        }
        if closed {
            mu.unlock()
            return (nil, ())
        }
        return nil
    }

    /// Closes the channel: waiting receivers get nil, later receives drain the buffer then get
    /// nil. Traps if already closed. Waiting senders trap (send on closed channel).
    public func close() {
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        let (mp, _) = currentG("Channel.close")
        let gen = mp.pointee.sched.pointee.gen
        mu.lock()
        if closed {
            mu.unlock()
            fatal("close of closed channel")
        }
        closed = true
        var woken: [GPtr] = []
        while let sg = st.pointee.recvq.dequeue(gen: gen) {
            sg.pointee.success = false
            sg.pointee.g.pointee.param = UnsafeMutableRawPointer(sg)
            woken.append(sg.pointee.g)
        }
        while let sg = st.pointee.sendq.dequeue(gen: gen) {
            sg.pointee.success = false
            sg.pointee.g.pointee.param = UnsafeMutableRawPointer(sg)
            woken.append(sg.pointee.g)
        }
        mu.unlock()
        for g in woken { goready(g) }
    }

    /// Whether `close()` was called.
    public var isClosed: Bool {
        let rt = runtimeEnter()
        defer { runtimeExit(rt) }
        mu.lock(); defer { mu.unlock() }
        return closed
    }

    /// The sudog and its value slot for a blocking operation of `gp`, in one block of
    /// `capacity` bytes: the G's cached block when it is large enough, else a fresh allocation.
    /// Context: on `gp`.
    @inline(__always)
    func allocSudog(_ gp: GPtr) -> (raw: UnsafeMutableRawPointer, capacity: Int, SudogPtr, UnsafeMutablePointer<T?>) {
        let head = (MemoryLayout<Sudog>.stride + 15) & ~15
        let bytes = head + MemoryLayout<T?>.size
        let raw: UnsafeMutableRawPointer
        let capacity: Int
        if let c = gp.pointee.sudogCache, gp.pointee.sudogCacheBytes >= bytes,
           MemoryLayout<T?>.alignment <= 16 {
            gp.pointee.sudogCache = nil
            raw = c
            capacity = gp.pointee.sudogCacheBytes
        } else {
            capacity = Swift.max(bytes, 128)
            raw = UnsafeMutableRawPointer.allocate(
                byteCount: capacity, alignment: Swift.max(16, MemoryLayout<T?>.alignment))
        }
        let slot = (raw + head).bindMemory(to: T?.self, capacity: 1)
        let sg = raw.bindMemory(to: Sudog.self, capacity: 1)
        sg.initialize(to: Sudog(g: gp, elem: UnsafeMutableRawPointer(slot)))
        return (raw, capacity, sg, slot)
    }

    /// Gives the block back to `gp`'s cache (keeping the larger block). Context: on `gp`, after
    /// the slot was emptied or deinitialized.
    @inline(__always)
    func freeSudog(_ gp: GPtr, _ raw: UnsafeMutableRawPointer, _ capacity: Int) {
        if MemoryLayout<T?>.alignment > 16 {
            raw.deallocate()
        } else if gp.pointee.sudogCache == nil {
            gp.pointee.sudogCache = raw
            gp.pointee.sudogCacheBytes = capacity
        } else if capacity > gp.pointee.sudogCacheBytes {
            gp.pointee.sudogCache!.deallocate()
            gp.pointee.sudogCache = raw
            gp.pointee.sudogCacheBytes = capacity
        } else {
            raw.deallocate()
        }
    }

    func sendOnClosed() -> Never {
        fatal("send on closed channel (Channel<\(T.self)>)")
    }
}

extension Channel: Sequence {
    public struct Iterator: IteratorProtocol {
        let ch: Channel<T>
        public mutating func next() -> T? { ch.receive() }
    }
    /// Receives until the channel is closed and drained.
    public func makeIterator() -> Iterator { Iterator(ch: self) }
}

// MARK: - select

/// The cases of one `select`, built by the closure passed to `select(_:)`.
///
///     select {
///         $0.receive(jobs) { job in ... }     // job is nil if `jobs` is closed
///         $0.send(results, 42) { ... }
///         $0.default { ... }                  // optional: makes select non-blocking
///     }
public struct SelectCases {
    var cases: [SelectCase] = []
    var defaultBody: (() -> Void)? = nil

    /// A receive case; `body` gets the value, or nil if the channel is closed and drained.
    public mutating func receive<T>(_ ch: Channel<T>, _ body: @escaping (T?) -> Void) {
        cases.append(RecvCase(ch, body))
    }

    /// A send case; traps if the channel is closed when this case is chosen.
    public mutating func send<T>(_ ch: Channel<T>, _ value: T, _ body: @escaping () -> Void = {}) {
        cases.append(SendCase(ch, value, body))
    }

    /// The case run when no other case is ready right away.
    public mutating func `default`(_ body: @escaping () -> Void) {
        precondition(defaultBody == nil, "select has more than one default case")
        defaultBody = body
    }
}

/// Waits until one of the cases can proceed, performs it, and runs its body. If several are
/// ready, one is chosen at random. With a `default` case, never waits. With no cases at all,
/// waits forever. Mirrors Go's `select`. Context: on a goroutine.
public func select(_ build: (inout SelectCases) -> Void) {
    var sc = SelectCases()
    build(&sc)
    // The bodies are user code: they run after the runtime region ends.
    let rt = runtimeEnter()
    let outcome = selectgo(sc)
    runtimeExit(rt)
    switch outcome {
    case .fire(let c): c.fire()
    case .runDefault: sc.defaultBody!()
    }
}

/// What `select` runs once `selectgo` is done: the chosen case's body, or the default.
enum SelectOutcome {
    case fire(any SelectCase)
    case runDefault
}

/// One case of a `select`, over a channel of any element type (`RecvCase`, `SendCase`).
protocol SelectCase: AnyObject {
    /// The channel's lock word (select locks its channels in address order).
    var lockWord: Word { get }
    /// Lock held. Returns true when the case completed (all select locks still held; the G to
    /// ready, if any, in `toReady`).
    func tryNow(gen: UInt64, toReady: inout GPtr?) -> Bool
    /// Lock held. Queues `gp` on the channel as a waiter for this case.
    func enqueue(_ gp: GPtr, _ done: UnsafeMutablePointer<Atomic<UInt32>>, _ index: Int)
    /// Lock held, after the select woke, for every case: removes this case's waiter from the
    /// channel if it is still queued, takes any value it was handed, and frees it.
    func dequeueAndFree()
    /// After wake: take the result from the sudog; `success` false means the channel was
    /// closed under a waiting send case.
    func finish(success: Bool)
    /// Runs the case's body.
    func fire()
}

final class RecvCase<T>: SelectCase {
    let ch: Channel<T>
    let body: (T?) -> Void
    var value: T? = nil
    var sg: SudogPtr? = nil
    init(_ ch: Channel<T>, _ body: @escaping (T?) -> Void) { self.ch = ch; self.body = body }
    var lockWord: Word { ch.mu.word }

    func tryNow(gen: UInt64, toReady: inout GPtr?) -> Bool {
        if let sg = ch.st.pointee.sendq.dequeue(gen: gen) {
            let senderSlot = sg.pointee.elem.assumingMemoryBound(to: T?.self)
            if ch.capacity == 0 {
                value = senderSlot.pointee.take()
            } else {
                value = (ch.buf + ch.recvx).move()
                (ch.buf + ch.recvx).initialize(to: senderSlot.pointee.take()!)
                ch.recvx = ch.recvx + 1 == ch.capacity ? 0 : ch.recvx + 1
                ch.sendx = ch.recvx
            }
            sg.pointee.success = true
            sg.pointee.g.pointee.param = UnsafeMutableRawPointer(sg)
            toReady = sg.pointee.g
            return true
        }
        if ch.qcount > 0 {
            value = (ch.buf + ch.recvx).move()
            ch.recvx = ch.recvx + 1 == ch.capacity ? 0 : ch.recvx + 1
            ch.qcount -= 1
            return true
        }
        if ch.closed {
            value = nil
            return true
        }
        return false
    }

    func enqueue(_ gp: GPtr, _ done: UnsafeMutablePointer<Atomic<UInt32>>, _ index: Int) {
        let slot = UnsafeMutablePointer<T?>.allocate(capacity: 1)
        slot.initialize(to: nil)
        let s = SudogPtr.allocate(capacity: 1)
        s.initialize(to: Sudog(g: gp, elem: UnsafeMutableRawPointer(slot), selectDone: done, caseIndex: index))
        sg = s
        ch.st.pointee.recvq.enqueue(s)
    }

    func dequeueAndFree() {
        guard let s = sg else { return }
        ch.st.pointee.recvq.remove(s)
        let slot = s.pointee.elem.assumingMemoryBound(to: T?.self)
        value = slot.move()
        slot.deallocate()
        s.deallocate()
        sg = nil
    }

    func finish(success: Bool) {}
    func fire() { body(value) }
}

final class SendCase<T>: SelectCase {
    let ch: Channel<T>
    let value: T
    let body: () -> Void
    var sg: SudogPtr? = nil
    var closedWhileWaiting = false
    init(_ ch: Channel<T>, _ value: T, _ body: @escaping () -> Void) {
        self.ch = ch; self.value = value; self.body = body
    }
    var lockWord: Word { ch.mu.word }

    func tryNow(gen: UInt64, toReady: inout GPtr?) -> Bool {
        if ch.closed {
            closedWhileWaiting = true
            return true
        }
        if let sg = ch.st.pointee.recvq.dequeue(gen: gen) {
            sg.pointee.elem.assumingMemoryBound(to: T?.self).pointee = value
            sg.pointee.success = true
            sg.pointee.g.pointee.param = UnsafeMutableRawPointer(sg)
            toReady = sg.pointee.g
            return true
        }
        if ch.qcount < ch.capacity {
            (ch.buf + ch.sendx).initialize(to: value)
            ch.sendx = ch.sendx + 1 == ch.capacity ? 0 : ch.sendx + 1
            ch.qcount += 1
            return true
        }
        return false
    }

    func enqueue(_ gp: GPtr, _ done: UnsafeMutablePointer<Atomic<UInt32>>, _ index: Int) {
        let slot = UnsafeMutablePointer<T?>.allocate(capacity: 1)
        slot.initialize(to: value)
        let s = SudogPtr.allocate(capacity: 1)
        s.initialize(to: Sudog(g: gp, elem: UnsafeMutableRawPointer(slot), selectDone: done, caseIndex: index))
        sg = s
        ch.st.pointee.sendq.enqueue(s)
    }

    func dequeueAndFree() {
        guard let s = sg else { return }
        ch.st.pointee.sendq.remove(s)
        let slot = s.pointee.elem.assumingMemoryBound(to: T?.self)
        slot.deinitialize(count: 1)
        slot.deallocate()
        s.deallocate()
        sg = nil
    }

    func finish(success: Bool) { if !success { closedWhileWaiting = true } }
    func fire() {
        if closedWhileWaiting { ch.sendOnClosed() }
        body()
    }
}

/// The locks of one select, in address order without duplicates (invariant "Lock order").
final class SelectLocks {
    let words: [Word]
    init(_ cases: [SelectCase]) {
        var w: [Word] = []
        w.reserveCapacity(cases.count)
        for c in cases { w.append(c.lockWord) }
        if w.count > 1 {
            w.sort { UInt(bitPattern: $0) < UInt(bitPattern: $1) }
            var out = 1
            for i in 1..<w.count where w[i] != w[out - 1] {
                w[out] = w[i]
                out += 1
            }
            w.removeLast(w.count - out)
        }
        words = w
    }
    func lockAll() { for w in words { RuntimeLock(word: w).lock() } }
    func unlockAll() { for w in words.reversed() { RuntimeLock(word: w).unlock() } }
}

private let selparkcommit: @convention(c) (UnsafeMutableRawPointer?) -> Void = { arg in
    // SAFETY: arg is the SelectLocks kept alive by the parked selectgo frame.
    Unmanaged<SelectLocks>.fromOpaque(arg!).takeUnretainedValue().unlockAll()
}

/// Go's `selectgo`: lock all → look for a ready case in random order → default → enqueue on
/// every channel and park → on wake, dequeue from the others.
func selectgo(_ sc: SelectCases) -> SelectOutcome {
    let (mp, gp) = currentG("select")
    let gen = mp.pointee.sched.pointee.gen
    let cases = sc.cases
    if cases.isEmpty {
        if sc.defaultBody != nil { return .runDefault }
        gopark(.select, nil, nil) // blocks forever, as Go's empty select
        fatal("empty select resumed")
    }
    // One case (with or without default): no poll order or lock-order arrays to build.
    if cases.count == 1 {
        let c = cases[0]
        let lock = RuntimeLock(word: c.lockWord)
        lock.lock()
        var toReady: GPtr? = nil
        if c.tryNow(gen: gen, toReady: &toReady) {
            lock.unlock()
            if let g = toReady { goready(g) }
            return .fire(c)
        }
        if sc.defaultBody != nil {
            lock.unlock()
            return .runDefault
        }
        lock.unlock() // fall through to the general blocking path (it re-polls)
    }
    // Random poll order (Fisher-Yates with the M's generator).
    var order = Array(cases.indices)
    if order.count > 1 {
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(i, Int(fastrand(mp) % UInt64(i + 1)))
        }
    }
    let locks = SelectLocks(cases)
    locks.lockAll()
    for i in order {
        var toReady: GPtr? = nil
        if cases[i].tryNow(gen: gen, toReady: &toReady) {
            locks.unlockAll()
            if let g = toReady { goready(g) }
            return .fire(cases[i])
        }
    }
    if sc.defaultBody != nil {
        locks.unlockAll()
        return .runDefault
    }
    // Block on every case.
    let done = UnsafeMutablePointer<Atomic<UInt32>>.allocate(capacity: 1)
    done.initialize(to: Atomic<UInt32>(0))
    for (i, c) in cases.enumerated() { c.enqueue(gp, done, i) }
    gp.pointee.param = nil
    withExtendedLifetime(locks) {
        gopark(.select, selparkcommit, Unmanaged.passUnretained(locks).toOpaque())
    }
    // Resumed: the waker set param to the winning sudog.
    guard let won = gp.pointee.param?.assumingMemoryBound(to: Sudog.self) else {
        fatal("select woke without a winning case")
    }
    let winner = won.pointee.caseIndex
    let success = won.pointee.success
    gp.pointee.param = nil
    locks.lockAll()
    for c in cases { c.dequeueAndFree() }
    locks.unlockAll()
    done.deallocate()
    cases[winner].finish(success: success)
    return .fire(cases[winner])
}
