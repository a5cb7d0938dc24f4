// The SQLite wrapper: statements, errors carrying SQLite's message, transactions.

import Testing
@testable import SpoolAnalysis
import Foundation

@Test func badSQLCarriesSQLitesMessage() throws {
    let db = try Database(path: ":memory:")
    let e1 = #expect(throws: SQLiteError.self) { _ = try db.prepare("SELECT * FROM no_such_table") }
    #expect(e1?.message == "no such table: no_such_table")
    #expect(e1?.description == "no such table: no_such_table")
    #expect(e1?.code == 1)
    let e2 = #expect(throws: SQLiteError.self) { try db.execute("SELEC 1") }
    #expect(e2?.message == #"near "SELEC": syntax error"#)
    #expect(e2?.sql == "SELEC 1")
}

@Test func stepErrorsGoThroughOnePath() throws {
    let db = try Database(path: ":memory:")
    try db.execute("CREATE TABLE t (x INTEGER NOT NULL UNIQUE)")
    let insert = try db.prepare("INSERT INTO t (x) VALUES (?)")
    insert.bind(Int64(1), at: 1)
    try insert.run()
    let e = #expect(throws: SQLiteError.self) { try insert.run() }
    #expect(e?.message == "UNIQUE constraint failed: t.x")
    #expect(e?.code == 2067) // SQLITE_CONSTRAINT_UNIQUE (extended codes are on)
    insert.bindNull(at: 1)
    let e2 = #expect(throws: SQLiteError.self) { try insert.run() }
    #expect(e2?.message == "NOT NULL constraint failed: t.x")
}

@Test func valuesRoundTripWithTheirTypes() throws {
    let db = try Database(path: ":memory:")
    let s = try db.prepare("SELECT ?, ?, ?, ?, x'00ff'")
    s.bind(Int64.max, at: 1)
    s.bind(2.5, at: 2)
    s.bind("héllo", at: 3)
    s.bind(nil as Int64?, at: 4)
    #expect(try s.step())
    #expect(s.value(0) == .integer(Int64.max))
    #expect(s.value(1) == .real(2.5))
    #expect(s.value(2) == .text("héllo"))
    #expect(s.value(3) == .null)
    #expect(s.value(4) == .blob([0, 255]))
    #expect(try s.step() == false)
}

@Test func transactionRollsBackWhenTheBodyThrows() throws {
    let db = try Database(path: ":memory:")
    try db.execute("CREATE TABLE t (x INTEGER)")
    struct Boom: Error {}
    #expect(throws: Boom.self) {
        try db.transaction {
            try db.execute("INSERT INTO t VALUES (1)")
            throw Boom()
        }
    }
    #expect(try db.scalarInt("SELECT count(*) FROM t") == 0)
    try db.transaction { try db.execute("INSERT INTO t VALUES (1)") }
    #expect(try db.scalarInt("SELECT count(*) FROM t") == 1)
}

@Test func prepareRejectsScriptsButPrepareAllSplitsThem() throws {
    let db = try Database(path: ":memory:")
    #expect(throws: SQLiteError.self) { _ = try db.prepare("SELECT 1; SELECT 2") }
    let all = try db.prepareAll("SELECT 1; -- a comment\n SELECT 2;  ")
    #expect(all.count == 2)
}

@Test func openingAMissingFileReadOnlyFails() throws {
    let e = #expect(throws: SQLiteError.self) { _ = try Database(path: tempPath("missing.db"), mode: .readOnly) }
    #expect(e?.message.contains("unable to open database file") == true)
}

