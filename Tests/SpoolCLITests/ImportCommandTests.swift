import Foundation
import Testing

/// `spool import`: refusal to overwrite, truncated and corrupt traces, files that are not traces.
@Suite struct ImportCommandTests {
    @Test func refusesToOverwriteAnExistingDatabase() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try CLI.run(["gen-scenario", "producer-consumer", "-o", "pc.spool"], in: dir).status == 0)
        let first = try CLI.run(["import", "pc.spool"], in: dir)
        #expect(first.status == 0, "\(first.stderr)")
        let db = dir.appendingPathComponent("pc.db").path
        let before = try Data(contentsOf: URL(fileURLWithPath: db))

        let again = try CLI.run(["import", "pc.spool"], in: dir)
        #expect(again.status != 0)
        #expect(again.stderr.contains("pc.db already exists; pass --force to overwrite it"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: db)) == before, "the existing database was modified")

        let forced = try CLI.run(["import", "pc.spool", "--force"], in: dir)
        #expect(forced.status == 0, "\(forced.stderr)")
    }

    @Test func truncatedTraceImportsCompleteBatchesWithAWarning() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try CLI.run(["gen-scenario", "producer-consumer", "-o", "pc.spool"], in: dir).status == 0)
        let full = try Data(contentsOf: dir.appendingPathComponent("pc.spool"))
        try full.prefix(full.count * 2 / 3).write(to: dir.appendingPathComponent("cut.spool"))

        let r = try CLI.run(["import", "cut.spool", "-o", "cut.db"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("warning: trace truncated at byte"))
        let rows = try CLI.run(["query", "cut.db", "SELECT count(*) FROM sched_latency", "--format", "csv"], in: dir)
        let count = Int(rows.stdout.split(separator: "\n").last ?? "") ?? 0
        #expect(count > 0, "no rows imported from the complete batches")
    }

    @Test func corruptTraceNamesTheOffsetKeepsBatchesAndFails() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try CLI.run(["gen-scenario", "producer-consumer", "-o", "pc.spool"], in: dir).status == 0)
        var bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent("pc.spool")))
        bytes[bytes.count / 2] ^= 0x40
        try Data(bytes).write(to: dir.appendingPathComponent("bad.spool"))

        let r = try CLI.run(["import", "bad.spool", "-o", "bad.db"], in: dir)
        #expect(r.status == 1)
        #expect(r.stderr.contains("at byte "), "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad.db").path),
                "the complete batches before the damage must be kept")
    }

    @Test func notATraceIsAClearErrorAndLeavesNothing() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("hello, world\n".utf8).write(to: dir.appendingPathComponent("x.spool"))
        let r = try CLI.run(["import", "x.spool"], in: dir)
        #expect(r.status != 0)
        #expect(r.stderr.contains("not a Spool trace: expected magic SPOOLTRC"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.db").path))
    }
}
