// The tracer's writer side: per-owner batch buffers, a free list, and a flusher thread.
//
// Every P and every M owns a `TraceOwner`: the batch being filled (a `BatchEncoder` over a
// 64 KiB buffer), the owner's batch sequence number and its count of lost events. Events go
// into the buffer of the P the M holds (invariant "Owner writes the buffer": only the M that
// holds a P appends to the P's buffer, so appends need no atomics; a P's buffer travels with
// the P from M to M). Events with no P (thread creation and exit, a syscall that returns
// after its P was handed off) go to the M's own buffer, which is sealed at once. M batches use
// small buffers (1 KiB) allocated outside the pool and freed once written: a blocking storm
// seals hundreds of one-event M batches at once (every returning call, every idle thread that
// exits), and 64 KiB pool buffers held by them would starve the Ps (Syscall.swift).
//
// A full buffer — or one whose batch is older than 100 ms when the next event arrives — is
// sealed and queued for the flusher thread, which writes it to the file and returns the buffer
// to the free list. The flusher wakes every 50 ms, or earlier once a quarter of the pool (at
// most 4 buffers) or 64 small M batches are queued, and writes the whole queue with `writev`:
// waking it for every batch cost 2-3% of the CPU per request of a one-connection echo server
// (BENCHMARKS.md). It also seals the buffers of idle Ps (owned by nobody while on `sched.pidle`,
// so it may touch them holding sched.lock) every 50 ms. So every event that reached a buffer is
// on disk within about 150 ms, unless its P has stayed busy in one G since; a SIGKILL leaves a
// file whose complete batches all import.
//
// When no buffer is free (the pool is capped at 8 + 4 per P, 64 KiB each), events are counted
// per owner and the count is written as `TraceLost` first in that owner's next batch
// (invariant "Nothing silently lost").
//
// Clock (`TraceClock`): the TSC shifted to ticks of 8-16 ns when the kernel's clocksource is the
// TSC, else CLOCK_MONOTONIC (vDSO) in ticks of 16 ns (ns >> 4, 62.5 MHz); relative to trace start.
//
// Lifetime: a session (one file) belongs to one `Runtime.run` instance. It starts with the run
// (`SPOOL_TRACE=FILE`, or `Runtime.startTrace(path:)` called before `run`) or in the middle of
// it (`startTrace` on a goroutine), and ends with `stopTrace()` or when the run returns: every
// buffer is flushed, then the end frame is written. A session started mid-run describes what
// already existed lazily, as Go's tracer does per generation: a G gets a `GoStatus` before the
// first event about it (invariant "Introduced before use"), a P already held gets a
// `ProcStart` before its first event, live threads get a `ThreadCreate`.
//
// Rejected: atomics or a lock per event (cost), one shared buffer (contention), writing from
// the Ms themselves (a `write` syscall would stall the P).

import CSpool
import Synchronization
import SpoolTraceFormat
#if canImport(Glibc)
import Glibc
#endif

/// One trace buffer owner (a P or an M).
struct TraceOwner {
    var enc: BatchEncoder? = nil
    var seq: UInt64 = 0
    var lost: UInt64 = 0
    /// Events this owner wrote or lost in session `sessionID` (`TraceLost` records aside), so a
    /// test can check that every event is either in the file or counted as lost.
    var emitted: UInt64 = 0
    let owner: BatchOwner
    /// The runtime instance of the owner: a thread of an earlier instance (still running an
    /// abandoned goroutine) never writes into a later instance's trace.
    let gen: UInt64
    /// The session `seq`/`lost` count for; a new session restarts them.
    var sessionID: UInt64 = 0
    /// Whether `enc` holds a batch. Stored by the owner (releasing) when it takes or seals a
    /// buffer; loaded by `stopTrace`, which waits until every busy P sealed its last batch.
    let busy: UnsafeMutablePointer<Atomic<Bool>>
    init(owner: BatchOwner, gen: UInt64) {
        self.owner = owner
        self.gen = gen
        busy = UnsafeMutablePointer<Atomic<Bool>>.allocate(capacity: 1)
        busy.initialize(to: Atomic<Bool>(false))
    }
}

/// The id of the current (or last) trace session; 0 before any. Set before `traceEnabled`.
let traceSessionID = Atomic<UInt64>(0)
let traceSessionLock = RuntimeLock()
nonisolated(unsafe) var traceSessionRef: TraceSession? = nil

