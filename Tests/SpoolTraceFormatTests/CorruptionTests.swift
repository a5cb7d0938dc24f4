// Bad input, part 2: flipped bits and mutated files. A single flipped bit anywhere is caught:
// in the header, opening the file fails with an offset; in a frame, the scan keeps exactly the
// frames before it and names an offset inside the damaged frame's header. Stacked random
// mutations (flip, truncate, insert, delete, duplicate a range) never crash the reader or the
// merge, and never lose a frame that lies wholly before the first damaged byte.
//
// The mutation test runs 500 iterations by default (CI) with a fixed seed; set
// SPOOL_FUZZ_ITERATIONS for a longer run (and SPOOL_FUZZ_SEED for another seed).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
import SpoolTraceFormat

@Suite struct CorruptionTests {
    static let trace = workloadTrace(seed: 3, procs: 2, steps: 25)

    /// Every byte of the trace, one bit flipped each (the bit chosen by a seeded generator).
    @Test func everySingleBitFlipIsCaught() throws {
        let t = Self.trace
        var rng = TestRNG(seed: 99)
        for x in 0..<t.bytes.count {
            var bytes = t.bytes
            bytes[x] ^= UInt8(1 << rng.below(8))
            let file: TraceFile
            do {
                file = try TraceFile(bytes: bytes)
            } catch {
                // Only a damaged header may be refused outright, with an offset within the file.
                #expect(x < t.headerSize, "byte \(x) refused the header: \(error)")
                #expect(error.offset >= 0 && error.offset <= bytes.count)
                continue
            }
            #expect(x >= t.headerSize, "flip in header byte \(x) was accepted")
            let scan = file.scan()
            guard let frame = t.frame(containing: x) else { continue }
            let frameStart = frame < t.frameOffsets.count ? t.frameOffsets[frame] : t.endOffset!
            #expect(scan.batches.count == frame, "flip at \(x) (frame \(frame)): kept \(scan.batches.count)")
            #expect(scan.problem != nil, "flip at \(x) not detected")
            if let p = scan.problem {
                #expect(p.offset >= frameStart && p.offset < frameStart + 32, "flip at \(x): \(p)")
            }
            #expect(scan.validBytes == frameStart)
            let (events, _, _, _) = ordered(file, scan)
            #expect(events.count == t.events(inFirst: frame))
        }
    }

    /// A flip in a payload is caught by the frame's CRC, not by the event decoder.
    @Test func payloadFlipIsAChecksumMismatch() throws {
        let t = Self.trace
        var bytes = t.bytes
        let f = t.frameOffsets[3]
        bytes[f + 32 + 1] ^= 0x40
        let scan = try TraceFile(bytes: bytes).scan()
        #expect(scan.problem?.kind == .checksumMismatch)
        #expect(scan.problem?.offset == f)
        #expect(scan.batches.count == 3)
    }

    /// With the CRC made to match, a corrupt event is reported by the decoder at its own offset.
    @Test func corruptEventBehindAValidChecksumNamesTheEventOffset() throws {
        let t = Self.trace
        var bytes = t.bytes
        let f = t.frameOffsets[2]
        bytes[f + 32] = 0xEE                       // unknown kind in the first event
        resealFrame(&bytes, at: f)
        let scan = try TraceFile(bytes: bytes).scan()
        #expect(scan.problem?.kind == .badEvent)
        #expect(scan.problem?.offset == f + 32)
        #expect(scan.batches.count == 2)

        var cut = t.bytes
        let g = t.frameOffsets[4]
        let len = t.frameSizes[4] - 32
        cut[g + 32 + len - 1] |= 0x80              // the last varint now runs past the payload
        resealFrame(&cut, at: g)
        let scan2 = try TraceFile(bytes: cut).scan()
        #expect(scan2.problem?.kind == .badEvent)
        #expect(scan2.batches.count == 4)
        #expect(scan2.problem.map { $0.offset > g + 32 && $0.offset < g + 32 + len } == true)
    }

