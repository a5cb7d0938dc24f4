import Testing
@testable import SpoolTraceFormat

/// Encoder → bytes → scan → ordered events, on a two-P trace whose events interleave.
@Suite struct ReaderSmokeTests {
    static func frame(_ owner: BatchOwner, seq: UInt64, base: UInt64,
                      _ events: [(EventKind, UInt64, [UInt64])]) -> [UInt8] {
        let cap = 4096
        let buf = UnsafeMutablePointer<UInt8>.allocate(capacity: cap)
        defer { buf.deallocate() }
        var enc = BatchEncoder(buffer: buf, capacity: cap)
        enc.begin(owner: owner, seq: seq, baseTicks: base)
        for (k, t, a) in events { enc.append(k, ticks: t, args: a) }
        return Array(enc.seal())
    }

    static func trace(_ frames: [[UInt8]], finalize: Bool = true) -> [UInt8] {
        var bytes = TraceHeader(ticksPerSecond: 1_000_000_000, maxProcs: 2, program: "t").encoded()
        for f in frames { bytes += f }
        if finalize { bytes += FrameLayout.endFrame(batchCount: UInt64(frames.count), endTicks: 1000) }
        return bytes
    }

    @Test func mergesTwoProcsInCausalOrder() throws {
        // G2 is created on P0, unblocked on P0 at t=50 and started on P1 at the same tick:
        // P1's GoStart sorts first by owner order but is not ready until the GoUnblock.
        let p0 = Self.frame(.p(0), seq: 0, base: 0, [
            (.procStart, 0, [1]), (.goCreate, 10, [2, 1]), (.goStart, 20, [2, 1]),
            (.goBlock, 30, [2]), (.goUnblock, 50, [2, 2]),
        ])
        let p1 = Self.frame(.p(1), seq: 0, base: 0, [(.procStart, 5, [2]), (.goStart, 50, [2, 3]), (.goEnd, 60, [])])
        let file = try TraceFile(bytes: Self.trace([p1, p0]))
        let scan = file.scan()
        #expect(scan.problem == nil)
        #expect(scan.eventCount == 8)
        var ordered = OrderedEvents(file: file, scan: scan)
        let kinds = Array(AnySequence { ordered.makeIterator() }).map(\.kind)
        _ = ordered
        #expect(kinds == [.procStart, .procStart, .goCreate, .goStart, .goBlock, .goUnblock, .goStart, .goEnd])
    }

    @Test func truncatedTraceKeepsCompleteBatches() throws {
        let a = Self.frame(.p(0), seq: 0, base: 0, [(.procStart, 0, [1]), (.goCreate, 1, [1, 0])])
        let b = Self.frame(.p(0), seq: 1, base: 5, [(.goStart, 5, [1, 1]), (.goEnd, 9, [])])
        let full = Self.trace([a, b], finalize: false)
        let cut = Array(full.dropLast(3))
        let scan = try TraceFile(bytes: cut).scan()
        #expect(scan.batches.count == 1)
        #expect(scan.problem?.kind == .truncated)
        #expect(scan.problem?.offset == full.count - b.count)
    }
}
