// TraceBuilder: writes a syntactically valid Spool trace (schema/trace-format.md) from events
// given in time order, the way the runtime's tracer would: one open batch per owner (a P or an
// M), sealed when it holds `batchEvents` events or runs out of room, frames emitted in the order
// they fill (so owners interleave in the file), per-G sequence numbers kept modulo 128, and an
// end frame that counts the batches.
//
// It knows nothing about scheduling: which events make sense is the business of
// `ScenarioModel`, which drives it. Invariant "Owner time order": the events of one owner are
// appended with non-decreasing timestamps (checked by a precondition, since a violation would be
// silently clamped by `BatchEncoder` and the expected answers would be wrong).
//
// Output goes to memory (`[UInt8]`, with the offset of every frame, for truncation scenarios)
// or is streamed to a C `FILE*` (the 10M-event benchmark traces, without holding them).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SpoolTraceFormat

/// Where a `TraceBuilder` puts its bytes.
enum TraceSink {
    /// Keep everything in memory (`TraceBuilder.bytes`).
    case memory
    /// Stream to an open C file (the caller closes it).
    case file(UnsafeMutablePointer<FILE>)
    /// Count the bytes and drop them (answers only).
    case discard
}

/// One frame written so far: where it starts in the file and what it is.
struct FrameRecord {
    /// Byte offset of the frame header in the file.
    var offset: Int
    /// Frame size in bytes (32-byte header + payload).
    var size: Int
    var owner: BatchOwner
    /// Batch sequence number.
    var seq: UInt64
    /// Events in the batch.
    var events: Int
    /// Timestamp of the batch's last event, in ns since trace start.
    var lastNs: Int64
}

/// Writes header, batches and end frame; see the file comment.
final class TraceBuilder {
    /// The file header (already written as the first bytes).
    let header: TraceHeader
    /// Nanoseconds per tick: 1 for 1 GHz ticks, 16 for `ticks-16ns`. Every timestamp given to
    /// the builder (in ns) must be a multiple of it, so that the reader's conversion is exact.
    let nsPerTick: Int64
    /// A batch is sealed when it holds this many events (or has no room for one more).
    let batchEvents: Int
    /// Bytes of each per-owner buffer, frame header included.
    let batchCapacity: Int

    private let sink: TraceSink
    /// Everything written, when the sink is `.memory`.
    private(set) var bytes: [UInt8] = []
    /// Whether a write to the file sink failed (the caller reports it).
    private(set) var writeFailed = false
    /// Bytes written so far (header included).
    private(set) var bytesWritten = 0
    /// Frames written so far, in file order (only when `recordFrames`).
    private(set) var frames: [FrameRecord] = []
    private let recordFrames: Bool
    /// Batch frames written so far.
    private(set) var batchFramesWritten = 0
    /// Events in frames written so far.
    private(set) var eventsWritten = 0
    /// Events appended so far (written or still buffered).
    private(set) var eventsAppended = 0

    private final class Slot {
        let owner: BatchOwner
        let memory: UnsafeMutablePointer<UInt8>
        var encoder: BatchEncoder
        var open = false
        var nextSeq: UInt64 = 0
        var lastNs: Int64 = 0
        init(owner: BatchOwner, capacity: Int) {
            self.owner = owner
            memory = .allocate(capacity: capacity)
            // SAFETY: `memory` lives as long as the slot, which owns the encoder.
            encoder = BatchEncoder(buffer: memory, capacity: capacity)
        }
        deinit { memory.deallocate() }
    }
    private var slots: [Slot] = []
    private var slotIndex: [BatchOwner: Int] = [:]
    /// Per-G sequence counters (full value; the wire carries it modulo 128).
    private var seqs: [UInt64: UInt64] = [:]

    init(header: TraceHeader, batchEvents: Int, batchCapacity: Int = 16 << 10,
         sink: TraceSink = .memory, recordFrames: Bool = true) {
        precondition(1_000_000_000 % header.ticksPerSecond == 0,
                     "scenario clocks must have a whole number of ns per tick")
        precondition(batchEvents >= 1)
        self.header = header
        self.nsPerTick = Int64(1_000_000_000 / header.ticksPerSecond)
        self.batchEvents = batchEvents
        self.batchCapacity = batchCapacity
        self.sink = sink
        self.recordFrames = recordFrames
        write(header.encoded())
    }

    // MARK: Events

