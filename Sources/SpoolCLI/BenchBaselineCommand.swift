import ArgumentParser
import SpoolAnalysis

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

    func run() throws {
        try OutputPaths.prepare(output, force: false)
        let seconds = try InsertBaseline.run(rows: rows, dbPath: output)
        print("inserted \(rows) rows in \(seconds) s (\(Int(Double(rows) / seconds)) rows/s)")
    }
}
