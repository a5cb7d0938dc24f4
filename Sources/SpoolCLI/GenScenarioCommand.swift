import ArgumentParser
import SpoolScenarios

/// Hidden: writes the synthetic scenario traces the golden tests and benchmarks use.
struct GenScenarioCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen-scenario",
        abstract: "Write a synthetic scenario trace with known statistics.",
        shouldDisplay: false
    )

    @Argument(help: ArgumentHelp("The scenario name (see --list).", valueName: "name"))
    var name: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("The trace file to write.", valueName: "file"))
    var output: String?

    @Option(help: ArgumentHelp("Events to generate (the large scenario only: any size, for benchmarks).", valueName: "n"))
    var events: Int = 1_000_000

    @Option(help: ArgumentHelp("Ps to simulate (the large scenario only).", valueName: "n"))
    var procs: Int = 4

    @Flag(help: "List the scenarios.")
    var list = false

    @Flag(help: "Overwrite an existing output file.")
    var force = false

    func validate() throws {
        if list { return }
        guard let name else { throw ValidationError("Missing the scenario name; --list shows them") }
        if name != "large" && Scenarios.named(name) == nil {
            throw ValidationError("Unknown scenario '\(name)'; --list shows them")
        }
        if output == nil { throw ValidationError("Missing -o <file>") }
        if events <= 0 || procs <= 0 { throw ValidationError("--events and --procs must be positive") }
    }

    func run() throws {
        if list {
            for s in Scenarios.all { print("\(s.name): \(s.summary)") }
            return
        }
        let path = output!
        try OutputPaths.prepare(path, force: force)
        if name == "large" {
            try writeLarge(events: events, procs: procs, to: path)
        } else {
            try writeScenario(named: name!, to: path)
        }
        print("wrote \(path)")
    }
}