    /// Appends an event of `owner` stamped `ns` (ns since trace start). `args` are the wire
    /// arguments; for kinds that carry a seq, pass the value from `nextSeq(_:)`.
    /// - Precondition: "Owner time order"; `ns` is a multiple of `nsPerTick`.
    func append(_ owner: BatchOwner, _ kind: EventKind, ns: Int64,
                _ a0: UInt64 = 0, _ a1: UInt64 = 0, _ a2: UInt64 = 0) {
        precondition(ns >= 0 && ns % nsPerTick == 0, "timestamp \(ns) ns is not a whole tick")
        precondition(kind.allowedIn.contains(owner.kind == .p ? .p : .m),
                     "\(kind.name) may not appear in a batch of \(owner)")
        let slot = self.slot(owner)
        precondition(ns >= slot.lastNs, "\(owner): \(kind.name) at \(ns) ns goes back in time (last \(slot.lastNs))")
        let ticks = UInt64(ns / nsPerTick)
        if slot.open && (slot.encoder.eventCount >= batchEvents || !slot.encoder.hasRoom) {
            seal(slot)
        }
        if !slot.open {
            slot.encoder.begin(owner: owner, seq: slot.nextSeq, baseTicks: ticks)
            slot.nextSeq += 1
            slot.open = true
        }
        switch kind.argCount {
        case 0: slot.encoder.append(kind, ticks: ticks)
        case 1: slot.encoder.append(kind, ticks: ticks, a0)
        case 2: slot.encoder.append(kind, ticks: ticks, a0, a1)
        default: slot.encoder.append(kind, ticks: ticks, a0, a1, a2)
        }
        slot.lastNs = ns
        eventsAppended += 1
    }

    /// The next sequence number of G `g`, modulo 128 (increments its counter). Call once per
    /// event that carries a seq (GoStart, GoUnblock, GoWake, NetpollReady, GoSyscallEndBlocked).
    func nextSeq(_ g: UInt64) -> UInt64 {
        let s = (seqs[g] ?? 0) + 1
        seqs[g] = s
        return s % 128
    }

    /// Sets G `g`'s counter: 0 at GoCreate, the GoStatus value at trace start.
    func resetSeq(_ g: UInt64, to value: UInt64) { seqs[g] = value }

    /// Forgets G `g`'s counter (after GoEnd; keeps the table small in long traces).
    func forgetSeq(_ g: UInt64) { seqs[g] = nil }

    // MARK: Batches

    /// Seals `owner`'s open batch, if any, so its next event starts a new batch.
    func flush(_ owner: BatchOwner) {
        if let i = slotIndex[owner], slots[i].open { seal(slots[i]) }
    }

    /// Seals every open batch, Ps first then Ms, each by id.
    func flushAll() {
        for slot in slots.sorted(by: { ($0.owner.kind.rawValue, $0.owner.id) < ($1.owner.kind.rawValue, $1.owner.id) })
        where slot.open { seal(slot) }
    }

    /// Starts a new batch for `owner` whose first event is `TraceLost(count)` at `ns`
    /// (as the runtime does after dropping events for lack of a buffer).
    func lost(_ owner: BatchOwner, count: UInt64, ns: Int64) {
        flush(owner)
        append(owner, .traceLost, ns: ns, count)
    }

    /// Seals `owner`'s open batch and skips one batch sequence number: a whole batch lost.
    func skipBatch(_ owner: BatchOwner) {
        flush(owner)
        slot(owner).nextSeq += 1
    }

    /// Flushes every open batch; then, when `endNs` is given, writes the end frame.
    func finish(endNs: Int64?) {
        flushAll()
        if let endNs {
            precondition(endNs % nsPerTick == 0)
            write(FrameLayout.endFrame(batchCount: UInt64(batchFramesWritten), endTicks: UInt64(endNs / nsPerTick)))
        }
    }

    private func slot(_ owner: BatchOwner) -> Slot {
        if let i = slotIndex[owner] { return slots[i] }
        let s = Slot(owner: owner, capacity: batchCapacity)
        slotIndex[owner] = slots.count
        slots.append(s)
        return s
    }

    private func seal(_ slot: Slot) {
        let frame = slot.encoder.seal()
        if recordFrames {
            frames.append(FrameRecord(offset: bytesWritten, size: frame.count, owner: slot.owner,
                                      seq: slot.encoder.seq, events: slot.encoder.eventCount,
                                      lastNs: slot.lastNs))
        }
        batchFramesWritten += 1
        eventsWritten += slot.encoder.eventCount
        write(frame)
        slot.open = false
    }

    private func write(_ chunk: [UInt8]) {
        chunk.withUnsafeBufferPointer { write($0) }
    }

    private func write(_ chunk: UnsafeBufferPointer<UInt8>) {
        switch sink {
        case .memory:
            bytes.append(contentsOf: chunk)
        case .discard:
            break
        case .file(let f):
            if chunk.count > 0 {
                if fwrite(chunk.baseAddress, 1, chunk.count, f) != chunk.count { writeFailed = true }
            }
        }
        bytesWritten += chunk.count
    }
}
