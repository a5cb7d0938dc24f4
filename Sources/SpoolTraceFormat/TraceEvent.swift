// A decoded event and the errors the reader reports.

/// One event as read from a trace, with its absolute timestamp.
public struct TraceEvent: Equatable, Sendable {
    /// What happened.
    public var kind: EventKind
    /// Ticks since trace start (see `TraceHeader.nanoseconds`).
    public var ticks: UInt64
    /// The batch owner (P or M) whose batch held the event.
    public var owner: BatchOwner
    /// Byte offset of the event's kind byte in the file.
    public var offset: Int
    /// Arguments in wire order (`kind.argNames`); unused ones are 0.
    public var a0: UInt64
    public var a1: UInt64
    public var a2: UInt64

    public init(kind: EventKind, ticks: UInt64, owner: BatchOwner, offset: Int = 0,
                a0: UInt64 = 0, a1: UInt64 = 0, a2: UInt64 = 0) {
        self.kind = kind
        self.ticks = ticks
        self.owner = owner
        self.offset = offset
        self.a0 = a0
        self.a1 = a1
        self.a2 = a2
    }

    /// Argument `i` in wire order.
    @inlinable public func arg(_ i: Int) -> UInt64 {
        switch i {
        case 0: return a0
        case 1: return a1
        default: return a2
        }
    }

    /// The G the event's `seq` belongs to, and the seq, for kinds that carry one.
    @inlinable public var gSeq: (g: UInt64, seq: UInt64)? {
        switch kind {
        case .goStart, .goUnblock, .goWake, .netpollReady, .goSyscallEndBlocked, .goStatus:
            return (a0, a1)
        default:
            return nil
        }
    }
}

/// A problem found while reading a trace: where (byte offset) and what was expected.
public struct TraceError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// The file could not be opened or read.
        case io
        /// The first 8 bytes are not `SPOOLTRC`.
        case badMagic
        /// A format version this reader does not know.
        case unsupportedVersion
        /// The header is malformed (flags, length, CRC, payload fields).
        case badHeader
        /// The file ends inside a frame, or without an end frame.
        case truncated
        /// A frame header is malformed (kind, reserved bytes, owner, length).
        case badFrame
        /// A frame's CRC-32C does not match its bytes.
        case checksumMismatch
        /// An event inside a checksummed batch is malformed (kind, varint, argument range).
        case badEvent
        /// Bytes follow the end frame.
        case trailingData
    }

    public var kind: Kind
    /// Byte offset in the file where the problem starts.
    public var offset: Int
    /// What was found and what was expected.
    public var message: String

    public init(_ kind: Kind, at offset: Int, _ message: String) {
        self.kind = kind
        self.offset = offset
        self.message = message
    }

    public var description: String { "byte \(offset): \(message)" }
}