    @Test func headerDamageIsNamed() throws {
        let t = Self.trace
        var magic = t.bytes; magic[0] = UInt8(ascii: "X")
        var version = t.bytes; version[8] = 2
        var flags = t.bytes; flags[10] = 1
        var crc = t.bytes; crc[16] ^= 1
        var length = t.bytes; length[14] = 0x7F     // header payload length far over 1 MiB
        let cases: [([UInt8], TraceError.Kind, Int)] = [
            (magic, .badMagic, 0), (version, .unsupportedVersion, 8), (flags, .badHeader, 10),
            (crc, .checksumMismatch, 16), (length, .badHeader, 12),
        ]
        for (bytes, kind, offset) in cases {
            do {
                _ = try TraceFile(bytes: bytes)
                Issue.record("accepted a header with \(kind)")
            } catch {
                #expect(error.kind == kind)
                #expect(error.offset == offset)
            }
        }
        do { _ = try TraceFile(bytes: version) } catch {
            #expect(error.message.contains("2") && error.message.contains("1"), "names both versions: \(error)")
        }
    }

    /// Batches of random but well-formed events (valid CRC, kinds allowed for the owner, enums
    /// and P ids in range, random seqs and timestamps): the reader accepts every one and the merge
    /// delivers every event exactly once, counting what does not line up.
    @Test func randomWellFormedBatchesAreAcceptedAndMerged() throws {
        var rng = TestRNG(seed: 0xABCD)
        for round in 0..<40 {
            let maxProcs = UInt64(1 + rng.below(4))
            var batches: [B] = []
            var seqs: [BatchOwner: UInt64] = [:]
            for _ in 0..<1 + rng.below(12) {
                let owner: BatchOwner = rng.below(3) == 0 ? .m(UInt32(1 + rng.below(3))) : .p(UInt32(rng.below(Int(maxProcs))))
                let kinds = EventKind.allCases.filter { $0.allowedIn.contains(owner.kind == .p ? .p : .m) }
                var t = UInt64(rng.below(1000))
                var events: [E] = []
                for _ in 0..<1 + rng.below(30) {
                    let kind = kinds[rng.below(kinds.count)]
                    t += UInt64(rng.below(3) == 0 ? 0 : rng.below(300_000))
                    let args: [UInt64] = (0..<kind.argCount).map { i in
                        if let e = kind.enumArgs[i] { return UInt64(rng.below(e.names.count)) }
                        if kind.seqArgIndex == i { return UInt64(rng.below(128)) }
                        if (kind == .steal && i == 0) || (kind == .preemptRequest && i == 1) { return UInt64(rng.below(Int(maxProcs))) }
                        return UInt64(rng.below(8))
                    }
                    events.append(E(kind, t, args))
                }
                // Sequence numbers: usually the next one, sometimes a gap (repeats are left to
                // the mutation test: their relative order is not specified).
                let next = seqs[owner, default: 0]
                let seq = [next, next, next, next + 2][rng.below(4)]
                seqs[owner] = seq + 1
                batches.append(B(owner, seq: seq, events))
            }
            let trace = buildTrace(testHeader(maxProcs: maxProcs), batches)
            let file = try TraceFile(bytes: trace.bytes)
            let scan = file.scan()
            #expect(scan.problem == nil, "round \(round): \(String(describing: scan.problem))")
            #expect(scan.batches.count == batches.count)
            let total = batches.reduce(0) { $0 + $1.events.count }
            #expect(scan.eventCount == total)
            let r = ordered(file, scan)
            #expect(r.events.count == total)
            // Per owner, events come out in (batch seq, position) order.
            for owner in Set(batches.map(\.owner)) {
                let want = batches.enumerated().filter { $0.element.owner == owner }
                    .sorted { ($0.element.seq, $0.offset) < ($1.element.seq, $1.offset) }
                    .flatMap { $0.element.events.map(\.ticks) }
                #expect(r.events.filter { $0.owner == owner }.map(\.ticks) == want, "round \(round) \(owner)")
            }
        }
    }

    // MARK: Mutation fuzzing

    enum Mutation: CaseIterable { case flip, truncate, insert, delete, duplicate, overwriteFrameField }