/// The session being recorded, if any. Slow paths only (takes a lock).
func currentTraceSession() -> TraceSession? {
    traceSessionLock.lock()
    defer { traceSessionLock.unlock() }
    return traceSessionRef
}

/// Before the first event that concerns `gp` in a session started while `gp` already existed,
/// records its state (`GoStatus`) so readers know where it stands (Go's tracer does this per
/// generation). `status` is the state before the event about to be written; a running G is
/// described in the batch of the P it runs on, which is where its events go. Context: the M
/// holding `pp`.
@inline(__always)
func traceGoStatus(_ pp: PPtr, _ gp: GPtr, _ status: GoStatusCode) {
    if !traceEnabled.load(ordering: .relaxed) { return }
    let id = traceSessionID.load(ordering: .relaxed)
    if gp.pointee.traceSession == id { return }
    gp.pointee.traceSession = id
    traceWrite(pp.pointee.trace, .goStatus, gp.pointee.goid, gp.pointee.traceSeq & 127,
               UInt64(status.rawValue))
}

/// Whether events are being recorded. relaxed loads on the hot path (a plain load on x86);
/// partner: the releasing stores in `TraceSession.begin`/`finish`.
let traceEnabled = Atomic<Bool>(false)
nonisolated(unsafe) var traceStartNs: Int64 = 0

let traceBufferSize = 64 << 10
/// Size of an M batch's buffer (outside the pool; see the file comment).
let traceSmallBufferSize = 1 << 10

/// The trace clock, fixed by `TraceSession.begin` before `traceEnabled` turns true (partner:
/// its releasing store). Ticks are TSC cycles >> `shift` when the kernel's clocksource is the
/// TSC (CSpoolClock.h says why: 23 ns per read instead of 58 here), else CLOCK_MONOTONIC ns >> 4.
struct TraceClock {
    var usesTSC = false
    /// TSC reading (or ns) at trace start.
    var start: UInt64 = 0
    var shift: UInt64 = 4
    var ticksPerSecond: UInt64 = 62_500_000
    /// A batch older than this (100 ms in ticks) is sealed at its owner's next event.
    var flushAgeTicks: UInt64 = 6_250_000

    /// Picks the clock and records its start. Context: `TraceSession.begin`, before any event.
    static func start() -> TraceClock {
        var c = TraceClock()
        let hz = spool_tsc_frequency()
        if hz > 0 {
            // Ticks of about 16 ns, like the CLOCK_MONOTONIC fallback: one byte of delta covers
            // about 2 µs, which keeps dense scheduling events at 1-byte deltas.
            c.usesTSC = true
            c.shift = 0
            while hz / Double(UInt64(1) << (c.shift + 1)) >= 62_500_000 { c.shift += 1 }
            c.ticksPerSecond = UInt64(hz) >> c.shift
            c.start = spool_cputicks()
        } else {
            c.start = UInt64(max(spool_nanotime(), 0))
        }
        c.flushAgeTicks = c.ticksPerSecond / 10
        return c
    }

    var name: String { usesTSC ? "TSC" : "CLOCK_MONOTONIC" }
    var tickNs: Double { 1e9 / Double(ticksPerSecond) }
}
nonisolated(unsafe) var traceClock = TraceClock()

@inline(__always)
func traceNow() -> UInt64 {
    if traceClock.usesTSC {
        let now = spool_cputicks()
        return now > traceClock.start ? (now &- traceClock.start) >> traceClock.shift : 0
    }
    return UInt64(max(spool_nanotime() &- Int64(traceClock.start), 0)) >> 4
}

/// Records an event in `t`'s batch. Context: the owner of `t` (the M holding that P, or that M).
@inline(__always)
func traceEv(_ t: UnsafeMutablePointer<TraceOwner>, _ kind: EventKind,
             _ a0: UInt64 = 0, _ a1: UInt64 = 0, _ a2: UInt64 = 0) {
    if !traceEnabled.load(ordering: .relaxed) { return }
    traceWrite(t, kind, a0, a1, a2)
}

