// The baseline the import benchmark is judged against (BENCHMARKS.md): plain INSERTs
// of integer rows through the same wrapper, pragmas and block inserts (`TableWriter`, one step
// per 1024-row block through the `spool_rows` virtual table) the importer uses, with no
// trace reading and no tracking. Import time / baseline time says how much the pipeline costs on
// top of SQLite's own insert rate.

import Foundation

/// Plain bulk inserts, for benchmarks.
public enum InsertBaseline {
    /// Inserts `rows` rows of six integers into table `t` of a new database at `dbPath`, in one
    /// transaction, and returns the elapsed wall-clock seconds (including the commit).
    /// - Throws: `ImportError` when `dbPath` exists and is not empty, `SQLiteError`.
    public static func run(rows: Int, dbPath: String) throws -> Double {
        try TraceImporter.requireFresh(dbPath)
        let started = Date()
        let db = try TraceImporter.openForBulkLoad(dbPath)
        try db.execute("CREATE TABLE t (a INTEGER, b INTEGER, c INTEGER, d INTEGER, e INTEGER, f INTEGER)")
        try db.transaction {
            let w = try TableWriter(database: db, table: "t", columns: ["a", "b", "c", "d", "e", "f"])
            var x: Int64 = 0
            for i in 0..<rows {
                x = x &* 6364136223846793005 &+ 1442695040888963407
                w.put(Int64(i))
                w.put(x >> 40)
                w.put(Int64(i) * 1_000)
                w.put(Int64(i) * 1_000 + (x & 0xFFFF))
                w.put(x & 7)
                w.put(Int64(i & 3))
                try w.endRow()
            }
            try w.flush()
        }
        return Date().timeIntervalSince(started)
    }
}
