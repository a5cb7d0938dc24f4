import ArgumentParser
import Foundation
import SpoolAnalysis

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Record a workload on the Spool runtime, import it and print the summary.",
        discussion: """
            Runs a small mixed workload (a worker pool over channels, ping-pong, sleepers, a \
            contended mutex) on 2 Ps with tracing on, writes DIR/demo.spool and DIR/demo.db, \
            and prints the latency, starvation and thread-growth summary. Without --out, DIR \
            is a new temporary directory.
            """
    )

    @Option(help: ArgumentHelp("The directory to write demo.spool and demo.db into.", valueName: "dir"))
    var out: String?

    @Flag(help: "Overwrite demo.spool and demo.db if they exist.")
    var force = false

    func run() throws {
        let dir: String
        if let out {
            dir = out
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } else {
            dir = try Self.makeTemporaryDirectory()
        }
        let trace = (dir as NSString).appendingPathComponent("demo.spool")
        let db = (dir as NSString).appendingPathComponent("demo.db")
        try OutputPaths.prepare(trace, force: force)
        try OutputPaths.prepare(db, force: force)

        let result = try DemoWorkload.record(to: trace)
        print("recorded \(result.description) into \(trace)")
        let report = try TraceImporter.importTrace(path: trace, into: db, options: ImportOptions())
        ImportCommand.printReport(report, tracePath: trace, dbPath: db)
        print("")
        print(try Summary.load(dbPath: db).renderText())
        print("")
        print("Try: spool query \(db) \"SELECT * FROM latency_by_cause\"")
    }

    static func makeTemporaryDirectory() throws -> String {
        var template = Array((NSTemporaryDirectory() as NSString).appendingPathComponent("spool-demo-XXXXXX").utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw CLIError("cannot create a temporary directory")
        }
        return String(cString: p)
    }
}