func traceWrite(_ t: UnsafeMutablePointer<TraceOwner>, _ kind: EventKind,
                _ a0: UInt64, _ a1: UInt64, _ a2: UInt64) {
    let ticks = traceNow()
    if t.pointee.enc == nil || !t.pointee.enc!.hasRoom
        || ticks &- t.pointee.enc!.baseTicks > traceClock.flushAgeTicks {
        if !traceRefill(t, ticks, kind) {
            t.pointee.lost &+= 1
            t.pointee.emitted &+= 1
            return
        }
    }
    t.pointee.emitted &+= 1
    switch kind.argCount {
    case 0: t.pointee.enc!.append(kind, ticks: ticks)
    case 1: t.pointee.enc!.append(kind, ticks: ticks, a0)
    case 2: t.pointee.enc!.append(kind, ticks: ticks, a0, a1)
    default: t.pointee.enc!.append(kind, ticks: ticks, a0, a1, a2)
    }
}

/// Seals the owner's batch (if it has events) and gets a fresh buffer. On the owner's first
/// write in a session started mid-run, a P that is already held gets a `ProcStart` first.
/// Context: the owner.
@inline(never)
func traceRefill(_ t: UnsafeMutablePointer<TraceOwner>, _ ticks: UInt64, _ kind: EventKind) -> Bool {
    guard let sess = currentTraceSession(), sess.gen == t.pointee.gen else { return false }
    var firstInSession = false
    if t.pointee.sessionID != sess.id {
        // A buffer of an earlier session is abandoned (that session is finished).
        t.pointee.enc = nil
        t.pointee.seq = 0
        t.pointee.lost = 0
        t.pointee.emitted = 0
        t.pointee.sessionID = sess.id
        firstInSession = true
    }
    if t.pointee.enc != nil {
        if t.pointee.enc!.isEmpty {
            t.pointee.enc!.begin(owner: t.pointee.owner, seq: t.pointee.seq, baseTicks: ticks)
            return true
        }
        traceSeal(t, sess)
    }
    let small = t.pointee.owner.kind == .m
    guard let buf = small ? sess.getSmallBuffer() : sess.getBuffer() else { return false }
    var enc = BatchEncoder(buffer: buf, capacity: small ? traceSmallBufferSize : traceBufferSize)
    enc.begin(owner: t.pointee.owner, seq: t.pointee.seq, baseTicks: ticks)
    if t.pointee.lost > 0 {
        enc.append(.traceLost, ticks: ticks, t.pointee.lost)
        t.pointee.lost = 0
    }
    if firstInSession && t.pointee.owner.kind == .p && kind != .procStart,
       let mp = getm(), let pp = mp.pointee.p, UInt32(pp.pointee.id) == t.pointee.owner.id {
        enc.append(.procStart, ticks: ticks, UInt64(mp.pointee.id))
        t.pointee.emitted &+= 1
    }
    t.pointee.enc = enc
    // releasing: pairs with stopTrace's acquiring load.
    t.pointee.busy.pointee.store(true, ordering: .releasing)
    return true
}

/// Seals the owner's batch and queues it for the flusher. Context: the owner of `t`, or
/// anyone holding sched.lock while the owning P is idle.
func traceSeal(_ t: UnsafeMutablePointer<TraceOwner>, _ sess: TraceSession) {
    guard t.pointee.enc != nil else { return }
    if t.pointee.enc!.isEmpty {
        sess.putBuffer(t.pointee.enc!.base)
    } else {
        let frame = t.pointee.enc!.seal()
        sess.submit(t.pointee.enc!.base, frame.count)
        t.pointee.seq &+= 1
    }
    t.pointee.enc = nil
    t.pointee.busy.pointee.store(false, ordering: .releasing)
}

/// Seals the owner's batch now (M events, thread exit, tracing stopped). Context: the owner.
func traceFlushOwner(_ t: UnsafeMutablePointer<TraceOwner>) {
    guard t.pointee.enc != nil, let sess = currentTraceSession(), sess.gen == t.pointee.gen,
          sess.id == t.pointee.sessionID else { return }
    traceSeal(t, sess)
}

