// Helpers shared by the SpoolAnalysis tests: hand-built event sequences, temporary databases,
// and encoded trace files.

import Foundation
import SpoolTraceFormat
@testable import SpoolAnalysis

/// A fresh path for a database or trace in a per-process temporary directory.
func tempPath(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("spool-analysis-tests-\(getpid())", isDirectory: true)
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent("\(UUID().uuidString)-\(name)").path
}

/// Events in the order the tracker will see them (no ordering stage), 1 tick = 1 ns.
struct Script {
    var events: [TraceEvent] = []

    /// An event in P `p`'s batch at `t` ns.
    mutating func p(_ p: UInt32, _ t: UInt64, _ kind: EventKind, _ args: UInt64...) {
        add(.p(p), t, kind, args)
    }

    /// An event in M `m`'s batch at `t` ns.
    mutating func m(_ m: UInt32, _ t: UInt64, _ kind: EventKind, _ args: UInt64...) {
        add(.m(m), t, kind, args)
    }

    private mutating func add(_ owner: BatchOwner, _ t: UInt64, _ kind: EventKind, _ args: [UInt64]) {
        precondition(args.count == kind.argCount, "\(kind.name) takes \(kind.argCount) args")
        var a = args + [0, 0, 0]
        a = Array(a.prefix(3))
        events.append(TraceEvent(kind: kind, ticks: t, owner: owner, a0: a[0], a1: a[1], a2: a[2]))
    }
}

/// An imported database and its report.
struct Imported {
    let db: Database
    let report: ImportReport

    /// All rows of `sql`, every column as an optional integer.
    func ints(_ sql: String) throws -> [[Int64?]] {
        let s = try db.prepare(sql)
        var out: [[Int64?]] = []
        while try s.step() { out.append((0..<s.columnCount).map { s.optionalInt64($0) }) }
        return out
    }

    /// The single integer of `sql`.
    func int(_ sql: String) throws -> Int64? { try db.scalarInt(sql) }

    /// The value of an `import_stats` entry (0 when absent).
    func stat(_ name: String) throws -> Int64 {
        try int("SELECT coalesce(sum(value), 0) FROM import_stats WHERE name = '\(name)'") ?? 0
    }
}

/// Imports `script` through the tracker and store stages into a new temporary database.
func importScript(_ script: Script, maxProcs: UInt64 = 1, endNs: Int64 = 0,
                  meta: [TraceHeader.KeyValue] = [], rawEvents: Bool = false) throws -> Imported {
    let header = TraceHeader(ticksPerSecond: 1_000_000_000, maxProcs: maxProcs, program: "test", meta: meta)
    let path = tempPath("script.db")
    var it = script.events.makeIterator()
    let report = try TraceImporter.importEvents(
        header: header, into: path, options: ImportOptions(rawEvents: rawEvents),
        eventsTotal: script.events.count, endNs: endNs, next: { it.next() })
    return Imported(db: try Database(path: path, mode: .readOnly), report: report)
}

/// Encodes a trace file: header, one batch per entry (owner, seq, events), optional end frame.
func encodeTrace(maxProcs: UInt64, batches: [(BatchOwner, UInt64, [(EventKind, UInt64, [UInt64])])],
                 endTicks: UInt64? = nil) -> [UInt8] {
    let header = TraceHeader(ticksPerSecond: 1_000_000_000, maxProcs: maxProcs, program: "encoded",
                             arguments: ["-x"], meta: [.init("runtime", "test")])
    var bytes = header.encoded()
    let capacity = 1 << 16
    let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    defer { buffer.deallocate() }
    var enc = BatchEncoder(buffer: buffer, capacity: capacity)
    for (owner, seq, events) in batches {
        enc.begin(owner: owner, seq: seq, baseTicks: events.first?.1 ?? 0)
        for (kind, t, args) in events { enc.append(kind, ticks: t, args: args) }
        bytes += Array(enc.seal())
    }
    if let endTicks {
        bytes += FrameLayout.endFrame(batchCount: UInt64(batches.count), endTicks: endTicks)
    }
    return bytes
}
