import ArgumentParser
import SpoolAnalysis

extension InsertBaseline.Mode: ExpressibleByArgument {}

/// Hidden: the baseline the import benchmark is judged against (tools/bench-import.sh).
struct BenchBaselineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-baseline",
        abstract: "Insert plain integer rows through the importer's SQLite path, for benchmarks.",
        shouldDisplay: false
    )

    @Option(help: ArgumentHelp("Rows to insert.", valueName: "n"))
    var rows: Int

    @Option(name: .shortAndLong, help: ArgumentHelp("The database to create.", valueName: "db"))
    var output: String

    @Option(help: ArgumentHelp("multirow: 32-row INSERT statements, one bind per value; block: the importer's 1024-row blocks through the spool_rows virtual table.", valueName: "mode"))
    var mode: InsertBaseline.Mode = .multiRow

    func run() throws {
        try OutputPaths.prepare(output, force: false)
        let seconds = try InsertBaseline.run(rows: rows, dbPath: output, mode: mode)
        print("inserted \(rows) rows (\(mode.rawValue)) in \(seconds) s (\(Int(Double(rows) / seconds)) rows/s)")
    }
}
