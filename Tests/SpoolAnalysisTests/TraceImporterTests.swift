// The whole pipeline from trace bytes: read → order → track → store, on encoded files.

import Foundation
import Testing
import SpoolTraceFormat
@testable import SpoolAnalysis

private let batch0: [(EventKind, UInt64, [UInt64])] = [
    (.procStart, 0, [1]),
    (.goCreate, 10, [1, 0]),
    (.goStart, 20, [1, 1]),
    (.goCreate, 25, [2, 1]),
    (.goBlock, 30, [2]),
    (.goStart, 40, [2, 1]),
]
private let batch1: [(EventKind, UInt64, [UInt64])] = [
    (.goUnblock, 50, [1, 2]),
    (.goEnd, 60, []),
    (.goStart, 70, [1, 3]),
    (.goEnd, 80, []),
]

private func writeTrace(_ bytes: [UInt8]) throws -> String {
    let path = tempPath("trace.spool")
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

private func metaValue(_ db: Database, _ key: String) throws -> String? {
    let s = try db.prepare("SELECT value FROM meta WHERE key = ?")
    s.bind(key, at: 1)
    return try s.step() ? s.text(0) : nil
}

@Test func importsACompleteTrace() throws {
    let trace = try writeTrace(encodeTrace(maxProcs: 1, batches: [(.p(0), 0, batch0), (.p(0), 1, batch1)], endTicks: 100))
    let dbPath = tempPath("complete.db")
    var progress: [ImportProgress] = []
    let report = try TraceImporter.importTrace(path: trace, into: dbPath,
                                               options: ImportOptions(progress: { progress.append($0) }))
    #expect(report.eventCount == 10)
    #expect(report.problem == nil)
    #expect(report.warnings.isEmpty)
    #expect(report.traceEndNs == 100)
    #expect(report.rowsPerTable.first { $0.table == "states" }?.rows == 7)  // g1: 5 intervals, g2: 2
    #expect(report.rowsPerTable.first { $0.table == "goroutines" }?.rows == 2)
    #expect(progress.last?.stage == "done")
    #expect(progress.last?.eventsDone == 10)

    let db = try Database(path: dbPath, mode: .readOnly)
    #expect(try metaValue(db, "finalized") == "1")
    #expect(try metaValue(db, "program") == "encoded")
    #expect(try metaValue(db, "arguments") == "-x")
    #expect(try metaValue(db, "runtime") == "test")
    #expect(try metaValue(db, "trace_end_ns") == "100")
    #expect(try metaValue(db, "event_count") == "10")
    #expect(try metaValue(db, "trace_path") == trace)
    #expect(try metaValue(db, "problem") == nil)
    let lat = try QueryRunner.execute(db, sql: "SELECT g, latency_ns, cause FROM sched_latency ORDER BY start_ns")
    #expect(lat.rows == [[.integer(1), .integer(10), .integer(0)],
                         [.integer(2), .integer(15), .integer(0)],
                         [.integer(1), .integer(20), .integer(1)]])
    // Indexes exist after the load.
    #expect(try db.scalarInt("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'goroutines_by_g'") == 1)
    #expect(try db.scalarInt("SELECT count(*) FROM import_stats WHERE severity != 'info'") == 0)
}

@Test func truncatedTraceImportsCompleteBatchesAndSaysWhere() throws {
    let full = encodeTrace(maxProcs: 1, batches: [(.p(0), 0, batch0), (.p(0), 1, batch1)], endTicks: 100)
    let firstOnly = encodeTrace(maxProcs: 1, batches: [(.p(0), 0, batch0)])
    let cut = firstOnly.count + 20  // inside the second batch's frame header
    let trace = try writeTrace(Array(full[0..<cut]))
    let dbPath = tempPath("truncated.db")
    let report = try TraceImporter.importTrace(path: trace, into: dbPath)
    #expect(report.eventCount == batch0.count)
    #expect(report.problem?.offset == firstOnly.count)
    #expect(report.warnings.first?.contains("byte \(firstOnly.count)") == true)
    #expect(report.importStats.contains { $0.name == "trace_problem_offset" && $0.value == Int64(firstOnly.count) && $0.severity == .error })
    let db = try Database(path: dbPath, mode: .readOnly)
    #expect(try metaValue(db, "finalized") == "0")
    #expect(try metaValue(db, "problem_offset") == String(firstOnly.count))
    #expect(try metaValue(db, "problem")?.contains("byte \(firstOnly.count)") == true)
    #expect(try db.scalarInt("SELECT count(*) FROM sched_latency") == 2)
    #expect(try db.scalarInt("SELECT value FROM import_stats WHERE name = 'bytes_not_imported'") == 20)
    // The summary says so too.
    let summary = try Summary.load(dbPath: dbPath)
    #expect(summary.trace.problem?.contains("byte \(firstOnly.count)") == true)
    #expect(summary.renderText().contains("WARNING: trace damaged"))
}

@Test func missingBatchesAreCounted() throws {
    // Batch 1 of P0 is missing: batches 0 and 2 only.
    let b2: [(EventKind, UInt64, [UInt64])] = [(.goStop, 90, [0])]
    let trace = try writeTrace(encodeTrace(maxProcs: 1, batches: [(.p(0), 0, batch0), (.p(0), 2, b2)], endTicks: 100))
    let report = try TraceImporter.importTrace(path: trace, into: tempPath("gap.db"))
    #expect(report.importStats.contains { $0.name == "batches_missing" && $0.value == 1 })
    #expect(report.warnings.contains { $0.contains("1 batches missing") })
}

@Test func refusesAnExistingDatabaseButAcceptsAnEmptyFile() throws {
    let trace = try writeTrace(encodeTrace(maxProcs: 1, batches: [(.p(0), 0, batch0)], endTicks: 50))
    let existing = tempPath("existing.db")
    try Data("not empty".utf8).write(to: URL(fileURLWithPath: existing))
    let e = #expect(throws: ImportError.self) { _ = try TraceImporter.importTrace(path: trace, into: existing) }
    #expect(e?.description.contains("already exists") == true)
    #expect(try String(contentsOfFile: existing, encoding: .utf8) == "not empty")

    let empty = tempPath("empty.db")
    #expect(FileManager.default.createFile(atPath: empty, contents: nil))
    let report = try TraceImporter.importTrace(path: trace, into: empty)
    #expect(report.eventCount == batch0.count)
}

@Test func unreadableTraceThrowsTraceErrorAndWritesNothing() throws {
    let trace = try writeTrace(Array("NOTATRACE-at-all-really".utf8))
    let dbPath = tempPath("never.db")
    let e = #expect(throws: TraceError.self) { _ = try TraceImporter.importTrace(path: trace, into: dbPath) }
    #expect(e?.kind == .badMagic)
    #expect(!FileManager.default.fileExists(atPath: dbPath))
}

@Test func failedImportRemovesTheDatabase() throws {
    // A directory that does not exist: SQLite cannot create the file.
    let dbPath = tempPath("no-such-dir") + "/x.db"
    var it = [TraceEvent]().makeIterator()
    #expect(throws: SQLiteError.self) {
        _ = try TraceImporter.importEvents(header: TraceHeader(ticksPerSecond: 1_000_000_000, maxProcs: 1),
                                           into: dbPath, options: ImportOptions(), eventsTotal: 0, endNs: 0,
                                           next: { it.next() })
    }
    #expect(!FileManager.default.fileExists(atPath: dbPath))
}