    /// Applies one random mutation; returns the lowest byte offset it may have changed.
    static func mutate(_ bytes: inout [UInt8], _ rng: inout TestRNG, frames: [Int]) -> Int {
        let n = bytes.count
        guard n > 0 else { bytes = [1]; return 0 }
        switch Mutation.allCases[rng.below(Mutation.allCases.count)] {
        case .flip:
            let x = rng.below(n)
            bytes[x] ^= UInt8(1 + rng.below(255))
            return x
        case .truncate:
            let x = rng.below(n)
            bytes.removeSubrange(x...)
            return x
        case .insert:
            let x = rng.below(n + 1)
            bytes.insert(contentsOf: (0..<1 + rng.below(40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: x)
            return x
        case .delete:
            let x = rng.below(n)
            bytes.removeSubrange(x..<min(n, x + 1 + rng.below(64)))
            return x
        case .duplicate:
            let x = rng.below(n)
            let chunk = Array(bytes[x..<min(n, x + 1 + rng.below(200))])
            let at = rng.below(n + 1)
            bytes.insert(contentsOf: chunk, at: at)
            return at
        case .overwriteFrameField:
            // Aim at frame headers: lengths, owners, kinds, sequence numbers.
            guard let f = frames.filter({ $0 + 32 <= n }).randomElement(using: &rng) else { return n }
            let x = f + [0, 1, 2, 4, 8, 16, 24, 27][rng.below(8)]
            bytes[x] = UInt8(truncatingIfNeeded: rng.next())
            return x
        }
    }

    /// What must hold for any input: no crash, offsets within the file, counts consistent, the
    /// merge returns exactly the scanned events, frames before `intactBefore` survive.
    static func checkInvariants(_ bytes: [UInt8], original: BuiltTrace, intactBefore: Int) {
        let file: TraceFile
        do {
            file = try TraceFile(bytes: bytes)
        } catch {
            #expect(error.offset >= 0 && error.offset <= bytes.count, "\(error)")
            #expect(!error.message.isEmpty)
            #expect(intactBefore < original.headerSize, "refused an intact header: \(error)")
            return
        }
        let scan = file.scan()
        #expect(scan.validBytes <= bytes.count)
        #expect(scan.validBytes >= file.firstFrameOffset)
        #expect(scan.eventCount == scan.batches.reduce(0) { $0 + $1.eventCount })
        if let p = scan.problem {
            #expect(p.offset >= scan.validBytes && p.offset <= bytes.count, "\(p) valid \(scan.validBytes)")
        } else {
            #expect(scan.end != nil && scan.validBytes == bytes.count)
        }
        var previousEnd = file.firstFrameOffset
        for b in scan.batches {
            #expect(b.offset == previousEnd)
            previousEnd = b.payloadOffset + b.payloadLength
        }
        // Frames wholly before the first changed byte are still there (the header too, as accepted).
        let intact = original.batchesBefore(intactBefore)
        #expect(scan.batches.count >= intact, "lost an intact frame: kept \(scan.batches.count) of \(intact)")
        let (events, _, _, _) = ordered(file, scan)
        #expect(events.count == scan.eventCount)
    }

    static func iterations() -> Int {
        if let s = getenv("SPOOL_FUZZ_ITERATIONS"), let n = Int(String(cString: s)), n > 0 { return n }
        return 500
    }

    @Test func randomMutationsNeverCrashTheReader() {
        let seed = getenv("SPOOL_FUZZ_SEED").flatMap { UInt64(String(cString: $0)) } ?? 0xF022
        var rng = TestRNG(seed: seed)
        let originals = [Self.trace, workloadTrace(seed: 11, procs: 4, steps: 40),
                         workloadTrace(seed: 12, procs: 1, steps: 10, finalize: false)]
        for i in 0..<Self.iterations() {
            let original = originals[i % originals.count]
            var bytes = original.bytes
            var lowest = bytes.count
            for _ in 0..<1 + rng.below(4) {
                lowest = min(lowest, Self.mutate(&bytes, &rng, frames: original.frameOffsets))
            }
            // A mutation at `lowest` leaves every byte before it as it was (later mutations
            // only move bytes at or after their own position).
            Self.checkInvariants(bytes, original: original, intactBefore: lowest)
        }
    }
}

extension Array {
    /// A seeded random element (the standard one takes a `RandomNumberGenerator`).
    func randomElement(using rng: inout TestRNG) -> Element? {
        isEmpty ? nil : self[rng.below(count)]
    }
}
