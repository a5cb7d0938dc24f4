// Reading a trace file: the header, then a framing scan that validates every frame and every
// event (the "read" stage of the analyzer pipeline).
//
// The scan is one sequential pass that keeps only a small record per batch (`BatchInfo`, 48
// bytes; a 10M-event trace has a few hundred batches), so memory stays bounded however large the
// file is. It stops at the first frame it cannot validate: everything before that frame is
// complete and usable, and the problem names its byte offset ("Bad input loses nothing").

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where one batch frame sits in the file.
public struct BatchInfo: Equatable, Sendable {
    /// File offset of the frame header.
    public var offset: Int
    public var owner: BatchOwner
    /// Per-owner batch sequence number.
    public var seq: UInt64
    /// Base timestamp in ticks.
    public var baseTicks: UInt64
    /// Payload length in bytes (the events).
    public var payloadLength: Int
    /// Number of events in the payload.
    public var eventCount: Int
    /// Timestamp of the batch's last event, in ticks (the base if it has none).
    public var lastTicks: UInt64

    /// File offset of the first payload byte.
    public var payloadOffset: Int { offset + FrameLayout.frameHeaderSize }
}

/// The end frame, when the trace was finalized.
public struct EndInfo: Equatable, Sendable {
    /// File offset of the end frame.
    public var offset: Int
    /// Number of batch frames the writer says it wrote.
    public var batchCount: UInt64
    /// Trace end timestamp, in ticks.
    public var endTicks: UInt64
}

/// The result of scanning a trace's frames.
public struct TraceScan: Sendable {
    /// Every complete, valid batch, in file order.
    public var batches: [BatchInfo] = []
    /// The end frame; nil when the trace was not finalized or the scan stopped before it.
    public var end: EndInfo?
    /// The first problem: a frame that failed validation, or where the data stops (truncation).
    /// Nil for a clean, finalized trace. Everything before `problem.offset` is valid.
    public var problem: TraceError?
    /// Total events in `batches`.
    public var eventCount: Int = 0
    /// Bytes of the file that were valid (header plus the batches kept).
    public var validBytes: Int = 0
    /// The largest event timestamp seen, in ticks.
    public var maxTicks: UInt64 = 0
    /// `end.batchCount` disagrees with the number of batches read (only with an end frame).
    public var batchCountMismatch: Bool {
        guard let end else { return false }
        return end.batchCount != UInt64(batches.count)
    }
}

/// An open trace: a file on disk or bytes in memory.
public final class TraceFile {
    /// The validated file header.
    public let header: TraceHeader
    /// Size of the trace in bytes.
    public let size: Int
    /// Offset of the first frame (just after the header).
    public let firstFrameOffset: Int

    private enum Source {
        case memory([UInt8])
        case file(Int32)
    }
    private let source: Source
    private let path: String?

