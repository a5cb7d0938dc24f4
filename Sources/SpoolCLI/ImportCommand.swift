import ArgumentParser
import Foundation
import SpoolAnalysis
import SpoolTraceFormat

#if canImport(Glibc)
import Glibc
#endif

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Load a trace into a new SQLite database.",
        discussion: """
            Computes scheduling latency, starvation and thread-growth tables while loading. A \
            truncated trace imports every complete batch and prints where the data stopped. \
            An existing database is never overwritten without --force.
            """
    )

    @Argument(help: ArgumentHelp("The trace file to import.", valueName: "trace"))
    var trace: String

    @Option(name: .shortAndLong, help: ArgumentHelp("The database to create (default: the trace path with .db).", valueName: "db"))
    var output: String?

    @Flag(help: "Overwrite an existing database.")
    var force = false

    @Flag(help: "Also store every raw event in the events table.")
    var rawEvents = false

    func run() throws {
        let db = output ?? Self.defaultDatabasePath(for: trace)
        guard FileManager.default.fileExists(atPath: trace) else { throw CLIError("\(trace): no such file") }
        try OutputPaths.prepare(db, force: force)
        var options = ImportOptions()
        options.rawEvents = rawEvents
        let progress = ProgressLine()
        options.progress = progress.update
        let report: ImportReport
        do {
            report = try TraceImporter.importTrace(path: trace, into: db, options: options)
        } catch {
            progress.finish()
            // Leave nothing half-written behind when the trace could not be read at all.
            try? FileManager.default.removeItem(atPath: db)
            throw CLIError("cannot import \(trace): \(error)")
        }
        progress.finish()
        Self.printReport(report, tracePath: trace, dbPath: db)
        // A truncated trace is what a crashed program leaves: a warning. Damage in the middle
        // (a CRC mismatch, a malformed frame) lost data: the database keeps the complete
        // batches before it, and the exit status says something was wrong.
        if let problem = report.problem, problem.kind != .truncated { throw ExitCode(1) }
    }

    static func defaultDatabasePath(for trace: String) -> String {
        let url = URL(fileURLWithPath: trace)
        return url.pathExtension == "spool" ? url.deletingPathExtension().appendingPathExtension("db").relativePath : trace + ".db"
    }

    static func printReport(_ report: ImportReport, tracePath: String, dbPath: String) {
        for warning in report.warnings {
            FileHandle.standardError.write(Data("spool: warning: \(warning)\n".utf8))
        }
        let rate = report.elapsedSeconds > 0 ? Double(report.eventCount) / report.elapsedSeconds : 0
        print("imported \(report.eventCount) events from \(tracePath) into \(dbPath) "
            + "in \(String(format: "%.2f", report.elapsedSeconds)) s (\(Int(rate)) events/s)")
    }
}

/// A one-line progress display on stderr, shown only when stderr is a terminal and the import
/// has run for more than a second.
final class ProgressLine {
    private let enabled = isatty(2) != 0
    private let start = Date()
    private var shown = false
    private var lastDraw = Date.distantPast

    func update(_ p: ImportProgress) {
        guard enabled else { return }
        let now = Date()
        guard now.timeIntervalSince(start) > 1, now.timeIntervalSince(lastDraw) >= 0.1 || p.stage == "done" else { return }
        lastDraw = now
        shown = true
        let percent = p.eventsTotal > 0 ? 100 * p.eventsDone / p.eventsTotal : 0
        FileHandle.standardError.write(Data("\rimporting: \(percent)% (\(p.eventsDone) of \(p.eventsTotal) events, \(p.stage))\u{1B}[K".utf8))
    }

    func finish() {
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
