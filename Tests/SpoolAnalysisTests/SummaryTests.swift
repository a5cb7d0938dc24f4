// The statistics stage, read back from imported databases.

import Foundation
import Testing
import SpoolTraceFormat
@testable import SpoolAnalysis

private func everyCause() -> Script {
    var s = Script()
    s.p(0, 0, .procStart, 1)
    s.p(0, 10, .goCreate, 1, 0)
    s.p(0, 30, .goStart, 1, 1)           // created 20
    s.p(0, 40, .goCreate, 2, 1)
    s.p(0, 50, .goBlock, 2)
    s.p(0, 60, .goStart, 2, 1)           // created 20
    s.p(0, 70, .goUnblock, 1, 2)
    s.p(0, 80, .goStop, 0)
    s.p(0, 100, .goStart, 1, 3)          // unblocked 30
    s.p(0, 110, .goStop, 1)
    s.p(0, 115, .goStart, 2, 2)          // yielded 35
    s.p(0, 120, .goBlock, 6)
    s.p(0, 130, .goStart, 1, 4)          // preempted 20
    s.m(3, 200, .threadCreate, 4, 2)
    s.m(3, 200, .threadCreate, 5, 1)
    s.m(4, 300, .threadExit, 4)
    s.p(0, 20_000_130, .goEnd)           // a 20 ms slice: over the quantum
    return s
}

@Test func latencyOverallAndByCause() throws {
    let imported = try importScript(everyCause())
    let s = try Summary.compute(imported.db)
    // Sorted latencies: 20 20 20 30 35 → p50 rank 3, p90 rank 5, p99 rank 5.
    #expect(s.latency.overall == DurationStats(count: 5, p50Ns: 20, p90Ns: 35, p99Ns: 35, p999Ns: 35, maxNs: 35, totalNs: 125))
    #expect(s.latency.byCause.map(\.cause) == ["created", "unblocked", "preempted", "yielded"])
    #expect(s.latency.byCause.map(\.stats.count) == [2, 1, 1, 1])
    #expect(s.latency.byCause.first?.stats.maxNs == 20)
    #expect(s.starvation.longSlices == 1)
    #expect(s.starvation.longestSlices.first?.durationNs == 20_000_000)
    #expect(s.starvation.longestSlices.first?.endReason == "end")
    #expect(s.starvation.longWaits == 0)
}

@Test func threadGrowthPeakAndCauses() throws {
    let s = try Summary.compute(try importScript(everyCause()).db)
    #expect(s.threads.peak == 4)         // M1, M3 seen; M4, M5 created at 200
    #expect(s.threads.peakAtNs == 200)
    #expect(s.threads.atEnd == 3)
    #expect(s.threads.seen == 4)
    #expect(s.threads.createdByCause.map(\.name) == ["spinning", "handoff"])
    #expect(s.threads.threads.map(\.cause) == ["unknown", "unknown", "handoff", "spinning"])
    #expect(s.threads.timeline.count == 10)
    #expect(s.threads.timeline.last == 3)
}

@Test func thresholdSelectsLongWaits() throws {
    var s = Script()
    s.p(0, 0, .procStart, 1)
    s.p(0, 0, .goCreate, 1, 0)
    s.p(0, 0, .goStart, 1, 1)
    s.p(0, 1_000, .goCreate, 2, 1)
    s.p(0, 3_000_000, .goStop, 0)
    s.p(0, 3_000_000, .goStart, 2, 1)    // waited 2_999_000
    s.p(0, 3_500_000, .goEnd)
    s.p(0, 3_500_000, .goStart, 1, 2)    // yielded, 500_000
    let db = try importScript(s, maxProcs: 2).db
    let def = try Summary.compute(db)
    #expect(def.starvation.thresholdNs == 10_000_000)
    #expect(def.starvation.longWaits == 0)
    let low = try Summary.compute(db, thresholdNs: 1_000_000)
    #expect(low.starvation.longWaits == 1)
    #expect(low.starvation.starvedGoroutines == 1)
    #expect(low.starvation.longestWaits.map(\.g) == [2])
    #expect(low.latency.byCause.first { $0.cause == "created" }?.longWaits == 1)
    #expect(low.starvation.idleWhileRunnable == 1)
    // P1 stays idle while g2, then g1 (yielded at 3 ms), is runnable: 1 µs .. 3.5 ms.
    #expect(low.starvation.idleWhileRunnableTotalNs == 3_499_000)
    #expect(low.topWaiting.first?.g == 2)
}

