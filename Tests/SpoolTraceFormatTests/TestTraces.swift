// Helpers for the reader robustness tests: traces built from explicit batches through the
// real encoder (`BatchEncoder`, `TraceHeader.encoded()`, `FrameLayout.endFrame`), with the
// offset of every frame, and a seeded generator for mutations.

import SpoolScenarios
import SpoolTraceFormat

/// One event to encode: kind, absolute timestamp in ticks, wire arguments.
struct E {
    var kind: EventKind
    var ticks: UInt64
    var args: [UInt64]
    init(_ kind: EventKind, _ ticks: UInt64, _ args: UInt64...) {
        precondition(args.count == kind.argCount, "\(kind.name) takes \(kind.argCount) arguments")
        self.kind = kind
        self.ticks = ticks
        self.args = args
    }
}

/// One batch to encode.
struct B {
    var owner: BatchOwner
    var seq: UInt64
    var base: UInt64
    var events: [E]
    init(_ owner: BatchOwner, seq: UInt64, base: UInt64? = nil, _ events: [E]) {
        self.owner = owner
        self.seq = seq
        self.base = base ?? events.first?.ticks ?? 0
        self.events = events
    }
}

/// An encoded trace and where its pieces are.
struct BuiltTrace {
    var bytes: [UInt8]
    /// Offset of the first frame (the header's size).
    var headerSize: Int
    /// Offset of each batch frame, in file order.
    var frameOffsets: [Int]
    /// Size of each batch frame.
    var frameSizes: [Int]
    /// Events in each batch frame.
    var frameEvents: [Int]
    /// Offset of the end frame, if written.
    var endOffset: Int?

    /// Complete batch frames that end at or before `offset`.
    func batchesBefore(_ offset: Int) -> Int {
        zip(frameOffsets, frameSizes).filter { $0 + $1 <= offset }.count
    }

    /// Events in the first `n` batch frames.
    func events(inFirst n: Int) -> Int { frameEvents.prefix(n).reduce(0, +) }

    /// The frame (batch index, or `frameOffsets.count` for the end frame) containing byte `x`,
    /// nil for the header.
    func frame(containing x: Int) -> Int? {
        if x < headerSize { return nil }
        for (i, (o, s)) in zip(frameOffsets, frameSizes).enumerated() where x >= o && x < o + s { return i }
        return frameOffsets.count
    }
}

func testHeader(maxProcs: UInt64 = 4, ticksPerSecond: UInt64 = 1_000_000_000) -> TraceHeader {
    TraceHeader(ticksPerSecond: ticksPerSecond, maxProcs: maxProcs, wallClockStartNs: 1_700_000_000_000_000_000,
                pid: 77, program: "/usr/bin/test-prog", arguments: ["-x", "ünïcødé"],
                meta: [TraceHeader.KeyValue("runtime", "test"), TraceHeader.KeyValue("clock", "CLOCK_MONOTONIC")])
}

/// Encodes one batch frame through `BatchEncoder`.
func encodeBatch(_ b: B) -> [UInt8] {
    let cap = FrameLayout.frameHeaderSize + BatchEncoder.maxEventSize * (b.events.count + 1)
    let buf = UnsafeMutablePointer<UInt8>.allocate(capacity: cap)
    defer { buf.deallocate() }
    var enc = BatchEncoder(buffer: buf, capacity: cap)
    enc.begin(owner: b.owner, seq: b.seq, baseTicks: b.base)
    for e in b.events {
        precondition(enc.hasRoom)
        enc.append(e.kind, ticks: e.ticks, args: e.args)
    }
    return Array(enc.seal())
}

/// Header, the batches in the given order, and (when `end` is given) an end frame with that
/// end timestamp counting the batches.
func buildTrace(_ header: TraceHeader = testHeader(), _ batches: [B], end: UInt64? = 1_000_000) -> BuiltTrace {
    var bytes = header.encoded()
    var t = BuiltTrace(bytes: [], headerSize: bytes.count, frameOffsets: [], frameSizes: [], frameEvents: [], endOffset: nil)
    for b in batches {
        let f = encodeBatch(b)
        t.frameOffsets.append(bytes.count)
        t.frameSizes.append(f.count)
        t.frameEvents.append(b.events.count)
        bytes += f
    }
    if let end {
        t.endOffset = bytes.count
        bytes += FrameLayout.endFrame(batchCount: UInt64(batches.count), endTicks: end)
    }
    t.bytes = bytes
    return t
}

