// Damaged variants of a trace, for "bad input never crashes" tests of the reader and of the
// importer (issue 2, "Bad input"). Deterministic for a seed.
//
// Two families of damage:
// - byte damage (flip, truncate, insert, delete, duplicate a range): what a disk or a crash
//   does; the reader must stop at the first frame it cannot validate and name its offset;
// - frame damage that keeps every CRC valid (drop, duplicate, swap or renumber whole frames,
//   or replace a batch by random but well-formed events): the reader accepts it, so the
//   importer's state machines meet events that contradict each other (unknown Gs, starts of
//   running Gs, gaps, duplicates) and must count them in `import_stats`, never crash.

import SpoolTraceFormat

/// Produces damaged variants of a trace (see the file comment).
public enum TraceMutator {
    /// One kind of damage.
    public enum Mutation: String, CaseIterable, Sendable {
        case flipByte, truncate, insertBytes, deleteBytes, duplicateBytes
        case dropFrame, duplicateFrame, swapFrames, renumberFrame, randomEvents
    }

    /// `count` variants of `trace`, each with 1 to 3 mutations chosen by a SplitMix64 stream
    /// from `seed`. `only` restricts the kinds of damage. A trace whose header does not parse
    /// gets byte damage only.
    public static func mutants(of trace: [UInt8], seed: UInt64, count: Int,
                               only: [Mutation] = Mutation.allCases) -> [[UInt8]] {
        precondition(!only.isEmpty)
        var rng = SplitMix64(state: seed)
        let layout = Layout(trace)
        var out: [[UInt8]] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            var bytes = trace
            var frames = layout
            for _ in 0...rng.below(3) {
                let m = only[Int(rng.below(UInt64(only.count)))]
                apply(m, to: &bytes, frames: &frames, rng: &rng)
            }
            out.append(bytes)
        }
        return out
    }

    /// Where the frames are, as long as only frame-level damage was applied.
    struct Layout {
        var headerSize: Int
        var maxProcs: UInt64
        /// (offset, size) of each frame, end frame included; nil once bytes were shifted.
        var frames: [(offset: Int, size: Int)]?

        init(_ bytes: [UInt8]) {
            headerSize = 0
            maxProcs = 1
            frames = nil
            guard let file = try? TraceFile(bytes: bytes) else { return }
            headerSize = file.firstFrameOffset
            maxProcs = file.header.maxProcs
            let scan = file.scan()
            var list = scan.batches.map { (offset: $0.offset, size: FrameLayout.frameHeaderSize + $0.payloadLength) }
            if let end = scan.end { list.append((end.offset, FrameLayout.frameHeaderSize)) }
            frames = list
        }
    }

    static func apply(_ m: Mutation, to bytes: inout [UInt8], frames layout: inout Layout, rng: inout SplitMix64) {
        let n = bytes.count
        func below(_ k: Int) -> Int { Int(rng.below(UInt64(max(k, 1)))) }
        // Frame damage needs an intact layout with at least one frame; fall back to a flip.
        let frameLevel: Set<Mutation> = [.dropFrame, .duplicateFrame, .swapFrames, .renumberFrame, .randomEvents]
        guard !frameLevel.contains(m) || (layout.frames.map { !$0.isEmpty } ?? false) else {
            if n > 0 { bytes[below(n)] ^= UInt8(1 + below(255)) }
            return
        }
        switch m {
        case .flipByte:
            guard n > 0 else { return }
            bytes[below(n)] ^= UInt8(1 + below(255))
        case .truncate:
            bytes.removeSubrange(below(n + 1)...)
            layout.frames = nil
        case .insertBytes:
            let junk = (0..<1 + below(48)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            bytes.insert(contentsOf: junk, at: below(n + 1))
            layout.frames = nil
        case .deleteBytes:
            guard n > 0 else { return }
            let x = below(n)
            bytes.removeSubrange(x..<min(n, x + 1 + below(64)))
            layout.frames = nil
        case .duplicateBytes:
            guard n > 0 else { return }
            let x = below(n)
            let chunk = Array(bytes[x..<min(n, x + 1 + below(256))])
            bytes.insert(contentsOf: chunk, at: below(n + 1))
            layout.frames = nil
        case .dropFrame, .duplicateFrame, .swapFrames, .renumberFrame, .randomEvents:
            var list = layout.frames!
            var pieces = list.map { Array(bytes[$0.offset..<$0.offset + $0.size]) }
            let i = below(pieces.count)
            switch m {
            case .dropFrame:
                pieces.remove(at: i)
            case .duplicateFrame:
                pieces.insert(pieces[i], at: below(pieces.count + 1))
            case .swapFrames:
                pieces.swapAt(i, below(pieces.count))
            case .renumberFrame:
                guard pieces[i][0] == FrameKind.batch.rawValue else { break }
                let seqs: [UInt64] = [0, 1, 2, rng.next() % 1000, UInt64.max]
                let seq = seqs[below(5)]
                for k in 0..<8 { pieces[i][8 + k] = UInt8(truncatingIfNeeded: seq >> (8 * UInt64(k))) }
                reseal(&pieces[i])
            default: // .randomEvents
                guard pieces[i][0] == FrameKind.batch.rawValue else { break }
                pieces[i] = randomBatch(like: pieces[i], maxProcs: layout.maxProcs, rng: &rng)
            }
            var rebuilt = Array(bytes[0..<layout.headerSize])
            list = []
            for p in pieces {
                list.append((rebuilt.count, p.count))
                rebuilt += p
            }
            bytes = rebuilt
            layout.frames = list
        }
    }

    /// Recomputes the CRC of a whole frame held in `frame`.
    static func reseal(_ frame: inout [UInt8]) {
        let len = frame.count - FrameLayout.frameHeaderSize
        frame.withUnsafeMutableBufferPointer { b in
            var crc = CRC32C.update(0, b.baseAddress!, 28)
            crc = CRC32C.update(crc, b.baseAddress! + FrameLayout.frameHeaderSize, len)
            for k in 0..<4 { b[28 + k] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(k))) }
        }
    }

    /// A batch with the same owner, sequence number and base time as `frame`, holding 1-40
    /// random well-formed events (kinds allowed for the owner, enums and P ids in range, small
    /// G and M ids so that they collide with the real ones).
    static func randomBatch(like frame: [UInt8], maxProcs: UInt64, rng: inout SplitMix64) -> [UInt8] {
        let ownerKind: OwnerKind = frame[1] == 0 ? .p : .m
        let id = frame[4..<8].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
        let seq = frame[8..<16].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        let base = frame[16..<24].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        let kinds = EventKind.allCases.filter { $0.allowedIn.contains(ownerKind == .p ? .p : .m) }
        let events = 1 + Int(rng.below(40))
        let capacity = FrameLayout.frameHeaderSize + BatchEncoder.maxEventSize * (events + 1)
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        // SAFETY: `buffer` outlives the encoder, which only writes within `capacity`.
        var enc = BatchEncoder(buffer: buffer, capacity: capacity)
        enc.begin(owner: BatchOwner(ownerKind, id), seq: seq, baseTicks: base)
        var t = base
        for _ in 0..<events {
            let kind = kinds[Int(rng.below(UInt64(kinds.count)))]
            t &+= rng.below(5) == 0 ? 0 : rng.below(20_000)
            var args: [UInt64] = []
            for i in 0..<kind.argCount {
                if let e = kind.enumArgs[i] {
                    args.append(rng.below(UInt64(e.names.count)))
                } else if kind.seqArgIndex == i {
                    args.append(rng.below(128))
                } else if (kind == .steal && i == 0) || (kind == .preemptRequest && i == 1) {
                    args.append(rng.below(maxProcs))
                } else {
                    args.append(rng.below(12))
                }
            }
            enc.append(kind, ticks: t, args: args)
        }
        return Array(enc.seal())
    }
}
