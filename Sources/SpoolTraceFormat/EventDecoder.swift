// Decoding the events of one batch payload. Shared by `TraceFile.scan()`, which validates every
// event once, and `OrderedEvents`, which decodes them again in merge order: the second pass
// meets only bytes the first accepted, so it cannot fail.

/// Decodes events from one batch payload.
public struct EventDecoder {
    /// The payload bytes. The decoder does not own them.
    public let base: UnsafePointer<UInt8>
    public let count: Int
    /// File offset of `base[0]`, to report absolute offsets.
    public let fileOffset: Int
    public let owner: BatchOwner
    /// Number of Ps, to range-check P arguments.
    public let maxProcs: UInt64
    /// Whether to check argument ranges (enums, seq, P ids). The scan validates; a second pass
    /// over bytes the scan accepted skips the checks.
    public var validates = true
    /// Current read position in the payload.
    public private(set) var position: Int = 0
    /// Timestamp of the last decoded event (starts at the batch base).
    public private(set) var ticks: UInt64

    public init(base: UnsafePointer<UInt8>, count: Int, fileOffset: Int, owner: BatchOwner,
                baseTicks: UInt64, maxProcs: UInt64, position: Int = 0) {
        self.position = position
        self.base = base
        self.count = count
        self.fileOffset = fileOffset
        self.owner = owner
        self.ticks = baseTicks
        self.maxProcs = maxProcs
    }

    /// Whether all bytes were consumed.
    public var atEnd: Bool { position >= count }

    /// Decodes the next event, or returns nil at the end of the payload.
    public mutating func next() throws(TraceError) -> TraceEvent? {
        if position >= count { return nil }
        let start = position
        let at = fileOffset + start
        guard let kind = EventKind(rawValue: base[start]) else {
            throw TraceError(.badEvent, at: at,
                             "unknown event kind \(base[start]); expected 1...\(EventKind.allCases.count)")
        }
        guard kind.allowedIn.contains(owner.kind == .p ? .p : .m) else {
            throw TraceError(.badEvent, at: at,
                             "\(kind.name) is not allowed in a batch of \(owner) (owner kind \(owner.kind == .p ? "P" : "M"))")
        }
        var pos = start + 1
        var values: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        let n = 1 + kind.argCount
        for i in 0..<n {
            guard let (v, len) = Varint.read(base, pos, count) else {
                let what = i == 0 ? "timestamp delta" : "argument \(kind.argNames[i - 1])"
                throw TraceError(.badEvent, at: fileOffset + pos,
                                 "\(kind.name): \(what) is not a valid varint within the batch")
            }
            switch i {
            case 0: values.0 = v
            case 1: values.1 = v
            case 2: values.2 = v
            default: values.3 = v
            }
            pos += len
        }
        let (sum, overflow) = ticks.addingReportingOverflow(values.0)
        if overflow {
            throw TraceError(.badEvent, at: at, "\(kind.name): timestamp overflows 64 bits")
        }
        let event = TraceEvent(kind: kind, ticks: sum, owner: owner, offset: at,
                               a0: values.1, a1: values.2, a2: values.3)
        if validates { try validateArguments(event) }
        ticks = sum
        position = pos
        return event
    }

    private func validateArguments(_ e: TraceEvent) throws(TraceError) {
        if let (index, type, count) = e.kind.enumArg, e.arg(index) >= count {
            throw TraceError(.badEvent, at: e.offset,
                             "\(e.kind.name): \(e.kind.argNames[index]) \(e.arg(index)) is not a \(type.rawValue) (0...\(count - 1))")
        }
        if let (_, seq) = e.gSeq, seq >= 128 {
            throw TraceError(.badEvent, at: e.offset, "\(e.kind.name): seq \(seq) is not below 128")
        }
        switch e.kind {
        case .steal where e.a0 >= maxProcs:
            throw TraceError(.badEvent, at: e.offset, "Steal: fromP \(e.a0) is not below maxProcs \(maxProcs)")
        case .preemptRequest where e.a1 >= maxProcs:
            throw TraceError(.badEvent, at: e.offset, "PreemptRequest: p \(e.a1) is not below maxProcs \(maxProcs)")
        default:
            break
        }
    }
}