/// One trace file being written.
final class TraceSession {
    private static let idgen = Atomic<UInt64>(0)
    /// Test hook: caps the buffer pool so the lost-event path is exercised.
    nonisolated(unsafe) static var testMaxBuffers: Int? = nil
    /// Test hook: the flusher waits this long before writing each batch, so that a writer with
    /// a capped pool surely outruns it (however the OS schedules the two threads).
    nonisolated(unsafe) static var testFlushDelayNs: Int64? = nil
    /// Test hook: events emitted (written or lost) in the last finished session, summed over
    /// its owners once recording stopped.
    nonisolated(unsafe) static var testLastEventsEmitted: UInt64 = 0
    let id = TraceSession.idgen.wrappingAdd(1, ordering: .relaxed).newValue
    let path: String
    let fd: Int32
    let lock = RuntimeLock()          // guards everything below
    private var free: [UnsafeMutablePointer<UInt8>] = []
    /// Small M-batch buffers handed out and not yet returned.
    private var small = Set<UnsafeMutablePointer<UInt8>>()
    private var allocated = 0
    private var maxBuffers = 16
    private var queue: [(UnsafeMutablePointer<UInt8>, Int)] = []
    /// Pool and small (M) buffers in `queue`: the flusher is woken when either count reaches
    /// its threshold (`submit`), else by its 50 ms tick, so a light trace costs a few large
    /// writes a second instead of one wakeup and one write per batch.
    private var queuedPool = 0
    private var queuedSmall = 0
    /// Small batches queued before the flusher is woken early.
    private static let wakeAfterSmall = 64
    private var stopping = false
    private var flusherRunning = false
    /// Sched whose idle Ps the flusher sweeps, and its instance.
    let sched: SchedPtr
    let gen: UInt64
    /// Batches written so far (flusher thread, or the finalizer after the flusher stopped).
    private(set) var batchesWritten: UInt64 = 0
    private(set) var bytesWritten: UInt64 = 0
    private var writeErrno: Int32 = 0
    private let wake = Note()
    private let stopped = Note()

