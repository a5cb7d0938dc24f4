// The baselines the import benchmark is judged against (BENCHMARKS.md): integer rows inserted
// through the same wrapper and pragmas the importer uses, in one transaction, with no trace
// reading and no tracking. Import time / baseline time says how much the pipeline costs on top
// of SQLite's own insert rate. Two ways to insert:
//
// * `.multiRow`: plain multi-row INSERTs, `INSERT INTO t VALUES (?,...),(...)` with 32 rows
//   per statement and one `sqlite3_bind_int64` per value: the classic bulk-insert recipe, and
//   the baseline the import issue names.
// * `.block`: the importer's own path (`TableWriter`: one step per 1024-row block through the
//   `spool_rows` virtual table, RowSource.swift).

import Foundation

/// Plain bulk inserts, for benchmarks.
public enum InsertBaseline {
    public enum Mode: String, CaseIterable, Sendable {
        case multiRow = "multirow"
        case block
    }

    /// Rows per statement in `.multiRow` mode.
    static let rowsPerStatement = 32

    /// Inserts `rows` rows of six integers into table `t` of a new database at `dbPath`, in one
    /// transaction, and returns the elapsed wall-clock seconds (including the commit).
    /// - Throws: `ImportError` when `dbPath` exists and is not empty, `SQLiteError`.
    public static func run(rows: Int, dbPath: String, mode: Mode = .multiRow) throws -> Double {
        try TraceImporter.requireFresh(dbPath)
        let started = Date()
        let db = try TraceImporter.openForBulkLoad(dbPath)
        try db.execute("CREATE TABLE t (a INTEGER, b INTEGER, c INTEGER, d INTEGER, e INTEGER, f INTEGER)")
        try db.transaction {
            switch mode {
            case .block: try insertBlocks(db, rows: rows)
            case .multiRow: try insertMultiRow(db, rows: rows)
            }
        }
        return Date().timeIntervalSince(started)
    }

    /// Row `i`'s six values: a cheap LCG keeps them from compressing into runs.
    @inline(__always)
    private static func row(_ i: Int, _ x: inout Int64) -> (Int64, Int64, Int64, Int64, Int64, Int64) {
        x = x &* 6364136223846793005 &+ 1442695040888963407
        return (Int64(i), x >> 40, Int64(i) * 1_000, Int64(i) * 1_000 + (x & 0xFFFF), x & 7, Int64(i & 3))
    }

    private static func insertBlocks(_ db: Database, rows: Int) throws {
        let w = try TableWriter(database: db, table: "t", columns: ["a", "b", "c", "d", "e", "f"])
        var x: Int64 = 0
        for i in 0..<rows {
            let r = row(i, &x)
            w.put(r.0); w.put(r.1); w.put(r.2); w.put(r.3); w.put(r.4); w.put(r.5)
            try w.endRow()
        }
        try w.flush()
    }

    private static func insertMultiRow(_ db: Database, rows: Int) throws {
        func statement(_ n: Int) throws -> Statement {
            let tuple = "(?,?,?,?,?,?)"
            return try db.prepare("INSERT INTO t VALUES " + Array(repeating: tuple, count: n).joined(separator: ","))
        }
        let full = try statement(rowsPerStatement)
        var x: Int64 = 0
        var i = 0
        while i < rows {
            let n = min(rowsPerStatement, rows - i)
            let s = n == rowsPerStatement ? full : try statement(n)
            var index: Int32 = 1
            for k in 0..<n {
                let r = row(i + k, &x)
                s.bind(r.0, at: index); s.bind(r.1, at: index + 1); s.bind(r.2, at: index + 2)
                s.bind(r.3, at: index + 3); s.bind(r.4, at: index + 4); s.bind(r.5, at: index + 5)
                index += 6
            }
            try s.run()
            i += n
        }
    }
}