@Test(arguments: [false, true])
func tableWriterWritesFullBlocksAndTheTail(pipelined: Bool) throws {
    let db = try Database(path: ":memory:")
    try db.execute("CREATE TABLE t (a INTEGER, b INTEGER)")
    let store = pipelined ? StoreThread() : nil
    let w = try TableWriter(database: db, table: "t", columns: ["a", "b"], store: store)
    let n = RowBlock.rows * 2 + 70  // two full blocks, then a partial one
    for i in 0..<n {
        w.put(Int64(i))
        w.put(i % 3 == 0 ? TableWriter.null : Int64(-i))
        try w.endRow()
    }
    #expect(w.rowCount == n)
    try w.flush()
    try store?.finish()
    #expect(try db.scalarInt("SELECT count(*) FROM t") == Int64(n))
    #expect(try db.scalarInt("SELECT count(*) FROM t WHERE b IS NULL") == Int64((n + 2) / 3))
    #expect(try db.scalarInt("SELECT sum(a) FROM t") == Int64((n - 1) * n / 2))
    #expect(try db.scalarInt("SELECT b FROM t WHERE a = 68") == -68)
    #expect(try db.scalarInt("SELECT count(*) FROM t WHERE rowid != a + 1") == 0)  // order kept
}

@Test func tableWriterKeepsEveryInt64ButTheNullSentinel() throws {
    let db = try Database(path: ":memory:")
    try db.execute("CREATE TABLE t (a INTEGER, b INTEGER, c INTEGER)")
    let w = try TableWriter(database: db, table: "t", columns: ["a", "b", "c"])
    let values: [Int64] = [0, 1, -1, Int64.max, Int64.min + 1, 1 << 40, TableWriter.null]
    for v in values {
        w.put(v)
        w.put(TableWriter.null)
        w.put(v)
        try w.endRow()
    }
    try w.flush()
    let stmt = try db.prepare("SELECT a, b, c FROM t ORDER BY rowid")
    var got: [Int64?] = []
    while try stmt.step() {
        #expect(stmt.isNull(1))
        #expect(stmt.optionalInt64(0) == stmt.optionalInt64(2))
        got.append(stmt.optionalInt64(0))
    }
    #expect(got == values.map { $0 == TableWriter.null ? nil : $0 })
}

@Test func rowSourceCannotBeReadWithoutABoundBlock() throws {
    let db = try Database(path: ":memory:")
    try db.registerRowSource()
    // SQL text cannot forge the pointer: an integer or text argument reads as no rows.
    #expect(try db.scalarInt("SELECT count(*) FROM spool_rows(12345)") == 0)
    #expect(try db.scalarInt("SELECT count(*) FROM spool_rows('x')") == 0)
    // Without the argument there is no plan.
    #expect(throws: SQLiteError.self) { _ = try db.scalarInt("SELECT count(*) FROM spool_rows") }
}

@Test func storeThreadReportsInsertErrors() throws {
    let db = try Database(path: ":memory:")
    try db.execute("CREATE TABLE t (a INTEGER NOT NULL)")
    let store = StoreThread()
    let w = try TableWriter(database: db, table: "t", columns: ["a"], store: store)
    for _ in 0..<RowBlock.rows * 3 {
        w.put(TableWriter.null)
        // The error surfaces at a later hand-off or at finish, never as a crash or a hang.
        do { try w.endRow() } catch { break }
    }
    try? w.flush()
    let e = #expect(throws: SQLiteError.self) { try store.finish() }
    #expect(e?.message == "NOT NULL constraint failed: t.a")
}

/// Both benchmark baselines insert exactly the rows asked for, with the same values (a row count
/// that is not a multiple of either batch size exercises the short last statement and block).
@Test func insertBaselinesAgree() throws {
    let dir = "/tmp/spool-baseline-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    var sums: [String] = []
    for mode in InsertBaseline.Mode.allCases {
        let path = "\(dir)-\(mode.rawValue).db"
        defer { unlink(path) }
        _ = try InsertBaseline.run(rows: 2_500, dbPath: path, mode: mode)
        let db = try Database(path: path)
        #expect(try db.scalarInt("SELECT count(*) FROM t") == 2_500)
        #expect(try db.scalarInt("SELECT count(DISTINCT a) FROM t") == 2_500)
        let s = try db.prepare("SELECT sum(a), sum(b), sum(c), sum(d), sum(e), sum(f) FROM t")
        #expect(try s.step())
        sums.append((0..<6).map { "\(s.int64(Int32($0)))" }.joined(separator: ","))
        #expect(throws: (any Error).self) { _ = try InsertBaseline.run(rows: 1, dbPath: path, mode: mode) }
    }
    #expect(sums.count == 2 && sums[0] == sums[1])
}
