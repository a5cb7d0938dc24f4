// The scenario catalogue: named synthetic traces with known answers (issue 2, item 5).
//
// Each scenario is a short script against `ScenarioModel` (see ScenarioModel.swift for how the
// answers are known by construction). Times in the scripts are ns since trace start; the
// clock is 1 tick = 1 ns except in `ticks-16ns`. Small batches (a few events each) make every
// scenario multi-batch with owners interleaved in the file, so the reader's merge is exercised
// by every golden test.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SpoolTraceFormat

/// A named synthetic trace and its known answers.
public struct Scenario {
    /// The name used by `Scenarios.named(_:)` and `spool gen-scenario`.
    public let name: String
    /// One line: what the trace contains and what it proves.
    public let summary: String
    private let make: () -> (bytes: [UInt8], expected: Expected)
    private let makeExpected: () -> Expected

    init(name: String, summary: String, make: @escaping () -> (bytes: [UInt8], expected: Expected),
         expectedOnly: (() -> Expected)? = nil) {
        self.name = name
        self.summary = summary
        self.make = make
        self.makeExpected = expectedOnly ?? { make().expected }
    }

    /// The trace file's bytes (generated on each call; deterministic).
    public func trace() -> [UInt8] { make().bytes }

    /// The answers the analyzer must produce for `trace()` (generated on each call).
    public var expected: Expected { makeExpected() }
}

/// An error writing a scenario file.
public struct ScenarioError: Error, CustomStringConvertible {
    public var description: String
}

public enum Scenarios {
    /// Every named scenario, small ones first; `large` here is the 100 000-event default.
    public static let all: [Scenario] = [
        producerConsumer, sleepers, syscallBurst, preemptedLoop, netpoll, starved, truncated,
        corruptBatch, lostEvents, ticks16ns, clockSkew, large(events: 100_000, procs: 4),
    ]

    /// The scenario called `name`: one of `all`, or `large-<N>` (N events, `k`/`m` suffixes
    /// allowed: `large-1m`, `large-10m`) with 4 Ps.
    public static func named(_ name: String) -> Scenario? {
        if let s = all.first(where: { $0.name == name }) { return s }
        if let n = largeEventCount(name) { return large(events: n, procs: 4) }
        return nil
    }

    static func largeEventCount(_ name: String) -> Int? {
        guard name.hasPrefix("large-") else { return nil }
        var digits = Substring(name.dropFirst("large-".count)).lowercased()
        var scale = 1
        if digits.hasSuffix("k") { scale = 1_000; digits.removeLast() }
        else if digits.hasSuffix("m") { scale = 1_000_000; digits.removeLast() }
        guard let n = Int(digits), n > 0 else { return nil }
        return n * scale
    }
}

/// Writes scenario `name` (see `Scenarios.named`) to the file at `path`, replacing it. Large
/// scenarios are streamed without holding the trace in memory.
public func writeScenario(named name: String, to path: String) throws {
    if name == "large" || Scenarios.largeEventCount(name) != nil {
        try writeLarge(events: Scenarios.largeEventCount(name) ?? 100_000, procs: 4, to: path)
        return
    }
    guard let scenario = Scenarios.named(name) else {
        let names = Scenarios.all.map(\.name).joined(separator: ", ")
        throw ScenarioError(description: "unknown scenario '\(name)' (known: \(names), large-<N>)")
    }
    let bytes = scenario.trace()
    try withFile(path) { f in
        let n = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, f) }
        if n != bytes.count { throw ScenarioError(description: "\(path): short write") }
    }
}

/// Opens `path` for writing, runs `body`, closes it, and reports open/close failures.
func withFile(_ path: String, _ body: (UnsafeMutablePointer<FILE>) throws -> Void) throws {
    guard let f = fopen(path, "wb") else {
        throw ScenarioError(description: "\(path): cannot open for writing: \(String(cString: strerror(errno)))")
    }
    do { try body(f) } catch { fclose(f); throw error }
    if fclose(f) != 0 {
        throw ScenarioError(description: "\(path): write failed: \(String(cString: strerror(errno)))")
    }
}

// MARK: - Script helpers

/// The header every scenario uses: 1 GHz clock unless told, program `spool-scenario NAME`.
func scenarioHeader(_ name: String, maxProcs: Int, ticksPerSecond: UInt64 = 1_000_000_000,
                    meta: [TraceHeader.KeyValue] = []) -> TraceHeader {
    TraceHeader(ticksPerSecond: ticksPerSecond, maxProcs: UInt64(maxProcs),
                wallClockStartNs: 1_767_225_600_000_000_000, pid: 4242, program: "spool-scenario",
                arguments: [name],
                meta: [TraceHeader.KeyValue("runtime", "spool-scenarios 1"), TraceHeader.KeyValue("scenario", name)] + meta)
}

/// Runs `script` on a fresh model and returns the complete trace and its answers. The script
/// returns the trace end time in ns.
func runScript(_ name: String, maxProcs: Int, batchEvents: Int, ticksPerSecond: UInt64 = 1_000_000_000,
               meta: [TraceHeader.KeyValue] = [], _ script: (ScenarioModel) -> Int64) -> ([UInt8], Expected) {
    let builder = TraceBuilder(header: scenarioHeader(name, maxProcs: maxProcs, ticksPerSecond: ticksPerSecond, meta: meta),
                               batchEvents: batchEvents)
    let model = ScenarioModel(builder: builder)
    let endNs = script(model)
    let expected = model.finish(endNs: endNs)
    return (builder.bytes, expected)
}

/// Actions collected with their times and run in time order (stable for equal times), so that
/// a script can describe each goroutine's story separately.
struct Timeline {
    private var items: [(t: Int64, n: Int, run: () -> Void)] = []
    mutating func at(_ t: Int64, _ run: @escaping () -> Void) { items.append((t, items.count, run)) }
    func run() { for item in items.sorted(by: { ($0.t, $0.n) < ($1.t, $1.n) }) { item.run() } }
}
