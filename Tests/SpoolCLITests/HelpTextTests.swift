import Testing
@testable import SpoolCLI

/// The help of the user-facing commands is pinned: a change to it is a change to the interface.
@Suite struct HelpTextTests {
    @Test func importHelp() {
        #expect(SpoolCommand.helpMessage(for: ImportCommand.self, columns: 100) == """
            OVERVIEW: Load a trace into a new SQLite database.

            Computes scheduling latency, starvation and thread-growth tables while loading. A truncated trace
            imports every complete batch and prints where the data stopped. An existing database is never
            overwritten without --force.

            USAGE: spool import <trace> [--output <db>] [--force] [--raw-events]

            ARGUMENTS:
              <trace>                 The trace file to import.

            OPTIONS:
              -o, --output <db>       The database to create (default: the trace path with .db).
              --force                 Overwrite an existing database.
              --raw-events            Also store every raw event in the events table.
              --version               Show the version.
              -h, --help              Show help information.

            """)
    }

    @Test func subcommandsAreListed() {
        let help = SpoolCommand.helpMessage(columns: 100)
        for name in ["demo", "record", "import", "query", "summary", "inspect"] {
            #expect(help.contains("  \(name) "), "root help does not list \(name)")
        }
        #expect(!help.contains("gen-scenario"), "hidden commands stay hidden")
    }
}
