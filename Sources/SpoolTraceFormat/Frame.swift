// File header and frame framing (schema/trace-format.md, "Header" and "Frames").

/// The 8 magic bytes that open every trace: ASCII `SPOOLTRC`.
public let traceMagic: [UInt8] = Array("SPOOLTRC".utf8)

/// The format version this library writes and reads.
public let traceFormatVersion: UInt16 = 1

/// Frame kinds (byte 0 of a frame header).
public enum FrameKind: UInt8, Sendable {
    case batch = 0xB1
    case end = 0xE0
}

/// Who wrote a batch: a P (logical processor) or an M (thread without a P).
public enum OwnerKind: UInt8, Sendable {
    case p = 0
    case m = 1
}

/// A batch owner: kind and id. P ids are `0 ..< maxProcs`, M ids start at 1.
public struct BatchOwner: Hashable, Sendable, CustomStringConvertible {
    public var kind: OwnerKind
    public var id: UInt32
    public init(_ kind: OwnerKind, _ id: UInt32) { self.kind = kind; self.id = id }
    public static func p(_ id: UInt32) -> BatchOwner { BatchOwner(.p, id) }
    public static func m(_ id: UInt32) -> BatchOwner { BatchOwner(.m, id) }
    public var description: String { (kind == .p ? "P" : "M") + String(id) }
}

/// Sizes and limits of the framing.
public enum FrameLayout {
    /// Bytes of the fixed file-header prefix (magic, version, flags, length, CRC).
    public static let fileHeaderPrefixSize = 20
    /// Largest header payload a reader accepts.
    public static let maxHeaderPayload = 1 << 20
    /// Bytes of every frame header.
    public static let frameHeaderSize = 32
    /// Largest batch payload a reader accepts.
    public static let maxBatchPayload = 16 << 20

    /// Writes a 32-byte frame header at `p`, with the CRC covering the header and `payload`.
    /// - Precondition: `p` points at `frameHeaderSize` writable bytes followed by the payload
    ///   (`payloadLength` bytes).
    public static func sealFrame(
        at p: UnsafeMutablePointer<UInt8>, kind: FrameKind, owner: BatchOwner,
        seq: UInt64, baseTicks: UInt64, payloadLength: Int
    ) {
        p[0] = kind.rawValue
        p[1] = owner.kind.rawValue
        p[2] = 0
        p[3] = 0
        storeLE(UInt64(owner.id), at: p + 4, bytes: 4)
        storeLE(seq, at: p + 8, bytes: 8)
        storeLE(baseTicks, at: p + 16, bytes: 8)
        storeLE(UInt64(payloadLength), at: p + 24, bytes: 4)
        var crc = CRC32C.update(0, p, 28)
        crc = CRC32C.update(crc, p + frameHeaderSize, payloadLength)
        storeLE(UInt64(crc), at: p + 28, bytes: 4)
    }

    /// The bytes of an end frame (see "The end frame" in the spec).
    public static func endFrame(batchCount: UInt64, endTicks: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: frameHeaderSize)
        bytes.withUnsafeMutableBufferPointer {
            sealFrame(at: $0.baseAddress!, kind: .end, owner: .p(0), seq: batchCount,
                      baseTicks: endTicks, payloadLength: 0)
        }
        return bytes
    }

    @inlinable
    static func storeLE(_ value: UInt64, at p: UnsafeMutablePointer<UInt8>, bytes: Int) {
        for i in 0..<bytes { p[i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }

    @inlinable
    static func loadLE(_ p: UnsafePointer<UInt8>, bytes: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<bytes { v |= UInt64(p[i]) << (8 * UInt64(i)) }
        return v
    }
}

/// The file header: clock, processors, program metadata.
public struct TraceHeader: Equatable, Sendable {
    /// Clock frequency: 1 tick = 10⁹ / ticksPerSecond ns. Never 0.
    public var ticksPerSecond: UInt64
    /// Number of Ps.
    public var maxProcs: UInt64
    /// Wall-clock time of trace start, ns since the Unix epoch.
    public var wallClockStartNs: UInt64
    /// Process id of the traced program.
    public var pid: UInt64
    /// Program path as started.
    public var program: String
    /// Program arguments, without the program.
    public var arguments: [String]
    /// Free-form key/value metadata, in order.
    public var meta: [KeyValue]

    public struct KeyValue: Equatable, Sendable {
        public var key: String
        public var value: String
        public init(_ key: String, _ value: String) { self.key = key; self.value = value }
    }

    public init(
        ticksPerSecond: UInt64, maxProcs: UInt64, wallClockStartNs: UInt64 = 0, pid: UInt64 = 0,
        program: String = "", arguments: [String] = [], meta: [KeyValue] = []
    ) {
        self.ticksPerSecond = ticksPerSecond
        self.maxProcs = maxProcs
        self.wallClockStartNs = wallClockStartNs
        self.pid = pid
        self.program = program
        self.arguments = arguments
        self.meta = meta
    }

    /// Converts ticks since trace start to nanoseconds: floor(ticks × 10⁹ / ticksPerSecond).
    @inlinable
    public func nanoseconds(_ ticks: UInt64) -> Int64 {
        if ticksPerSecond == 1_000_000_000 { return Int64(clamping: ticks) }
        let (hi, lo) = ticks.multipliedFullWidth(by: 1_000_000_000)
        if hi >= ticksPerSecond { return Int64.max }
        return Int64(clamping: ticksPerSecond.dividingFullWidth((hi, lo)).quotient)
    }

    /// The complete encoded header: prefix plus payload.
    public func encoded() -> [UInt8] {
        var payload: [UInt8] = []
        Varint.append(ticksPerSecond, to: &payload)
        Varint.append(maxProcs, to: &payload)
        Varint.append(wallClockStartNs, to: &payload)
        Varint.append(pid, to: &payload)
        Self.appendString(program, to: &payload)
        Varint.append(UInt64(arguments.count), to: &payload)
        for a in arguments { Self.appendString(a, to: &payload) }
        Varint.append(UInt64(meta.count), to: &payload)
        for kv in meta {
            Self.appendString(kv.key, to: &payload)
            Self.appendString(kv.value, to: &payload)
        }
        var bytes = traceMagic
        bytes.append(UInt8(traceFormatVersion & 0xFF))
        bytes.append(UInt8(traceFormatVersion >> 8))
        bytes += [0, 0]
        let n = UInt32(payload.count)
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: n >> (8 * UInt32(i)))) }
        let crc = CRC32C.checksum(payload)
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i)))) }
        return bytes + payload
    }

    static func appendString(_ s: String, to bytes: inout [UInt8]) {
        let utf8 = Array(s.utf8)
        Varint.append(UInt64(utf8.count), to: &bytes)
        bytes += utf8
    }
}