    /// Opens and validates the header of the trace at `path`.
    public convenience init(path: String) throws(TraceError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let err = errno
            throw TraceError(.io, at: 0, "cannot open \(path): \(String(cString: strerror(err)))")
        }
        var st = stat()
        if fstat(fd, &st) != 0 {
            let err = errno
            close(fd)
            throw TraceError(.io, at: 0, "cannot stat \(path): \(String(cString: strerror(err)))")
        }
        do {
            try self.init(source: .file(fd), size: Int(st.st_size), path: path)
        } catch {
            close(fd)
            throw error
        }
    }

    /// Validates the header of a trace held in memory.
    public convenience init(bytes: [UInt8]) throws(TraceError) {
        try self.init(source: .memory(bytes), size: bytes.count, path: nil)
    }

    private init(source: Source, size: Int, path: String?) throws(TraceError) {
        self.source = source
        self.size = size
        self.path = path
        let prefixSize = FrameLayout.fileHeaderPrefixSize
        var prefix = [UInt8](repeating: 0, count: prefixSize)
        let got = Self.read(source, offset: 0, into: &prefix, count: min(prefixSize, size))
        if got >= 0 && got < 8 || size < 8 {
            throw TraceError(.badMagic, at: 0, "file is \(size) bytes; expected at least the 8-byte magic SPOOLTRC")
        }
        if got < 0 { throw TraceError(.io, at: 0, "cannot read \(path ?? "trace")") }
        if Array(prefix[0..<8]) != traceMagic {
            throw TraceError(.badMagic, at: 0, "not a Spool trace: expected magic SPOOLTRC")
        }
        if size < prefixSize {
            throw TraceError(.truncated, at: size, "file ends inside the header (\(size) of \(prefixSize) bytes)")
        }
        let version = UInt16(prefix[8]) | UInt16(prefix[9]) << 8
        if version != traceFormatVersion {
            throw TraceError(.unsupportedVersion, at: 8,
                             "trace format version \(version); this reader reads version \(traceFormatVersion)")
        }
        let flags = UInt16(prefix[10]) | UInt16(prefix[11]) << 8
        if flags != 0 { throw TraceError(.badHeader, at: 10, "header flags \(flags); expected 0") }
        let n = prefix.withUnsafeBufferPointer { Int(FrameLayout.loadLE($0.baseAddress! + 12, bytes: 4)) }
        let crc = prefix.withUnsafeBufferPointer { UInt32(FrameLayout.loadLE($0.baseAddress! + 16, bytes: 4)) }
        if n > FrameLayout.maxHeaderPayload {
            throw TraceError(.badHeader, at: 12, "header payload length \(n); expected at most \(FrameLayout.maxHeaderPayload)")
        }
        if prefixSize + n > size {
            throw TraceError(.truncated, at: size, "file ends inside the header payload (\(size - prefixSize) of \(n) bytes)")
        }
        var payload = [UInt8](repeating: 0, count: n)
        if Self.read(source, offset: prefixSize, into: &payload, count: n) != n {
            throw TraceError(.io, at: prefixSize, "cannot read the header payload")
        }
        if CRC32C.checksum(payload) != crc {
            throw TraceError(.checksumMismatch, at: 16, "header CRC-32C does not match its payload")
        }
        self.header = try Self.parseHeaderPayload(payload, at: prefixSize)
        self.firstFrameOffset = prefixSize + n
    }

    deinit {
        if case .file(let fd) = source { close(fd) }
    }

    private static func parseHeaderPayload(_ p: [UInt8], at base: Int) throws(TraceError) -> TraceHeader {
        var pos = 0
        func varint(_ what: String) throws(TraceError) -> UInt64 {
            let r = p.withUnsafeBufferPointer { Varint.read($0.baseAddress!, pos, $0.count) }
            guard let (v, len) = r else {
                throw TraceError(.badHeader, at: base + pos, "header field \(what) is not a valid varint")
            }
            pos += len
            return v
        }
        func string(_ what: String) throws(TraceError) -> String {
            let len = try varint("\(what) length")
            guard len <= UInt64(p.count - pos) else {
                throw TraceError(.badHeader, at: base + pos, "header string \(what) of \(len) bytes runs past the header")
            }
            let s = String(decoding: p[pos..<pos + Int(len)], as: UTF8.self)
            pos += Int(len)
            return s
        }
        let tps = try varint("ticksPerSecond")
        if tps == 0 { throw TraceError(.badHeader, at: base, "ticksPerSecond is 0; expected a clock frequency") }
        let maxProcs = try varint("maxProcs")
        if maxProcs == 0 || maxProcs > 1 << 16 {
            throw TraceError(.badHeader, at: base + pos, "maxProcs \(maxProcs); expected 1...65536")
        }
        let wall = try varint("wallClockStartNs")
        let pid = try varint("pid")
        let program = try string("program")
        let argc = try varint("argc")
        guard argc <= UInt64(p.count) else { throw TraceError(.badHeader, at: base + pos, "argc \(argc) exceeds the header size") }
        var args: [String] = []
        for i in 0..<Int(argc) { args.append(try string("argument \(i)")) }
        let metaCount = try varint("metaCount")
        guard metaCount <= UInt64(p.count) else { throw TraceError(.badHeader, at: base + pos, "metaCount \(metaCount) exceeds the header size") }
        var meta: [TraceHeader.KeyValue] = []
        for i in 0..<Int(metaCount) {
            let k = try string("meta key \(i)")
            let v = try string("meta value \(i)")
            meta.append(.init(k, v))
        }
        if pos != p.count {
            throw TraceError(.badHeader, at: base + pos, "\(p.count - pos) unexpected bytes at the end of the header payload")
        }
        return TraceHeader(ticksPerSecond: tps, maxProcs: maxProcs, wallClockStartNs: wall, pid: pid,
                           program: program, arguments: args, meta: meta)
    }

    /// Reads `count` bytes at `offset` into `buffer` (resized as needed). Returns bytes read or -1.
    private static func read(_ source: Source, offset: Int, into buffer: inout [UInt8], count: Int) -> Int {
        if buffer.count < count { buffer = [UInt8](repeating: 0, count: count) }
        switch source {
        case .memory(let bytes):
            let n = max(0, min(count, bytes.count - offset))
            if n > 0 {
                buffer.withUnsafeMutableBufferPointer { dst in
                    bytes.withUnsafeBufferPointer { src in
                        dst.baseAddress!.update(from: src.baseAddress! + offset, count: n)
                    }
                }
            }
            return n
        case .file(let fd):
            var done = 0
            while done < count {
                let r = buffer.withUnsafeMutableBytes { b in
                    pread(fd, b.baseAddress! + done, count - done, off_t(offset + done))
                }
                if r < 0 {
                    if errno == EINTR { continue }
                    return -1
                }
                if r == 0 { break }
                done += r
            }
            return done
        }
    }

    /// Reads the payload of `batch` into `buffer` (resized as needed).
    /// - Precondition: `batch` came from this file's `scan()`.
    public func readPayload(of batch: BatchInfo, into buffer: inout [UInt8]) {
        let n = Self.read(source, offset: batch.payloadOffset, into: &buffer, count: batch.payloadLength)
        precondition(n == batch.payloadLength, "trace file changed or became unreadable while importing")
    }

    /// Scans every frame: framing, CRC, and every event. Never throws; the first problem is in
    /// `problem` and everything before it is in `batches`.
    public func scan() -> TraceScan {
        var result = TraceScan()
        var offset = firstFrameOffset
        var frame = [UInt8](repeating: 0, count: FrameLayout.frameHeaderSize)
        var payload: [UInt8] = []
        result.validBytes = offset
        while true {
            if offset == size {
                result.problem = TraceError(.truncated, at: offset,
                                            "trace ends after \(result.batches.count) batches without an end frame (not finalized: the program crashed, was killed, or is still running)")
                return result
            }
            let remaining = size - offset
            if remaining < FrameLayout.frameHeaderSize {
                result.problem = TraceError(.truncated, at: offset,
                                            "trace cut inside a frame header (\(remaining) of \(FrameLayout.frameHeaderSize) bytes)")
                return result
            }
            if Self.read(source, offset: offset, into: &frame, count: FrameLayout.frameHeaderSize) != FrameLayout.frameHeaderSize {
                result.problem = TraceError(.io, at: offset, "cannot read the frame header")
                return result
            }
            let h = frame.withUnsafeBufferPointer { b -> (kind: UInt8, ownerKind: UInt8, reserved: UInt64, id: UInt64, seq: UInt64, base: UInt64, len: Int, crc: UInt32) in
                let p = b.baseAddress!
                return (p[0], p[1], FrameLayout.loadLE(p + 2, bytes: 2), FrameLayout.loadLE(p + 4, bytes: 4),
                        FrameLayout.loadLE(p + 8, bytes: 8), FrameLayout.loadLE(p + 16, bytes: 8),
                        Int(FrameLayout.loadLE(p + 24, bytes: 4)), UInt32(FrameLayout.loadLE(p + 28, bytes: 4)))
            }
            guard let kind = FrameKind(rawValue: h.kind) else {
                result.problem = TraceError(.badFrame, at: offset,
                                            "frame kind 0x\(String(h.kind, radix: 16)); expected 0xb1 (batch) or 0xe0 (end)")
                return result
            }
            if h.reserved != 0 {
                result.problem = TraceError(.badFrame, at: offset + 2, "frame reserved bytes are \(h.reserved); expected 0")
                return result
            }
            if kind == .end {
                if h.ownerKind != 0 || h.id != 0 || h.len != 0 {
                    result.problem = TraceError(.badFrame, at: offset, "end frame with owner or payload; expected zeros")
                    return result
                }
                let crc = frame.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress!, 28) }
                if crc != h.crc {
                    result.problem = TraceError(.checksumMismatch, at: offset, "end frame CRC-32C does not match")
                    return result
                }
                result.end = EndInfo(offset: offset, batchCount: h.seq, endTicks: h.base)
                offset += FrameLayout.frameHeaderSize
                result.validBytes = offset
                if offset != size {
                    result.problem = TraceError(.trailingData, at: offset, "\(size - offset) bytes after the end frame; expected end of file")
                }
                return result
            }
            guard let ownerKind = OwnerKind(rawValue: h.ownerKind) else {
                result.problem = TraceError(.badFrame, at: offset + 1, "owner kind \(h.ownerKind); expected 0 (P) or 1 (M)")
                return result
            }
            if ownerKind == .p && h.id >= header.maxProcs {
                result.problem = TraceError(.badFrame, at: offset + 4, "batch owner P\(h.id); expected a P below maxProcs \(header.maxProcs)")
                return result
            }
            if ownerKind == .m && h.id == 0 {
                result.problem = TraceError(.badFrame, at: offset + 4, "batch owner M0; M ids start at 1")
                return result
            }
            if h.len > FrameLayout.maxBatchPayload {
                result.problem = TraceError(.badFrame, at: offset + 24, "batch payload length \(h.len); expected at most \(FrameLayout.maxBatchPayload)")
                return result
            }
            if h.len > remaining - FrameLayout.frameHeaderSize {
                result.problem = TraceError(.truncated, at: offset,
                                            "trace cut inside a batch: its payload of \(h.len) bytes needs \(FrameLayout.frameHeaderSize + h.len) bytes, \(remaining) remain")
                return result
            }
            if Self.read(source, offset: offset + FrameLayout.frameHeaderSize, into: &payload, count: h.len) != h.len {
                result.problem = TraceError(.io, at: offset, "cannot read the batch payload")
                return result
            }
            var crc = frame.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress!, 28) }
            crc = payload.withUnsafeBufferPointer { CRC32C.update(crc, $0.baseAddress!, h.len) }
            if crc != h.crc {
                result.problem = TraceError(.checksumMismatch, at: offset,
                                            "batch CRC-32C does not match its bytes (corrupt data)")
                return result
            }
            let owner = BatchOwner(ownerKind, UInt32(h.id))
            var events = 0
            var last = h.base
            let failure: TraceError? = payload.withUnsafeBufferPointer { b -> TraceError? in
                var d = EventDecoder(base: b.baseAddress!, count: h.len, fileOffset: offset + FrameLayout.frameHeaderSize,
                                     owner: owner, baseTicks: h.base, maxProcs: header.maxProcs)
                do throws(TraceError) {
                    while let e = try d.next() {
                        events += 1
                        last = e.ticks
                    }
                    return nil
                } catch {
                    return error
                }
            }
            if let failure {
                result.problem = failure
                return result
            }
            result.batches.append(BatchInfo(offset: offset, owner: owner, seq: h.seq, baseTicks: h.base,
                                            payloadLength: h.len, eventCount: events, lastTicks: last))
            result.eventCount += events
            result.maxTicks = max(result.maxTicks, last)
            offset += FrameLayout.frameHeaderSize + h.len
            result.validBytes = offset
        }
    }
}
