// The "order" stage: merges the per-owner batch streams into one stream of events in the order
// they happened (schema/trace-format.md, "Ordering across batches").
//
// Each owner's batches, sorted by batch sequence number, form a stream whose timestamps never
// decrease. A binary heap over the streams' head events gives timestamp order; per-G sequence
// numbers repair what timestamps cannot (ties, small cross-CPU skew) by only taking a head that
// is "ready", looking at most `reorderWindow` ticks past the earliest head.
//
// Memory: one decoded head event and one batch payload per owner, plus one byte of seq state
// per G id, so a trace of any length merges in bounded memory.
//
// Rejected: sorting all events in memory (Go's generation-at-a-time parser does that per
// generation; our traces have no generations, so memory would grow with the trace).

/// Iterates the events of a scanned trace in merge order. Never fails: `TraceFile.scan()` has
/// already validated every batch it returned.
public struct OrderedEvents: IteratorProtocol, Sequence {
    private final class Stream {
        let owner: BatchOwner
        let batches: [BatchInfo]
        var batchIndex = -1
        var buffer: [UInt8] = []
        var position = 0
        var ticks: UInt64 = 0
        var head: TraceEvent?
        init(owner: BatchOwner, batches: [BatchInfo]) {
            self.owner = owner
            self.batches = batches
        }
    }

    private let file: TraceFile
    private var streams: [Stream] = []
    private var heap: [Int] = []
    /// Head timestamp of each stream (`UInt64.max` when exhausted), so heap comparisons read a
    /// flat array. Streams are indexed in owner order (P before M, then by id), which is the
    /// tie-break the spec asks for.
    private var keys: [UInt64] = []
    private var lastSeqDense: [UInt8] = []
    private var lastSeqSparse: [UInt64: UInt8] = [:]
    private static let unseen: UInt8 = 0xFF
    private static let denseLimit: UInt64 = 1 << 22

    /// Ticks past the earliest head within which a ready event may be taken first (100 µs).
    public let reorderWindow: UInt64
    /// Events taken although their seq did not follow their G's last seq (lost events, or a
    /// G never created in the trace).
    public private(set) var seqMismatches = 0
    /// Ready events taken before an earlier-timestamped head (timestamps disagreed with order).
    public private(set) var orderSkews = 0
    /// Batches missing from owners' sequence numbers (gaps, or not starting at 0).
    public private(set) var batchesMissing = 0
    /// Events returned so far.
    public private(set) var eventsReturned = 0

    public init(file: TraceFile, scan: TraceScan) {
        self.file = file
        self.reorderWindow = Swift.max(1, file.header.ticksPerSecond / 10_000)
        var byOwner: [BatchOwner: [BatchInfo]] = [:]
        for b in scan.batches { byOwner[b.owner, default: []].append(b) }
        let owners = byOwner.keys.sorted { Self.ownerPrecedes($0, $1) }
        for owner in owners {
            let batches = byOwner[owner]!.sorted { $0.seq < $1.seq }
            var expected: UInt64 = 0
            for b in batches {
                if b.seq > expected { batchesMissing += Int(Swift.min(b.seq - expected, UInt64(Int32.max))) }
                expected = Swift.max(expected, b.seq &+ 1)
            }
            streams.append(Stream(owner: owner, batches: batches))
        }
        keys = Array(repeating: UInt64.max, count: streams.count)
        for i in streams.indices {
            advance(i)
            if streams[i].head != nil { heapPush(i) }
        }
    }

    private static func ownerPrecedes(_ a: BatchOwner, _ b: BatchOwner) -> Bool {
        if a.kind != b.kind { return a.kind == .p }
        return a.id < b.id
    }

    // MARK: streams

    /// Decodes stream `i`'s next event into its `head` and `keys[i]` (nil / max at the end of
    /// its last batch).
    private mutating func advance(_ i: Int) {
        let s = streams[i]
        while true {
            if s.batchIndex >= 0 && s.position < s.batches[s.batchIndex].payloadLength {
                let batch = s.batches[s.batchIndex]
                let (event, position) = s.buffer.withUnsafeBufferPointer { b -> (TraceEvent?, Int) in
                    var d = EventDecoder(base: b.baseAddress!, count: batch.payloadLength,
                                         fileOffset: batch.payloadOffset, owner: s.owner,
                                         baseTicks: s.ticks, maxProcs: file.header.maxProcs,
                                         position: s.position)
                    d.validates = false
                    // The scan validated these bytes, so decoding cannot fail here.
                    let e = try? d.next()
                    return (e ?? nil, d.position)
                }
                guard let event else { preconditionFailure("validated batch failed to decode at \(batch.offset)") }
                s.position = position
                s.ticks = event.ticks
                s.head = event
                keys[i] = event.ticks
                return
            }
            s.batchIndex += 1
            if s.batchIndex >= s.batches.count {
                s.head = nil
                s.buffer = []
                keys[i] = UInt64.max
                return
            }
            let batch = s.batches[s.batchIndex]
            file.readPayload(of: batch, into: &s.buffer)
            s.position = 0
            s.ticks = batch.baseTicks
        }
    }

