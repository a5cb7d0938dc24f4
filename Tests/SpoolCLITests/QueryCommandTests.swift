import Foundation
import Testing

/// `spool query`: formats, and SQLite's own message for bad SQL.
@Suite struct QueryCommandTests {
    static func importedScenario(_ dir: URL) throws {
        #expect(try CLI.run(["gen-scenario", "starved", "-o", "s.spool"], in: dir).status == 0)
        #expect(try CLI.run(["import", "s.spool", "-o", "s.db"], in: dir).status == 0)
    }

    @Test func badSQLPrintsSQLitesMessageAndFails() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.importedScenario(dir)
        let r = try CLI.run(["query", "s.db", "SELECT nope FROM no_such_table"], in: dir)
        #expect(r.status != 0)
        #expect(r.stderr.contains("no such table: no_such_table"), "\(r.stderr)")
    }

    @Test func formats() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.importedScenario(dir)
        let sql = "SELECT g, latency_ns FROM sched_latency WHERE latency_ns >= 50000000"
        let csv = try CLI.run(["query", "s.db", sql, "--format", "csv"], in: dir)
        #expect(csv.status == 0)
        #expect(csv.stdout.hasPrefix("g,latency_ns\n"))
        #expect(csv.stdout.contains(",50000000"))
        let json = try CLI.run(["query", "s.db", sql, "--format", "json"], in: dir)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
        #expect(parsed?.first?["latency_ns"] as? Int == 50_000_000)
        let table = try CLI.run(["query", "s.db", sql], in: dir)
        #expect(table.stdout.split(separator: "\n").first?.contains("latency_ns") == true)
    }
}
