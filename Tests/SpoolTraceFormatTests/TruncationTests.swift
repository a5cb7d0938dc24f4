// Bad input, part 1: a trace cut short. Wherever the cut falls, the scan keeps exactly the
// complete batches before it, names the byte offset of the first frame it could not read, and
// the merge returns exactly the kept events.

import Testing
import SpoolTraceFormat

@Suite struct TruncationTests {
    static let trace = workloadTrace(seed: 7, procs: 3, steps: 60)

    /// Checks the scan of `trace.bytes[0 ..< cut]`.
    static func checkCut(_ trace: BuiltTrace, at cut: Int) throws {
        let bytes = Array(trace.bytes[0..<cut])
        if cut < trace.headerSize {
            // Inside the header: refused, with an offset within the file, never a crash.
            #expect(throws: TraceError.self) { _ = try TraceFile(bytes: bytes) }
            do { _ = try TraceFile(bytes: bytes) } catch {
                #expect(error.kind == .truncated || error.kind == .badMagic, "cut at \(cut): \(error)")
                #expect(error.offset >= 0 && error.offset <= cut)
            }
            return
        }
        let file = try TraceFile(bytes: bytes)
        let scan = file.scan()
        let kept = trace.batchesBefore(cut)
        #expect(scan.batches.count == kept, "cut at \(cut)")
        #expect(scan.batches.map(\.offset) == Array(trace.frameOffsets.prefix(kept)))
        #expect(scan.eventCount == trace.events(inFirst: kept))
        if cut == trace.bytes.count {
            #expect(scan.problem == nil)
            #expect(scan.end != nil)
            return
        }
        // The first frame not read starts right after the kept ones.
        let stop = kept < trace.frameOffsets.count ? trace.frameOffsets[kept] : trace.endOffset!
        #expect(scan.end == nil)
        #expect(scan.problem?.kind == .truncated, "cut at \(cut): \(String(describing: scan.problem))")
        #expect(scan.problem?.offset == stop, "cut at \(cut)")
        #expect(scan.validBytes == stop)
        #expect(scan.problem.map { "\($0)".contains("byte \(stop)") } == true)
        let (events, _, _, _) = ordered(file, scan)
        #expect(events.count == scan.eventCount)
    }

    @Test func cutAtEveryFrameBoundary() throws {
        let t = Self.trace
        #expect(t.frameOffsets.count > 20)
        var boundaries = [t.headerSize] + zip(t.frameOffsets, t.frameSizes).map { $0 + $1 }
        boundaries.append(t.bytes.count)
        for cut in boundaries { try Self.checkCut(t, at: cut) }
    }

    @Test func cutAtRandomPointsInsideEveryBatch() throws {
        let t = Self.trace
        var rng = TestRNG(seed: 42)
        for (offset, size) in zip(t.frameOffsets, t.frameSizes) {
            // Inside the frame header, at the first payload byte, and at random payload bytes.
            var cuts = [offset + 1, offset + 31, offset + 32, offset + size - 1]
            for _ in 0..<4 { cuts.append(offset + 1 + rng.below(size - 1)) }
            for cut in cuts { try Self.checkCut(t, at: cut) }
        }
        // Inside the end frame.
        for cut in [t.endOffset! + 1, t.endOffset! + 31] { try Self.checkCut(t, at: cut) }
    }

    @Test func cutInsideTheHeader() throws {
        let t = Self.trace
        for cut in [0, 1, 7, 8, 12, 19, 20, 21, t.headerSize - 1] { try Self.checkCut(t, at: cut) }
    }

    @Test func traceWithoutEndFrameKeepsEverything() throws {
        let t = workloadTrace(seed: 8, finalize: false)
        let scan = try TraceFile(bytes: t.bytes).scan()
        #expect(scan.batches.count == t.frameOffsets.count)
        #expect(scan.problem?.kind == .truncated)
        #expect(scan.problem?.offset == t.bytes.count)
        #expect(scan.validBytes == t.bytes.count)
    }

    @Test func trailingDataAfterTheEndFrame() throws {
        let t = Self.trace
        let scan = try TraceFile(bytes: t.bytes + [0, 1, 2]).scan()
        #expect(scan.batches.count == t.frameOffsets.count)
        #expect(scan.end != nil)
        #expect(scan.problem?.kind == .trailingData)
        #expect(scan.problem?.offset == t.bytes.count)
    }

    @Test func endFrameCountingOtherThanTheBatchesIsReported() throws {
        let t = Self.trace
        var bytes = Array(t.bytes[0..<t.endOffset!])
        bytes += FrameLayout.endFrame(batchCount: UInt64(t.frameOffsets.count + 1), endTicks: 5)
        let scan = try TraceFile(bytes: bytes).scan()
        #expect(scan.problem == nil)
        #expect(scan.batchCountMismatch)
    }

    @Test func truncatedFileOnDisk() throws {
        let t = Self.trace
        let cut = t.frameOffsets[10] + 7
        let path = "/tmp/spool-trace-format-tests-\(t.bytes.count)-\(cut).spool"
        let bytes = Array(t.bytes[0..<cut])
        let f = fopenForTest(path)
        bytes.withUnsafeBufferPointer { _ = fwriteForTest($0, f) }
        fcloseForTest(f)
        defer { removeForTest(path) }
        let file = try TraceFile(path: path)
        #expect(file.size == cut)
        let scan = file.scan()
        #expect(scan.batches.count == 10)
        #expect(scan.problem?.offset == t.frameOffsets[10])
        let (events, _, _, _) = ordered(file, scan)
        #expect(events.count == t.events(inFirst: 10))
    }

    @Test func missingFileIsAnIOError() {
        #expect(throws: TraceError.self) { _ = try TraceFile(path: "/nonexistent/dir/trace.spool") }
        do { _ = try TraceFile(path: "/nonexistent/dir/trace.spool") } catch {
            #expect(error.kind == .io)
            #expect(error.message.contains("/nonexistent/dir/trace.spool"))
        }
    }
}
