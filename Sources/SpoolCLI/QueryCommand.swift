import ArgumentParser
import SpoolAnalysis

struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Run SQL over an imported trace database.",
        discussion: "Tables and views are documented in schema/tables.sql and schema/views.sql."
    )

    @Argument(help: ArgumentHelp("The database made by `spool import`.", valueName: "db"))
    var database: String

    @Argument(help: ArgumentHelp("The SQL to run.", valueName: "sql"))
    var sql: String

    @Option(help: "Output format: table, csv or json.")
    var format: OutputFormat = .table

    func run() throws {
        do {
            print(try QueryRunner.run(dbPath: database, sql: sql, format: format.runnerFormat), terminator: "")
        } catch let error as SQLiteError {
            throw CLIError(error.message)
        }
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, csv, json

    var runnerFormat: QueryFormat {
        switch self {
        case .table: return .table
        case .csv: return .csv
        case .json: return .json
        }
    }
}
