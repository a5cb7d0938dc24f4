// Golden tests: every scenario of SpoolScenarios (synthetic traces whose answers are known by
// construction, from schema/analysis.md) through the whole importer, compared table by table
// and number by number with the scenario's `Expected`.

import Foundation
import Testing
import SpoolScenarios
import SpoolTraceFormat
@testable import SpoolAnalysis

/// A scenario imported into a temporary database.
private struct GoldenImport {
    let expected: Expected
    let report: ImportReport
    let db: Database
    let summary: Summary

    init(_ scenario: Scenario) throws {
        let tracePath = tempPath("\(scenario.name).spool")
        try Data(scenario.trace()).write(to: URL(fileURLWithPath: tracePath))
        let dbPath = tempPath("\(scenario.name).db")
        expected = scenario.expected
        report = try TraceImporter.importTrace(path: tracePath, into: dbPath)
        db = try Database(path: dbPath, mode: .readOnly)
        summary = try Summary.compute(db)
    }

    func rows(_ sql: String) throws -> [[SQLValue]] { try QueryRunner.execute(db, sql: sql).rows }
    func int(_ sql: String) throws -> Int64 { try db.scalarInt(sql) ?? 0 }
    func stat(_ name: String) throws -> Int64 {
        try int("SELECT coalesce(sum(value), 0) FROM import_stats WHERE name = '\(name)'")
    }
}

private func v(_ x: Int64?) -> SQLValue { x.map(SQLValue.integer) ?? .null }
private func v(_ s: String?) -> SQLValue { s.map(SQLValue.text) ?? .null }

private let scenarios = Scenarios.all

@Test(arguments: scenarios.map(\.name))
func goldenTables(_ name: String) throws {
    let g = try GoldenImport(Scenarios.named(name)!)
    let e = g.expected
    #expect(Int64(g.report.eventCount) == e.eventCount)
    guard e.rowsListed else { return }
    // Every scenario runs goroutines: an empty expectation would make the comparisons vacuous.
    #expect(!e.slices.isEmpty && !e.goroutines.isEmpty && !e.schedLatency.isEmpty)
    #expect(try g.rows(SchedLatencyRow.query) == e.schedLatency.map {
        [v($0.g), v($0.readyNs), v($0.startNs), v($0.latencyNs), v($0.cause), v($0.p)]
    }, "sched_latency")
    #expect(try g.rows(SliceRow.query) == e.slices.map {
        [v($0.p), v($0.m), v($0.g), v($0.startNs), v($0.endNs), v($0.endReason)]
    }, "slices")
    #expect(try g.rows(SyscallRow.query) == e.syscalls.map {
        [v($0.g), v($0.m), v($0.p), v($0.startNs), v($0.endNs), v($0.handoff)]
    }, "syscalls")
    #expect(try g.rows(PreemptionRow.query) == e.preemptions.map {
        [v($0.g), v($0.p), v($0.requestedNs), v($0.deliveredNs), v($0.kind)]
    }, "preemptions")
    #expect(try g.rows("SELECT delay_ns FROM preemptions ORDER BY \(PreemptionRow.orderBy)")
            == e.preemptions.map { [v($0.delayNs)] }, "preemptions.delay_ns")
    #expect(try g.rows(ThreadRow.query) == e.threads.map {
        [v($0.m), v($0.createdNs), v($0.exitedNs), v($0.cause), v($0.firstSeenNs)]
    }, "threads")
    #expect(try g.rows(GoroutineRow.query) == e.goroutines.map {
        [v($0.g), v($0.parentG), v($0.createdNs), v($0.endedNs), v($0.execNs), v($0.runnableNs),
         v($0.blockedNs), v($0.syscallNs), v($0.slices), v($0.maxLatencyNs)]
    }, "goroutines")
    #expect(try g.rows(IdleWhileRunnableRow.query) == e.idleWhileRunnable.map {
        [v($0.startNs), v($0.endNs), v($0.idlePs), v($0.runnableGs)]
    }, "idle_while_runnable")
    #expect(try g.rows(ThreadCountRow.query) == e.threadCount.map {
        [v($0.tsNs), v($0.threads), v($0.inSyscall)]
    }, "thread_count")
}

@Test(arguments: scenarios.map(\.name))
func goldenCountsAndTotals(_ name: String) throws {
    let g = try GoldenImport(Scenarios.named(name)!)
    let e = g.expected
    let c = e.counts
    #expect(try g.int("SELECT count(*) FROM sched_latency") == c.schedLatency)
    #expect(try g.int("SELECT count(*) FROM slices") == c.slices)
    #expect(try g.int("SELECT count(*) FROM syscalls") == c.syscalls)
    #expect(try g.int("SELECT count(*) FROM preemptions") == c.preemptions)
    #expect(try g.int("SELECT count(*) FROM threads") == c.threads)
    #expect(try g.int("SELECT count(*) FROM goroutines") == c.goroutines)
    #expect(try g.int("SELECT count(*) FROM idle_while_runnable") == c.idleWhileRunnable)
    #expect(try g.int("SELECT count(*) FROM thread_count") == c.threadCount)
    let t = e.totals
    #expect(try g.int("SELECT coalesce(sum(exec_ns), 0) FROM goroutines") == t.execNs)
    #expect(try g.int("SELECT coalesce(sum(runnable_ns), 0) FROM goroutines") == t.runnableNs)
    #expect(try g.int("SELECT coalesce(sum(blocked_ns), 0) FROM goroutines") == t.blockedNs)
    #expect(try g.int("SELECT coalesce(sum(syscall_ns), 0) FROM goroutines") == t.syscallNs)
    #expect(try g.int("SELECT coalesce(sum(latency_ns), 0) FROM sched_latency") == t.latencyNs)
    #expect(try g.stat("batches_missing") == e.batchesMissing)
    #expect(try g.stat("runnable_at_trace_end") == e.runnableAtTraceEnd)
    #expect(try g.stat("events_lost") == e.lostEvents)
    #expect(g.report.traceEndNs == (e.traceEndNs.map { max($0, e.lastEventNs) } ?? e.lastEventNs))
}