@Test func quantumComesFromTheHeaderMeta() throws {
    let db = try importScript(everyCause(), meta: [.init("quantum_ns", "30000000")]).db
    let s = try Summary.compute(db)
    #expect(s.starvation.quantumNs == 30_000_000)
    #expect(s.starvation.longSlices == 0)
}

@Test func preemptDelayStats() throws {
    var s = Script()
    s.p(0, 0, .procStart, 1)
    s.p(0, 0, .goCreate, 1, 0)
    s.p(0, 0, .goStart, 1, 1)
    for i in 0..<4 {
        let t = UInt64(1_000 * (i + 1))
        s.m(9, t, .preemptRequest, 1, 0)
        s.p(0, t + UInt64(10 * (i + 1)), .preempted, 0)
        s.p(0, t + UInt64(10 * (i + 1)), .goStop, 1)
        s.p(0, t + 100, .goStart, 1, UInt64(i + 2))
    }
    s.p(0, 9_000, .preempted, 1)
    let sum = try Summary.compute(try importScript(s).db)
    #expect(sum.starvation.preemptions == 5)
    #expect(sum.starvation.preemptionsAsync == 4)
    #expect(sum.starvation.preemptionsCooperative == 1)
    #expect(sum.starvation.preemptDelay == DurationStats(count: 4, p50Ns: 20, p90Ns: 40, p99Ns: 40, p999Ns: 40, maxNs: 40, totalNs: 100))
}

@Test func textAndJSONRenderings() throws {
    let imported = try importScript(everyCause())
    let s = try Summary.compute(imported.db)
    let text = s.renderText()
    #expect(text.contains("Scheduling latency"))
    #expect(text.contains("  cause      count    p50    p90    p99  p99.9    max\n"))
    #expect(text.contains("  all            5  20 ns  35 ns  35 ns  35 ns  35 ns"))
    #expect(text.contains("slices longer than the quantum (10.0 ms): 1, 20.0 ms in total"))
    let json = try JSONSerialization.jsonObject(with: Data(s.renderJSON().utf8)) as? [String: Any]
    let latency = json?["latency"] as? [String: Any]
    let overall = latency?["overall"] as? [String: Any]
    #expect(overall?["p50_ns"] as? Int == 20)
    #expect(overall?["count"] as? Int == 5)
    #expect((json?["threads"] as? [String: Any])?["peak"] as? Int == 4)
}

@Test func durationsFormatWithUnits() {
    #expect(formatNs(0) == "0 ns")
    #expect(formatNs(999) == "999 ns")
    #expect(formatNs(1_500) == "1.50 µs")
    #expect(formatNs(12_345) == "12.3 µs")
    #expect(formatNs(4_560_000) == "4.56 ms")
    #expect(formatNs(45_600_000) == "45.6 ms")
    #expect(formatNs(1_234_000_000) == "1.234 s")
}

@Test func latencyStatsFromTheImporterEqualARecomputation() throws {
    let imported = try importScript(everyCause())
    let stored = try Summary.compute(imported.db)
    #expect(try imported.int("SELECT count(*) FROM latency_stats") == 5)  // all + 4 causes
    let rw = try Database(path: imported.db.path, mode: .readWrite)
    try rw.execute("DROP TABLE latency_stats")
    let recomputed = try Summary.compute(rw)
    #expect(recomputed.latency.overall == stored.latency.overall)
    #expect(recomputed.latency.byCause.map(\.code) == stored.latency.byCause.map(\.code))
    #expect(recomputed.latency.byCause.map(\.stats) == stored.latency.byCause.map(\.stats))
}

@Test func emptyTraceSummarizes() throws {
    let imported = try importScript(Script())
    let s = try Summary.compute(imported.db)
    #expect(s.latency.overall.count == 0)
    #expect(s.latency.overall.p50Ns == nil)
    #expect(s.latency.byCause.isEmpty)
    #expect(s.threads.peak == 0)
    #expect(s.renderText().contains("  all        0    -    -    -      -    -\n"))
    #expect(s.renderJSON().contains("\"count\" : 0"))
}
