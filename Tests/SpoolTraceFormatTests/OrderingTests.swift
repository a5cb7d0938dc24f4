// The merge rule (schema/trace-format.md, "Ordering across batches"): timestamp order, ties
// P before M then by id, a head with a seq taken only when it follows its G's last seq, seq
// numbers compared modulo 128, skew and mismatches counted.

import Testing
import SpoolTraceFormat

@Suite struct OrderingTests {
    static func merge(_ batches: [B], maxProcs: UInt64 = 4) throws -> (events: [TraceEvent], seqMismatches: Int, orderSkews: Int, batchesMissing: Int) {
        let t = buildTrace(testHeader(maxProcs: maxProcs), batches)
        let file = try TraceFile(bytes: t.bytes)
        let scan = file.scan()
        #expect(scan.problem == nil)
        return ordered(file, scan)
    }

    static func describe(_ events: [TraceEvent]) -> [String] {
        events.map { "\($0.owner) \($0.kind.name) \($0.ticks)" }
    }

    @Test func timestampOrderThenPBeforeMThenId() throws {
        let r = try Self.merge([
            B(.m(2), seq: 0, [E(.threadCreate, 10, 7, 4), E(.threadExit, 30, 7)]),
            B(.m(1), seq: 0, [E(.threadCreate, 10, 6, 4)]),
            B(.p(1), seq: 0, [E(.procStart, 10, 2), E(.procStop, 20)]),
            B(.p(0), seq: 0, [E(.procStart, 10, 1), E(.procStop, 30)]),
        ])
        #expect(Self.describe(r.events) == [
            "P0 ProcStart 10", "P1 ProcStart 10", "M1 ThreadCreate 10", "M2 ThreadCreate 10",
            "P1 ProcStop 20", "P0 ProcStop 30", "M2 ThreadExit 30",
        ])
        #expect(r.seqMismatches == 0 && r.orderSkews == 0 && r.batchesMissing == 0)
    }

    /// At equal timestamps the P stream's GoStart would come first, but it is not ready until
    /// the M stream's GoWake (seq 2) is taken: readiness breaks the tie, and it is not a skew.
    @Test func tieBrokenBySeqReadiness() throws {
        let clean = try Self.merge([
            B(.p(0), seq: 0, [E(.goCreate, 5, 9, 0), E(.goStart, 6, 9, 1), E(.goBlock, 7, 6)]),
            B(.p(1), seq: 0, [E(.goStart, 100, 9, 3)]),
            B(.m(1), seq: 0, [E(.goWake, 100, 9, 2, 1)]),
        ])
        #expect(Self.describe(clean.events) == [
            "P0 GoCreate 5", "P0 GoStart 6", "P0 GoBlock 7", "M1 GoWake 100", "P1 GoStart 100",
        ])
        #expect(clean.seqMismatches == 0)
        #expect(clean.orderSkews == 0)

        // The same between two Ps: P0 sorts first but its GoStart waits for P1's GoUnblock.
        let ps = try Self.merge([
            B(.p(0), seq: 0, [E(.goCreate, 5, 9, 0), E(.goStart, 6, 9, 1), E(.goBlock, 7, 6), E(.goStart, 100, 9, 3)]),
            B(.p(1), seq: 0, [E(.goUnblock, 100, 9, 2)]),
        ])
        #expect(Self.describe(ps.events).suffix(2) == ["P1 GoUnblock 100", "P0 GoStart 100"])
        #expect(ps.seqMismatches == 0 && ps.orderSkews == 0)
    }

    /// A G handed back and forth between two Ps 300 times, every event at the same tick:
    /// only the seq numbers (wrapping 127 → 0 twice) give the order.
    @Test func seqWrapsAroundPast127() throws {
        var p0: [E] = [E(.goCreate, 1000, 5, 0)]
        var p1: [E] = []
        for s in UInt64(1)...300 {
            if s % 2 == 1 { p0.append(E(.goUnblock, 1000, 5, s % 128)) } else { p1.append(E(.goStart, 1000, 5, s % 128)) }
        }
        let r = try Self.merge([B(.p(1), seq: 0, p1), B(.p(0), seq: 0, p0)])
        #expect(r.events.count == 301)
        #expect(r.events.dropFirst().map(\.a1) == (UInt64(1)...300).map { $0 % 128 })
        #expect(r.events.dropFirst().map(\.owner) == (1...300).map { $0 % 2 == 1 ? BatchOwner.p(0) : .p(1) })
        #expect(r.seqMismatches == 0)
        #expect(r.orderSkews == 0)
    }

    /// P1's clock runs 10 ticks behind: its GoStart (seq 2) is stamped before the GoUnblock
    /// (seq 1) that caused it. The merge takes the unblock first and counts one order skew.
    @Test func skewedTimestampIsCountedAsOrderSkew() throws {
        let r = try Self.merge([
            B(.p(0), seq: 0, [E(.goCreate, 0, 3, 0), E(.goStart, 10, 3, 1), E(.goBlock, 20, 2), E(.goUnblock, 1000, 3, 2)]),
            B(.p(1), seq: 0, [E(.goStart, 990, 3, 3), E(.goEnd, 995, [])]),
        ])
        #expect(Self.describe(r.events) == [
            "P0 GoCreate 0", "P0 GoStart 10", "P0 GoBlock 20", "P0 GoUnblock 1000", "P1 GoStart 990", "P1 GoEnd 995",
        ])
        #expect(r.orderSkews == 1)
        #expect(r.seqMismatches == 0)
    }

    /// The reorder window (100 µs = ticksPerSecond / 10 000 ticks): a ready head within it is
    /// taken before an unready earlier one; a ready head beyond it is not.
    @Test func readyHeadIsLookedForOnlyWithinTheReorderWindow() throws {
        func run(gap: UInt64) throws -> (events: [TraceEvent], seqMismatches: Int, orderSkews: Int, batchesMissing: Int) {
            try Self.merge([
                B(.p(0), seq: 0, [E(.goCreate, 0, 6, 0), E(.goStart, 1000, 6, 2)]),
                B(.p(1), seq: 0, [E(.goUnblock, 1000 + gap, 6, 1)]),
            ])
        }
        let within = try run(gap: 100_000)
        #expect(within.events.map(\.kind) == [.goCreate, .goUnblock, .goStart])
        #expect(within.orderSkews == 1 && within.seqMismatches == 0)

        let beyond = try run(gap: 100_001)
        #expect(beyond.events.map(\.kind) == [.goCreate, .goStart, .goUnblock])
        // The GoStart is taken unready, then the GoUnblock (seq 1 after 2) is unready too.
        #expect(beyond.seqMismatches == 2 && beyond.orderSkews == 0)

        // The window scales with the clock: at 1 MHz it is 100 ticks.
        let t = buildTrace(testHeader(maxProcs: 4, ticksPerSecond: 1_000_000), [
            B(.p(0), seq: 0, [E(.goCreate, 0, 6, 0), E(.goStart, 1000, 6, 2)]),
            B(.p(1), seq: 0, [E(.goUnblock, 1101, 6, 1)]),
        ])
        let file = try TraceFile(bytes: t.bytes)
        let slow = ordered(file, file.scan())
        #expect(slow.events.map(\.kind) == [.goCreate, .goStart, .goUnblock])
        #expect(slow.seqMismatches == 2)
    }

    /// An event of a G not seen yet waits (within the window) for the GoCreate that introduces it.
    @Test func eventOfAnUnseenGWaitsForItsCreate() throws {
        let r = try Self.merge([
            B(.p(0), seq: 0, [E(.goStart, 100, 9, 1), E(.goEnd, 200, [])]),
            B(.m(1), seq: 0, [E(.goCreate, 150, 9, 0)]),
        ])
        #expect(Self.describe(r.events) == ["M1 GoCreate 150", "P0 GoStart 100", "P0 GoEnd 200"])
        #expect(r.orderSkews == 1 && r.seqMismatches == 0)

        // Never created at all: delivered anyway, one mismatch.
        let orphan = try Self.merge([B(.p(0), seq: 0, [E(.goStart, 100, 9, 1)])])
        #expect(orphan.events.count == 1 && orphan.seqMismatches == 1)
    }

    /// A seq that never becomes ready (the event that would precede it was lost) is taken anyway
    /// and counted as a mismatch; everything is still delivered.
    @Test func unreadySeqIsTakenAndCounted() throws {
        let r = try Self.merge([
            B(.p(0), seq: 0, [E(.goCreate, 0, 4, 0), E(.goStart, 10, 4, 5), E(.goEnd, 20, [])]),
        ])
        #expect(r.events.map(\.kind) == [.goCreate, .goStart, .goEnd])
        #expect(r.seqMismatches == 1)
    }

    /// GoStatus sets a G's seq: the next event of that G follows from it.
    @Test func goStatusSetsTheSeq() throws {
        let r = try Self.merge([
            B(.p(1), seq: 0, [E(.goStart, 50, 8, 42)]),
            B(.p(0), seq: 0, [E(.goStatus, 50, 8, 41, 0)]),
        ])
        #expect(Self.describe(r.events) == ["P0 GoStatus 50", "P1 GoStart 50"])
        #expect(r.seqMismatches == 0)
    }

    /// Batches of one owner are merged in sequence order whatever their order in the file; a
    /// gap in the sequence counts as missing batches.
    @Test func batchSequenceOrderAndGaps() throws {
        let r = try Self.merge([
            B(.p(0), seq: 3, [E(.procStop, 40)]),
            B(.p(0), seq: 0, [E(.procStart, 10, 1)]),
            B(.p(0), seq: 1, [E(.steal, 20, 1, 1)]),
            B(.m(5), seq: 1, [E(.threadExit, 30, 5)]),
        ])
        #expect(Self.describe(r.events) == ["P0 ProcStart 10", "P0 Steal 20", "M5 ThreadExit 30", "P0 ProcStop 40"])
        #expect(r.batchesMissing == 2)  // P0 seq 2, M5 seq 0
    }
}