@Test(arguments: scenarios.map(\.name))
func goldenSummary(_ name: String) throws {
    let g = try GoldenImport(Scenarios.named(name)!)
    let e = g.expected
    let s = g.summary
    func same(_ got: DurationStats, _ want: LatencySummary?, _ label: String) {
        guard let want else {
            #expect(got.count == 0, "\(label): no rows expected")
            return
        }
        #expect(Int64(got.count) == want.count, "\(label) count")
        #expect(got.p50Ns == want.p50Ns, "\(label) p50")
        #expect(got.p90Ns == want.p90Ns, "\(label) p90")
        #expect(got.p99Ns == want.p99Ns, "\(label) p99")
        #expect(got.p999Ns == want.p999Ns, "\(label) p99.9")
        #expect(got.maxNs == want.maxNs, "\(label) max")
    }
    same(s.latency.overall, e.latency(cause: nil), "all")
    #expect(s.latency.byCause.map(\.code) == e.latency.compactMap(\.cause), "causes present")
    for c in s.latency.byCause {
        same(c.stats, e.latency.first { $0.cause == c.code }, c.cause)
    }
    #expect(Int64(s.starvation.longWaits) == e.longWaitCount)
    #expect(Int64(s.starvation.longSlices) == e.longSliceCount)
    if e.rowsListed {
        #expect(s.starvation.longestWaits.map(\.latencyNs) == Array(e.longWaits.map(\.latencyNs).sorted(by: >).prefix(10)))
        #expect(s.starvation.longestSlices.map(\.durationNs) == Array(e.longSlices.map(\.durationNs).sorted(by: >).prefix(10)))
    }
    #expect(s.threads.peak == e.peakThreads)
    #expect(s.syscalls.count == e.counts.syscalls)
    if e.rowsListed {
        #expect(s.syscalls.handedOff == Int64(e.syscalls.filter { $0.handoff != 0 }.count))
        #expect(s.syscalls.duration.totalNs == e.syscalls.reduce(0) { $0 + $1.endNs - $1.startNs })
    }
    #expect(s.lostEvents == e.lostEvents)
    #expect(s.trace.events == e.eventCount)
    #expect(!s.renderText().isEmpty)
}

@Test(arguments: scenarios.filter { $0.expected.truncation != nil }.map(\.name))
func goldenTruncation(_ name: String) throws {
    let g = try GoldenImport(Scenarios.named(name)!)
    let t = try #require(g.expected.truncation)
    #expect(g.report.problem?.offset == t.problemOffset)
    #expect(g.report.problem?.kind.rawValue == t.problem)
    #expect(g.report.eventCount == t.completeEvents)
    #expect(g.report.warnings.first?.contains("byte \(t.problemOffset)") == true)
    #expect(try g.stat("trace_problem_offset") == Int64(t.problemOffset))
    #expect(try g.stat("bytes_not_imported") == Int64(t.fileSize - t.validBytes))
}

/// Damaged variants of every small scenario (byte damage and CRC-valid frame damage): the
/// import never crashes; it either refuses the trace with a `TraceError` (header damage) or
/// imports what is valid, and the tables keep their invariants.
@Test(arguments: scenarios.filter { $0.expected.rowsListed }.map(\.name))
func damagedTracesImportOrFailCleanly(_ name: String) throws {
    let trace = Scenarios.named(name)!.trace()
    var imported = 0
    for (i, bytes) in TraceMutator.mutants(of: trace, seed: UInt64(i0(name)), count: 30).enumerated() {
        let tracePath = tempPath("\(name)-mutant-\(i).spool")
        try Data(bytes).write(to: URL(fileURLWithPath: tracePath))
        let dbPath = tempPath("\(name)-mutant-\(i).db")
        do {
            let report = try TraceImporter.importTrace(path: tracePath, into: dbPath)
            imported += 1
            let db = try Database(path: dbPath, mode: .readOnly)
            #expect(try db.scalarInt("SELECT count(*) FROM states WHERE end_ns < start_ns") == 0)
            #expect(try db.scalarInt("SELECT count(*) FROM thread_count WHERE threads < 0 OR in_syscall < 0") == 0)
            if let problem = report.problem {
                #expect(report.warnings.first?.contains("byte \(problem.offset)") == true)
            }
            _ = try Summary.compute(db).renderText()
        } catch let error as TraceError {
            #expect(!error.description.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: dbPath))
        }
    }
    #expect(imported > 0)
}

/// A stable seed per scenario name.
private func i0(_ s: String) -> Int { s.utf8.reduce(7) { ($0 &* 31 &+ Int($1)) & 0xFFFF_FFFF } }
