// schema/*.sql is the source of truth: the generated Swift copy must equal it, every column
// must be documented, and the lookup tables must equal the Swift enums.

import Foundation
import Testing
import SpoolTraceFormat
@testable import SpoolAnalysis

private let schemaDir = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("schema")

private func schemaFile(_ name: String) throws -> String {
    try String(contentsOf: schemaDir.appendingPathComponent(name), encoding: .utf8)
}

@Test func generatedSwiftEqualsSchemaFiles() throws {
    let hint = "run tools/gen-schema-swift.sh"
    #expect(SchemaSQL.tables == (try schemaFile("tables.sql")).dropLastNewline, "\(hint)")
    #expect(SchemaSQL.events == (try schemaFile("events.sql")).dropLastNewline, "\(hint)")
    #expect(SchemaSQL.indexes == (try schemaFile("indexes.sql")).dropLastNewline, "\(hint)")
    #expect(SchemaSQL.views == (try schemaFile("views.sql")).dropLastNewline, "\(hint)")
}

private extension String {
    /// A multi-line literal ends before the file's final newline.
    var dropLastNewline: String { hasSuffix("\n") ? String(dropLast()) : self }
}

@Test func everyTableColumnIsDocumented() throws {
    for file in ["tables.sql", "events.sql"] {
        var inTable = false
        for line in try schemaFile(file).split(separator: "\n", omittingEmptySubsequences: false) {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("CREATE TABLE") { inTable = true; continue }
            if t.hasPrefix(");") { inTable = false; continue }
            if inTable && !t.isEmpty && !t.hasPrefix("--") {
                #expect(t.contains("-- "), "undocumented column in \(file): \(t)")
            }
        }
    }
}

/// The rows of a lookup table in a database built from the schema alone.
private func lookup(_ table: String, extra: String = "") throws -> [(Int64, String, Int64)] {
    let db = try Database(path: ":memory:")
    try db.execute(SchemaSQL.tables)
    let s = try db.prepare("SELECT code, name \(extra.isEmpty ? ", 0" : ", " + extra) FROM \(table) ORDER BY code")
    var out: [(Int64, String, Int64)] = []
    while try s.step() { out.append((s.int64(0), s.text(1), s.int64(2))) }
    return out
}

@Test func eventKindsTableEqualsTheFormat() throws {
    let rows = try lookup("event_kinds", extra: "arg_count")
    #expect(rows.map(\.0) == EventKind.allCases.map { Int64($0.rawValue) })
    #expect(rows.map(\.1) == EventKind.allCases.map(\.name))
    #expect(rows.map(\.2) == EventKind.allCases.map { Int64($0.argCount) })
}

@Test func lookupTablesEqualTheSwiftEnums() throws {
    func check(_ table: String, _ names: [String]) throws {
        let rows = try lookup(table)
        #expect(rows.map(\.0) == names.indices.map(Int64.init), "\(table) codes")
        #expect(rows.map(\.1) == names, "\(table) names")
    }
    try check("g_states", GState.allCases.map(\.name))
    try check("g_states", GoStatusCode.allCases.map(\.name))
    try check("latency_causes", LatencyCause.allCases.map(\.name))
    try check("slice_end_reasons", SliceEndReason.allCases.map(\.name))
    try check("block_reasons", BlockReason.allCases.map(\.name))
    try check("thread_causes", ThreadCause.allCases.map(\.name))
    try check("preempt_kinds", PreemptKind.allCases.map(\.name))
    try check("owner_kinds", ["P", "M"])
}

@Test func latencyCausesMatchAnalysisMd() throws {
    // The cause table of schema/analysis.md: "| code | cause | made runnable by |".
    let md = try schemaFile("analysis.md")
    var causes: [(Int64, String)] = []
    for line in md.split(separator: "\n") {
        let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        if cells.count == 3, let code = Int64(cells[0]) {
            causes.append((code, cells[1]))
        }
    }
    #expect(causes.map(\.0) == LatencyCause.allCases.map(\.rawValue))
    #expect(causes.map(\.1) == LatencyCause.allCases.map(\.name))
}

@Test func viewsAndIndexesLoadOverTheTables() throws {
    let db = try Database(path: ":memory:")
    try db.execute(SchemaSQL.tables)
    try db.execute(SchemaSQL.events)
    try db.execute(SchemaSQL.views)
    try db.execute(SchemaSQL.indexes)
    for view in ["slices", "sched_latency", "syscalls", "latency_by_cause", "starved_goroutines", "long_slices", "thread_growth", "states_named", "goroutine_blocking", "proc_utilization"] {
        _ = try QueryRunner.execute(db, sql: "SELECT * FROM \(view)")
    }
    let byCause = try QueryRunner.execute(db, sql: "SELECT cause_name, count FROM latency_by_cause")
    #expect(byCause.rows.count == LatencyCause.allCases.count)
}