/// All events of a scanned trace in merge order, plus the merge's counters.
func ordered(_ file: TraceFile, _ scan: TraceScan) -> (events: [TraceEvent], seqMismatches: Int, orderSkews: Int, batchesMissing: Int) {
    var it = OrderedEvents(file: file, scan: scan)
    var out: [TraceEvent] = []
    while let e = it.next() { out.append(e) }
    return (out, it.seqMismatches, it.orderSkews, it.batchesMissing)
}

/// SplitMix64 with a fixed seed: the same mutations on every run.
typealias TestRNG = SplitMix64

extension SplitMix64 {
    /// Uniform in `0 ..< n` (`0` when `n` is not positive).
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
}

/// A realistic valid trace: `procs` Ps and 2 Ms, goroutines moving between Ps with correct seq
/// numbers, small batches (3-9 events) so there are many frames. Deterministic for a seed.
func workloadTrace(seed: UInt64 = 1, procs: Int = 3, steps: Int = 60, finalize: Bool = true) -> BuiltTrace {
    var rng = TestRNG(seed: seed)
    var pending: [BatchOwner: [E]] = [:]
    var nextSeq: [BatchOwner: UInt64] = [:]
    var batches: [B] = []
    var limit: [BatchOwner: Int] = [:]
    func emit(_ owner: BatchOwner, _ e: E) {
        pending[owner, default: []].append(e)
        if limit[owner] == nil { limit[owner] = 3 + rng.below(7) }
        if pending[owner]!.count >= limit[owner]! {
            batches.append(B(owner, seq: nextSeq[owner, default: 0], pending[owner]!))
            nextSeq[owner, default: 0] += 1
            pending[owner] = []
            limit[owner] = 3 + rng.below(7)
        }
    }
    var seqs: [UInt64: UInt64] = [:]
    func seq(_ g: UInt64) -> UInt64 { seqs[g, default: 0] += 1; return seqs[g]! % 128 }
    var t: UInt64 = 0
    for p in 0..<procs { emit(.p(UInt32(p)), E(.procStart, t, UInt64(p + 1))) }
    emit(.m(UInt32(procs + 1)), E(.threadCreate, t, UInt64(procs + 2), 4))
    var g: UInt64 = 1
    for step in 0..<steps {
        t += 1000 + UInt64(rng.below(500))
        let p = UInt32(rng.below(procs))
        let q = UInt32((Int(p) + 1) % procs)
        g += 1
        seqs[g] = 0
        emit(.p(p), E(.goCreate, t, g, 1))
        emit(.p(q), E(.goStart, t + 100, g, seq(g)))
        emit(.p(q), E(.goBlock, t + 200, UInt64(rng.below(9))))
        if step % 3 == 0 {
            emit(.m(UInt32(procs + 1)), E(.goWake, t + 300, g, seq(g), 1))
        } else if step % 3 == 1 {
            emit(.m(UInt32(procs + 2)), E(.netpollReady, t + 300, g, seq(g)))
        } else {
            emit(.p(p), E(.goUnblock, t + 300, g, seq(g)))
        }
        emit(.p(p), E(.goStart, t + 400, g, seq(g)))
        if step % 5 == 0 {
            emit(.m(UInt32(procs + 1)), E(.preemptRequest, t + 450, g, UInt64(p)))
            emit(.p(p), E(.preempted, t + 500, 0))
            emit(.p(p), E(.goStop, t + 500, 1))
            emit(.p(p), E(.goStart, t + 600, g, seq(g)))
        }
        if step % 7 == 0 { emit(.p(q), E(.steal, t + 650, UInt64(p), 2)) }
        emit(.p(p), E(.goEnd, t + 700, []))
    }
    for (owner, events) in pending.sorted(by: { $0.key.description < $1.key.description }) where !events.isEmpty {
        batches.append(B(owner, seq: nextSeq[owner, default: 0], events))
    }
    return buildTrace(testHeader(maxProcs: UInt64(procs)), batches, end: finalize ? t + 10_000 : nil)
}

extension E {
    init(_ kind: EventKind, _ ticks: UInt64, _ args: [UInt64]) {
        precondition(args.count == kind.argCount)
        self.kind = kind
        self.ticks = ticks
        self.args = args
    }
}
