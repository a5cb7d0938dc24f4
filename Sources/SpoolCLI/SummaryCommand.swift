import ArgumentParser
import Foundation
import SpoolAnalysis

struct SummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Print scheduling latency, starvation and thread growth.",
        discussion: "Accepts a database from `spool import`, or a trace, which is imported into a temporary database first."
    )

    @Argument(help: ArgumentHelp("A database made by `spool import`, or a trace file.", valueName: "db-or-trace"))
    var input: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Option(help: ArgumentHelp("Runnable waits at least this long count as starvation.", valueName: "ms"))
    var threshold: Double = 10

    func validate() throws {
        if !(threshold > 0) { throw ValidationError("--threshold must be a positive number of milliseconds") }
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: input) else { throw CLIError("\(input): no such file") }
        let thresholdNs = Int64(threshold * 1_000_000)
        if try Self.isTrace(input) {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spool-summary-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let db = dir.appendingPathComponent("trace.db").path
            let report = try TraceImporter.importTrace(path: input, into: db, options: ImportOptions())
            for warning in report.warnings {
                FileHandle.standardError.write(Data("spool: warning: \(warning)\n".utf8))
            }
            try printSummary(db: db, thresholdNs: thresholdNs)
        } else {
            try printSummary(db: input, thresholdNs: thresholdNs)
        }
    }

    private func printSummary(db: String, thresholdNs: Int64) throws {
        let summary = try Summary.load(dbPath: db, thresholdNs: thresholdNs)
        print(json ? summary.renderJSON() : summary.renderText())
    }

    /// Whether the file starts with the trace magic (else it is taken for a database).
    static func isTrace(_ path: String) throws -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CLIError("cannot open \(path)") }
        defer { try? handle.close() }
        let head = handle.readData(ofLength: 8)
        return Array(head) == Array("SPOOLTRC".utf8)
    }
}
