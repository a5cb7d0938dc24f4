// Appends events to one batch in caller-owned memory, without allocating: the runtime's per-P
// and per-M trace buffers are built on it, so every append is an inlinable bounds check plus a
// few byte stores.
//
// Invariant "Room before write": the caller checks `hasRoom` (or `remaining >=
// maxEventSize`) before each `append`; the append itself only asserts it. A full buffer is
// sealed with `seal()` and handed off; the caller then starts a new batch.

/// Writes one batch frame (header + events) into a fixed-capacity buffer.
public struct BatchEncoder {
    /// The most bytes one event can take: kind + delta + 3 args, 10 bytes per varint.
    public static let maxEventSize = 1 + Varint.maxLength * (1 + EventKind.maxArgs)

    /// Start of the caller's buffer; the frame header occupies the first 32 bytes.
    public let base: UnsafeMutablePointer<UInt8>
    /// Buffer size in bytes.
    public let capacity: Int
    /// Bytes used so far, including the 32-byte frame header.
    @inlinable public var count: Int { _count }
    @usableFromInline var _count: Int
    /// Timestamp of the last event (or the base timestamp), in ticks.
    @inlinable public var lastTicks: UInt64 { _lastTicks }
    @usableFromInline var _lastTicks: UInt64
    /// The batch's base timestamp, in ticks.
    public private(set) var baseTicks: UInt64
    /// Number of events appended since `begin`.
    @inlinable public var eventCount: Int { _eventCount }
    @usableFromInline var _eventCount: Int
    /// Owner and sequence number given to `begin`.
    public private(set) var owner: BatchOwner
    public private(set) var seq: UInt64

    /// Wraps `capacity` bytes at `buffer`. The caller keeps ownership of the memory and must
    /// keep it alive while the encoder is used.
    /// - Precondition: `capacity >= 32 + maxEventSize`.
    public init(buffer: UnsafeMutablePointer<UInt8>, capacity: Int) {
        precondition(capacity >= FrameLayout.frameHeaderSize + Self.maxEventSize,
                     "trace buffer of \(capacity) bytes is too small for one event")
        precondition(capacity - FrameLayout.frameHeaderSize <= FrameLayout.maxBatchPayload,
                     "trace buffer of \(capacity) bytes exceeds the batch payload limit")
        self.base = buffer
        self.capacity = capacity
        self._count = FrameLayout.frameHeaderSize
        self._lastTicks = 0
        self.baseTicks = 0
        self._eventCount = 0
        self.owner = .p(0)
        self.seq = 0
    }

    /// Starts a new batch (discarding anything not sealed).
    public mutating func begin(owner: BatchOwner, seq: UInt64, baseTicks: UInt64) {
        self.owner = owner
        self.seq = seq
        self.baseTicks = baseTicks
        self._lastTicks = baseTicks
        self._count = FrameLayout.frameHeaderSize
        self._eventCount = 0
    }

    /// Free bytes left.
    @inlinable public var remaining: Int { capacity - count }

    /// Whether one more event of any kind fits.
    @inlinable public var hasRoom: Bool { capacity - count >= Self.maxEventSize }

    /// Whether no event was appended since `begin`.
    @inlinable public var isEmpty: Bool { eventCount == 0 }

    @inlinable @inline(__always)
    mutating func head(_ kind: EventKind, _ ticks: UInt64) -> UnsafeMutablePointer<UInt8> {
        assert(hasRoom, "BatchEncoder: append without room (see \"Room before write\")")
        // A timestamp behind the previous one (a clock read that raced a P handoff) is clamped:
        // deltas are unsigned and a batch's timestamps never decrease.
        let dt = ticks > lastTicks ? ticks &- lastTicks : 0
        if ticks > lastTicks { _lastTicks = ticks }
        let p = base + _count
        p[0] = kind.rawValue
        return p + 1 + Varint.write(dt, to: p + 1)
    }

    /// Appends an event with no arguments.
    @inlinable @inline(__always)
    public mutating func append(_ kind: EventKind, ticks: UInt64) {
        assert(kind.argCount == 0)
        let p = head(kind, ticks)
        _count = p - base
        _eventCount &+= 1
    }

    /// Appends an event with one argument.
    @inlinable @inline(__always)
    public mutating func append(_ kind: EventKind, ticks: UInt64, _ a0: UInt64) {
        assert(kind.argCount == 1)
        var p = head(kind, ticks)
        p += Varint.write(a0, to: p)
        _count = p - base
        _eventCount &+= 1
    }

    /// Appends an event with two arguments.
    @inlinable @inline(__always)
    public mutating func append(_ kind: EventKind, ticks: UInt64, _ a0: UInt64, _ a1: UInt64) {
        assert(kind.argCount == 2)
        var p = head(kind, ticks)
        p += Varint.write(a0, to: p)
        p += Varint.write(a1, to: p)
        _count = p - base
        _eventCount &+= 1
    }

    /// Appends an event with three arguments.
    @inlinable @inline(__always)
    public mutating func append(_ kind: EventKind, ticks: UInt64, _ a0: UInt64, _ a1: UInt64, _ a2: UInt64) {
        assert(kind.argCount == 3)
        var p = head(kind, ticks)
        p += Varint.write(a0, to: p)
        p += Varint.write(a1, to: p)
        p += Varint.write(a2, to: p)
        _count = p - base
        _eventCount &+= 1
    }

    /// Appends an event given its arguments as an array (tools and tests; not for hot paths).
    /// - Precondition: `args.count == kind.argCount`.
    public mutating func append(_ kind: EventKind, ticks: UInt64, args: [UInt64]) {
        precondition(args.count == kind.argCount, "\(kind.name) takes \(kind.argCount) arguments")
        switch args.count {
        case 0: append(kind, ticks: ticks)
        case 1: append(kind, ticks: ticks, args[0])
        case 2: append(kind, ticks: ticks, args[0], args[1])
        default: append(kind, ticks: ticks, args[0], args[1], args[2])
        }
    }

    /// Writes the frame header (length and CRC) and returns the frame: `base[0 ..< count]`.
    /// The encoder keeps its contents until the next `begin`.
    public mutating func seal() -> UnsafeBufferPointer<UInt8> {
        FrameLayout.sealFrame(at: base, kind: .batch, owner: owner, seq: seq, baseTicks: baseTicks,
                              payloadLength: count - FrameLayout.frameHeaderSize)
        return UnsafeBufferPointer(start: base, count: count)
    }
}
