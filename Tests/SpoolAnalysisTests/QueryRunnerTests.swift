// `spool query` output formats and errors.

import Testing
@testable import SpoolAnalysis

private func sampleDB() throws -> String {
    let path = tempPath("query.db")
    let db = try Database(path: path)
    try db.execute("""
        CREATE TABLE t (g INTEGER, name TEXT, ratio REAL);
        INSERT INTO t VALUES (1, 'a', 0.5), (22, 'b,"q"', NULL), (333, NULL, 2.0);
        """)
    return path
}

@Test func tableFormatIsAligned() throws {
    let out = try QueryRunner.run(dbPath: try sampleDB(), sql: "SELECT g, name FROM t ORDER BY g")
    #expect(out == """
          g  name
        ---  -----
          1  a
         22  b,"q"
        333  NULL
        (3 rows)

        """)
}

@Test func csvFormatQuotesAndLeavesNullEmpty() throws {
    let out = try QueryRunner.run(dbPath: try sampleDB(), sql: "SELECT g, name, ratio FROM t ORDER BY g", format: .csv)
    #expect(out == "g,name,ratio\r\n1,a,0.5\r\n22,\"b,\"\"q\"\"\",\r\n333,,2.0\r\n")
}

@Test func jsonFormatKeepsTypes() throws {
    let out = try QueryRunner.run(dbPath: try sampleDB(), sql: "SELECT g, name, ratio FROM t ORDER BY g", format: .json)
    #expect(out == """
        [
          {"g": 1, "name": "a", "ratio": 0.5},
          {"g": 22, "name": "b,\\"q\\"", "ratio": null},
          {"g": 333, "name": null, "ratio": 2.0}
        ]

        """)
    let empty = try QueryRunner.run(dbPath: try sampleDB(), sql: "SELECT g FROM t WHERE g < 0", format: .json)
    #expect(empty == "[]\n")
}

@Test func lastStatementWithColumnsIsPrinted() throws {
    let out = try QueryRunner.run(dbPath: try sampleDB(),
                                  sql: "CREATE TEMP VIEW v AS SELECT g FROM t WHERE g > 1; SELECT count(*) AS n FROM v",
                                  format: .csv)
    #expect(out == "n\r\n2\r\n")
}

@Test func badSQLAndMissingDatabaseAreErrors() throws {
    let path = try sampleDB()
    let e = #expect(throws: SQLiteError.self) { _ = try QueryRunner.run(dbPath: path, sql: "SELECT nope FROM t") }
    #expect(e?.description == "no such column: nope")
    let missing = tempPath("none.db")
    #expect(throws: SQLiteError.self) { _ = try QueryRunner.run(dbPath: missing, sql: "SELECT 1") }
    #expect(throws: SQLiteError.self) { _ = try QueryRunner.run(dbPath: path, sql: "  -- only a comment") }
}
