// The `spool` command line: a thin root over one file per subcommand. The work lives in the
// libraries (SpoolAnalysis, SpoolScenarios, Spool); commands parse, validate and report.

import ArgumentParser

@main
struct SpoolCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool",
        abstract: "Record Spool runtime traces and analyze them with SQL.",
        discussion: """
            Traces come from programs built on the Spool runtime (`spool record`, or \
            SPOOL_TRACE=FILE). `spool import` loads one into SQLite; `spool summary` prints \
            scheduling latency, starvation and thread growth; `spool query` runs SQL.
            """,
        version: "0.1.0",
        subcommands: [
            DemoCommand.self, RecordCommand.self, ImportCommand.self, QueryCommand.self,
            SummaryCommand.self, InspectCommand.self, GenScenarioCommand.self, BenchBaselineCommand.self,
        ]
    )
}

/// A failure with a message for the user; printed as `spool: <message>` with a non-zero exit.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