    // MARK: seq state

    private func lastSeq(_ g: UInt64) -> UInt8 {
        if g < Self.denseLimit { return g < UInt64(lastSeqDense.count) ? lastSeqDense[Int(g)] : Self.unseen }
        return lastSeqSparse[g] ?? Self.unseen
    }

    private mutating func setLastSeq(_ g: UInt64, _ seq: UInt8) {
        if g < Self.denseLimit {
            if g >= UInt64(lastSeqDense.count) {
                let n = Swift.max(Int(g) + 1, lastSeqDense.count * 2, 1024)
                lastSeqDense.append(contentsOf: repeatElement(Self.unseen, count: n - lastSeqDense.count))
            }
            lastSeqDense[Int(g)] = seq
        } else {
            lastSeqSparse[g] = seq
        }
    }

    private func isReady(_ e: TraceEvent) -> Bool {
        guard let (g, seq) = e.gSeq, e.kind != .goStatus else { return true }
        let last = lastSeq(g)
        if last == Self.unseen { return false }
        return (last &+ 1) & 0x7F == UInt8(truncatingIfNeeded: seq)
    }

    private mutating func record(_ e: TraceEvent) {
        if e.kind == .goCreate {
            setLastSeq(e.a0, 0)
        } else if let (g, seq) = e.gSeq {
            setLastSeq(g, UInt8(truncatingIfNeeded: seq))
        }
    }

    // MARK: merge

    public mutating func next() -> TraceEvent? {
        guard let first = heap.first else { return nil }
        let firstHead = streams[first].head!
        if isReady(firstHead) {
            // Common case: the earliest head is ready. Take it and sift its stream's next head
            // down from the root (one sift instead of a pop and a push).
            record(firstHead)
            advance(first)
            if streams[first].head != nil { heapSiftDown(0) } else { _ = heapPop() }
            eventsReturned += 1
            return firstHead
        }
        _ = heapPop()
        var chosen = first
        var skipped: [Int] = []
        var found: Int?
        let limit = firstHead.ticks &+ reorderWindow
        while let top = heap.first, keys[top] <= limit {
            _ = heapPop()
            if isReady(streams[top].head!) {
                found = top
                break
            }
            skipped.append(top)
        }
        for s in skipped { heapPush(s) }
        if let found {
            chosen = found
            heapPush(first)
            if streams[found].head!.ticks > firstHead.ticks { orderSkews += 1 }
        } else {
            seqMismatches += 1
        }
        let event = streams[chosen].head!
        record(event)
        advance(chosen)
        if streams[chosen].head != nil { heapPush(chosen) }
        eventsReturned += 1
        return event
    }

    // MARK: heap of stream indices, ordered by (head ticks, owner)

    @inline(__always)
    private func less(_ a: Int, _ b: Int) -> Bool {
        let x = keys[a], y = keys[b]
        return x < y || (x == y && a < b)
    }

    private mutating func heapPush(_ i: Int) {
        heap.append(i)
        var c = heap.count - 1
        while c > 0 {
            let parent = (c - 1) / 2
            if !less(heap[c], heap[parent]) { break }
            heap.swapAt(c, parent)
            c = parent
        }
    }

    private mutating func heapPop() -> Int? {
        guard !heap.isEmpty else { return nil }
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            heapSiftDown(0)
        }
        return top
    }

    /// Restores the heap order below `start` after its stream's head moved later.
    private mutating func heapSiftDown(_ start: Int) {
        var p = start
        while true {
            let l = 2 * p + 1, r = l + 1
            var m = p
            if l < heap.count && less(heap[l], heap[m]) { m = l }
            if r < heap.count && less(heap[r], heap[m]) { m = r }
            if m == p { break }
            heap.swapAt(p, m)
            p = m
        }
    }
}
