import Foundation
import Testing

/// `spool summary` on a database and on a trace (imported to a temporary database).
@Suite struct SummaryCommandTests {
    @Test func summaryOfATraceAndOfItsDatabaseAgree() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try CLI.run(["gen-scenario", "starved", "-o", "s.spool"], in: dir).status == 0)
        let fromTrace = try CLI.run(["summary", "s.spool", "--json"], in: dir)
        #expect(fromTrace.status == 0, "\(fromTrace.stderr)")
        #expect(try CLI.run(["import", "s.spool", "-o", "s.db"], in: dir).status == 0)
        let fromDB = try CLI.run(["summary", "s.db", "--json"], in: dir)
        #expect(fromDB.status == 0)
        let a = try JSONSerialization.jsonObject(with: Data(fromTrace.stdout.utf8)) as? [String: Any]
        let b = try JSONSerialization.jsonObject(with: Data(fromDB.stdout.utf8)) as? [String: Any]
        #expect(a != nil && b != nil)
        #expect((a?["latency"] as? NSDictionary) == (b?["latency"] as? NSDictionary))
        let text = try CLI.run(["summary", "s.db", "--threshold", "40"], in: dir)
        #expect(text.stdout.contains("Scheduling latency"))
        #expect(text.stdout.contains("long waits (>= 40.0 ms): 1"), "\(text.stdout)")
    }

    @Test func rejectsANonPositiveThreshold() throws {
        let r = try CLI.run(["summary", "whatever.db", "--threshold", "0"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--threshold must be a positive number of milliseconds"))
    }
}