    init(path: String, sched: SchedPtr) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw RuntimeError.trace("cannot open \(path): errno \(errno)") }
        self.path = path
        self.fd = fd
        self.sched = sched
        self.gen = sched.pointee.gen
    }

    /// Writes the header and starts recording. Context: `Runtime.run`'s thread, before any M.
    func begin(procs: Int) {
        traceClock = TraceClock.start()
        traceStartNs = spool_nanotime()
        let args = CommandLine.arguments
        let header = TraceHeader(
            ticksPerSecond: traceClock.ticksPerSecond, maxProcs: UInt64(procs),
            wallClockStartNs: UInt64(max(spool_walltime(), 0)), pid: UInt64(spool_getpid()),
            program: args.first ?? "", arguments: Array(args.dropFirst()),
            meta: [.init("runtime", "spool 0.1"), .init("clock", traceClock.name),
                   .init("tick_ns", String(traceClock.tickNs)), .init("quantum_ns", "10000000"),
                   .init("preemption", "cooperative"),
                   .init("buffer_bytes", String(traceBufferSize))])
        writeAll(header.encoded())
        maxBuffers = TraceSession.testMaxBuffers ?? 8 + 4 * procs
        lock.lock()
        flusherRunning = true
        lock.unlock()
        let r = spool_thread_start(flusherEntry, Unmanaged.passRetained(self).toOpaque())
        if r != 0 { fatal("cannot start the trace flusher thread (errno \(r))") }
        traceSessionLock.lock()
        traceSessionRef = self
        traceSessionLock.unlock()
        traceSessionID.store(id, ordering: .releasing)
        // releasing: the session and traceStartNs are visible to every M that sees `true`.
        traceEnabled.store(true, ordering: .releasing)
    }

    func getBuffer() -> UnsafeMutablePointer<UInt8>? {
        lock.lock()
        defer { lock.unlock() }
        if let b = free.popLast() { return b }
        if allocated < maxBuffers {
            allocated += 1
            return UnsafeMutablePointer<UInt8>.allocate(capacity: traceBufferSize)
        }
        return nil
    }

    /// A buffer for an M batch, allocated outside the pool (never fails: M batches are small
    /// and short-lived). Returned through `putBuffer`, which frees it.
    func getSmallBuffer() -> UnsafeMutablePointer<UInt8> {
        let b = UnsafeMutablePointer<UInt8>.allocate(capacity: traceSmallBufferSize)
        lock.lock()
        small.insert(b)
        lock.unlock()
        return b
    }

    func putBuffer(_ b: UnsafeMutablePointer<UInt8>) {
        lock.lock()
        recycle(b)
        lock.unlock()
    }

    /// Pool buffers go back on the free list; small ones are freed. Context: `lock` held.
    private func recycle(_ b: UnsafeMutablePointer<UInt8>) {
        if small.remove(b) != nil {
            b.deallocate()
        } else {
            free.append(b)
        }
    }

    /// Queues a sealed frame for writing. After `finish` started, frames are dropped.
    func submit(_ b: UnsafeMutablePointer<UInt8>, _ count: Int) {
        lock.lock()
        if stopping && !flusherRunning {
            recycle(b)
            lock.unlock()
            return
        }
        queue.append((b, count))
        // Pool buffers: wake early enough that writers never run out (a quarter of the pool,
        // at least one, at most 4 × 64 KiB). Waking once per threshold crossing is enough:
        // the flusher takes the whole queue.
        let wakeNow: Bool
        if small.contains(b) {
            queuedSmall += 1
            wakeNow = queuedSmall == TraceSession.wakeAfterSmall
        } else {
            queuedPool += 1
            wakeNow = queuedPool == max(1, min(4, maxBuffers / 4))
        }
        lock.unlock()
        if wakeNow { wake.wakeup() }
    }

    fileprivate func flusherLoop() {
        while true {
            _ = wake.sleep(timeoutNs: 50_000_000)
            wake.clear()
            sweepIdlePs()
            drain()
            lock.lock()
            let stop = stopping && queue.isEmpty
            if stop { flusherRunning = false }
            lock.unlock()
            if stop { break }
        }
        stopped.wakeup()
    }

    /// Seals the batches of idle Ps (see the file comment). Context: flusher or finalizer.
    func sweepIdlePs() {
        let s = sched
        s.pointee.lock.lock()
        var p = s.pointee.pidle
        while let pp = p {
            let t = pp.pointee.trace
            if t.pointee.enc != nil && t.pointee.sessionID == id {
                traceSeal(t, self)
            }
            p = pp.pointee.link
        }
        s.pointee.lock.unlock()
    }

    private func drain() {
        while true {
            lock.lock()
            if queue.isEmpty { lock.unlock(); return }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            queuedPool = 0
            queuedSmall = 0
            lock.unlock()
            if let d = TraceSession.testFlushDelayNs {
                // One frame at a time, each after the test's delay.
                for frame in batch {
                    spool_usleep_ns(d)
                    writeAll(frames: [frame])
                    batchesWritten += 1
                    putBuffer(frame.0)
                }
                continue
            }
            writeAll(frames: batch)
            batchesWritten += UInt64(batch.count)
            for (b, _) in batch { putBuffer(b) }
        }
    }

    /// Writes `frames` (none empty) in order with as few `writev` calls as possible (up to 64
    /// frames each), resuming after partial writes. On an error, records it in `writeErrno`
    /// and stops.
    private func writeAll(frames: [(UnsafeMutablePointer<UInt8>, Int)]) {
        var i = 0
        var skip = 0  // bytes of frames[i] already written
        withUnsafeTemporaryAllocation(of: iovec.self, capacity: 64) { iov in
            while i < frames.count {
                var n = 0
                while n < 64 && i + n < frames.count {
                    let (b, count) = frames[i + n]
                    let off = n == 0 ? skip : 0
                    iov[n] = iovec(iov_base: UnsafeMutableRawPointer(b + off), iov_len: count - off)
                    n += 1
                }
                let w = writev(fd, iov.baseAddress!, Int32(n))
                if w < 0 {
                    if errno == EINTR { continue }
                    writeErrno = errno
                    return
                }
                if w == 0 { writeErrno = EIO; return }  // no progress: not expected for a file
                bytesWritten += UInt64(w)
                // Advance past what was written.
                var left = w
                while left > 0 {
                    let rest = frames[i].1 - skip
                    if left >= rest { left -= rest; i += 1; skip = 0 } else { skip += left; left = 0 }
                }
            }
        }
    }

    private func writeAll(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { writeAll($0) }
    }

    private func writeAll(_ buf: UnsafeBufferPointer<UInt8>) {
        guard let base = buf.baseAddress, buf.count > 0 else { return }
        // SAFETY: writev only reads the bytes; the mutable pointer type is iovec's.
        writeAll(frames: [(UnsafeMutablePointer(mutating: base), buf.count)])
    }

    /// Stops recording and finalizes the file: flushes every idle P's batch, stops the flusher,
    /// writes the end frame. Buffers of Ps still held by an abandoned goroutine's thread are
    /// not touched (their unflushed events are missing; "Abandoned, not freed"); the buffers
    /// are freed only when `allMsExited` (no thread of the instance can touch one again).
    /// Context: `Runtime.run`'s thread after the instance ended.
    func finish(endTicks: UInt64, allMsExited: Bool) {
        lock.lock()
        let already = stopping
        lock.unlock()
        if already { return }
        defer {
            if allMsExited {
                lock.lock()
                for b in free { b.deallocate() }
                free.removeAll()
                lock.unlock()
            }
        }
        traceEnabled.store(false, ordering: .releasing)
        sweepIdlePs()
        lock.lock()
        stopping = true
        lock.unlock()
        wake.wakeup()
        stopped.sleep()
        writeLostCounts(endTicks: endTicks)
        TraceSession.testLastEventsEmitted = countEmitted()
        writeAll(FrameLayout.endFrame(batchCount: batchesWritten, endTicks: endTicks))
        close(fd)
        traceSessionLock.lock()
        if traceSessionRef === self { traceSessionRef = nil }
        traceSessionLock.unlock()
    }

    /// Events every owner of this session emitted (see `TraceOwner.emitted`). Context: `finish`,
    /// after recording stopped.
    private func countEmitted() -> UInt64 {
        let s = sched
        s.pointee.lock.lock()
        defer { s.pointee.lock.unlock() }
        var total: UInt64 = 0
        for i in 0..<s.pointee.procs {
            let t = s.pointee.allp[i].pointee.trace
            if t.pointee.sessionID == id { total &+= t.pointee.emitted }
        }
        var m = s.pointee.allm
        while let mm = m {
            if mm.pointee.trace.pointee.sessionID == id { total &+= mm.pointee.trace.pointee.emitted }
            m = mm.pointee.alllink
        }
        return total
    }

    /// Owners that dropped events and never got a buffer again still owe their `TraceLost`:
    /// each gets one last batch holding only that count (invariant "Nothing silently lost").
    /// Idle Ps and exited Ms only (nobody else writes their state). Context: `finish`, after
    /// the flusher stopped (so every buffer is free).
    private func writeLostCounts(endTicks: UInt64) {
        var owners: [UnsafeMutablePointer<TraceOwner>] = []
        let s = sched
        s.pointee.lock.lock()
        var p = s.pointee.pidle
        while let pp = p { owners.append(pp.pointee.trace); p = pp.pointee.link }
        var m = s.pointee.allm
        while let mm = m { if mm.pointee.exited { owners.append(mm.pointee.trace) }; m = mm.pointee.alllink }
        for t in owners where t.pointee.lost > 0 && t.pointee.sessionID == id && t.pointee.enc == nil {
            guard let buf = getBuffer() else { break }
            var enc = BatchEncoder(buffer: buf, capacity: traceBufferSize)
            enc.begin(owner: t.pointee.owner, seq: t.pointee.seq, baseTicks: endTicks)
            enc.append(.traceLost, ticks: endTicks, t.pointee.lost)
            t.pointee.lost = 0
            t.pointee.seq &+= 1
            let frame = enc.seal()
            writeAll(frame)
            batchesWritten += 1
            putBuffer(buf)
        }
        s.pointee.lock.unlock()
    }

    /// Stops a session in the middle of a run: recording stops at once; every busy P seals its
    /// batch at its next pass through the scheduler (idle Ps are sealed by the sweep); after
    /// that, or after one second for a P stuck in a goroutine that never yields, the file is
    /// finalized. Context: a goroutine (waits with `sleep`) or any other thread.
    func stopInRun() {
        traceEnabled.store(false, ordering: .releasing)
        if let mp = getm(), let pp = mp.pointee.p { traceFlushOwner(pp.pointee.trace) }
        let deadline = spool_nanotime() + 1_000_000_000
        while spool_nanotime() < deadline {
            sweepIdlePs()
            var busy = false
            for i in 0..<sched.pointee.procs
            where sched.pointee.allp[i].pointee.trace.pointee.busy.pointee.load(ordering: .acquiring) {
                busy = true
            }
            if !busy { break }
            if getg() != nil { timeSleep(1_000_000) } else { spool_usleep_ns(1_000_000) }
        }
        finish(endTicks: traceNow(), allMsExited: false)
    }
}

private let flusherEntry: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { arg in
    // SAFETY: arg is a retained TraceSession passed by `begin`.
    let sess = Unmanaged<TraceSession>.fromOpaque(arg!).takeRetainedValue()
    sess.flusherLoop()
    return nil
}
