import ArgumentParser
import Foundation
import SpoolTraceFormat

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a trace file without importing it.",
        discussion: "Prints the header, the batches per owner, the events per kind and the bytes per event, and validates every frame."
    )

    @Argument(help: ArgumentHelp("The trace file.", valueName: "trace"))
    var trace: String

    func run() throws {
        let file: TraceFile
        do {
            file = try TraceFile(path: trace)
        } catch {
            throw CLIError("\(trace): \(error)")
        }
        let h = file.header
        let scan = file.scan()
        var perKind = [Int](repeating: 0, count: 256)
        var ordered = OrderedEvents(file: file, scan: scan)
        while let e = ordered.next() { perKind[Int(e.kind.rawValue)] += 1 }
        let pOwners = Set(scan.batches.filter { $0.owner.kind == .p }.map(\.owner)).count
        let mOwners = Set(scan.batches.filter { $0.owner.kind == .m }.map(\.owner)).count
        print("program: \(([h.program] + h.arguments).joined(separator: " "))")
        print("pid: \(h.pid)")
        print("maxProcs: \(h.maxProcs)")
        print("clock: \(h.ticksPerSecond) ticks/s")
        for kv in h.meta { print("meta \(kv.key): \(kv.value)") }
        print("bytes: \(file.size)")
        print("batches: \(scan.batches.count) (\(pOwners) P owners, \(mOwners) M owners)")
        print("events: \(scan.eventCount)")
        if scan.eventCount > 0 {
            let density: Double = Double(file.size) / Double(scan.eventCount)
            print("bytes/event: \(String(format: "%.2f", density))")
        }
        let endTicks: UInt64 = scan.end?.endTicks ?? scan.maxTicks
        let durationMs: Double = Double(h.nanoseconds(endTicks)) / 1e6
        print("duration: \(durationMs) ms")
        for kind in EventKind.allCases where perKind[Int(kind.rawValue)] > 0 {
            print("  \(kind.name): \(perKind[Int(kind.rawValue)])")
        }
        if ordered.batchesMissing > 0 { print("batches missing: \(ordered.batchesMissing)") }
        if ordered.seqMismatches > 0 { print("seq mismatches: \(ordered.seqMismatches)") }
        if ordered.orderSkews > 0 { print("order skews: \(ordered.orderSkews)") }
        if let end = scan.end {
            print("finalized: yes (end frame says \(end.batchCount) batches)")
        } else {
            print("finalized: no")
        }
        if let problem = scan.problem {
            print("problem: \(problem)")
            throw ExitCode(1)
        }
    }
}
