// Rendering a `Summary`: an aligned text report (durations with units) and JSON (raw ns).

import Foundation

extension Summary {
    /// A readable report: sections for the trace, latency, starvation, threads, goroutines and
    /// import problems; durations shown in ns/µs/ms/s with their unit.
    public func renderText() -> String {
        var out = ""
        out += "Trace: \(trace.program.isEmpty ? "(unnamed program)" : trace.program)\n"
        out += "  duration \(formatNs(trace.durationNs)), \(trace.events) events, \(trace.maxProcs) Ps, "
            + "\(trace.goroutines) goroutines, \(trace.threads) threads"
            + (trace.finalized ? "" : ", not finalized") + "\n"
        if let problem = trace.problem { out += "  WARNING: trace damaged: \(problem)\n" }
        if lostEvents > 0 { out += "  WARNING: \(lostEvents) events were dropped by the runtime (TraceLost)\n" }

        out += "\nScheduling latency (runnable -> running)\n"
        var t = TextTable(headers: ["cause", "count", "p50", "p90", "p99", "p99.9", "max"],
                          rightAligned: [false, true, true, true, true, true, true])
        func row(_ name: String, _ s: DurationStats) -> [String] {
            [name, String(s.count)] + Percentile.allCases.map { s.value($0).map(formatNs) ?? "-" }
                + [s.maxNs.map(formatNs) ?? "-"]
        }
        t.add(row("all", latency.overall))
        for c in latency.byCause { t.add(row(c.cause, c.stats)) }
        out += t.render(indent: "  ")

        let s = starvation
        out += "\nStarvation\n"
        out += "  long waits (>= \(formatNs(s.thresholdNs))): \(s.longWaits) in \(s.starvedGoroutines) goroutines\n"
        if !s.longestWaits.isEmpty {
            var w = TextTable(headers: ["g", "cause", "ready", "wait", "p"],
                              rightAligned: [true, false, true, true, true])
            for x in s.longestWaits {
                w.add([String(x.g), x.cause, "at " + formatNs(x.readyNs), formatNs(x.latencyNs), String(x.p)])
            }
            out += w.render(indent: "    ")
        }
        out += "  slices longer than the quantum (\(formatNs(s.quantumNs))): \(s.longSlices)"
            + (s.longSlices > 0 ? ", \(formatNs(s.longSlicesTotalNs)) in total" : "") + "\n"
        if !s.longestSlices.isEmpty {
            var w = TextTable(headers: ["g", "p", "start", "length", "ended by"],
                              rightAligned: [true, true, true, true, false])
            for x in s.longestSlices {
                w.add([String(x.g), String(x.p), "at " + formatNs(x.startNs), formatNs(x.durationNs), x.endReason])
            }
            out += w.render(indent: "    ")
        }
        out += "  preemptions: \(s.preemptions) (\(s.preemptionsAsync) async, \(s.preemptionsCooperative) cooperative)\n"
        if s.preemptDelay.count > 0 {
            let d = s.preemptDelay
            out += "  preempt delay (request -> delivery, \(d.count) requested): p50 \(d.p50Ns.map(formatNs) ?? "-"), "
                + "p99 \(d.p99Ns.map(formatNs) ?? "-"), max \(d.maxNs.map(formatNs) ?? "-")\n"
        }
        out += "  P idle while a G was runnable (>= 1 ms): \(s.idleWhileRunnable)"
        if s.idleWhileRunnable > 0 {
            out += ", \(formatNs(s.idleWhileRunnableTotalNs)) in total, longest \(s.idleWhileRunnableMaxNs.map(formatNs) ?? "-")"
        }
        out += "\n"

        let sc = syscalls
        out += "\nBlocking syscalls\n"
        out += "  \(sc.count) calls, \(sc.handedOff) with their P handed off to another thread"
        if sc.count > 0 {
            let d = sc.duration
            out += "; duration p50 \(d.p50Ns.map(formatNs) ?? "-"), p99 \(d.p99Ns.map(formatNs) ?? "-"), "
                + "max \(d.maxNs.map(formatNs) ?? "-"), \(formatNs(d.totalNs)) in total"
        }
        out += "\n"

        let th = threads
        out += "\nThreads\n"
        out += "  peak \(th.peak)" + (th.peakAtNs.map { " at \(formatNs($0))" } ?? "")
            + ", \(th.atEnd) at end, \(th.seen) seen; most goroutines in syscalls at once: \(th.peakInSyscall)\n"
        if !th.createdByCause.isEmpty {
            out += "  created by cause: " + th.createdByCause.map { "\($0.name) \($0.count)" }.joined(separator: ", ") + "\n"
        }
        out += "  live threads by tenth of the trace: " + th.timeline.map(String.init).joined(separator: " ") + "\n"
        if !th.threads.isEmpty {
            var w = TextTable(headers: ["m", "created", "exited", "cause"], rightAligned: [true, true, true, false])
            for x in th.threads {
                w.add([String(x.m), x.createdNs.map(formatNs) ?? "before", x.exitedNs.map(formatNs) ?? "-", x.cause])
            }
            out += w.render(indent: "    ")
        }

        func gTable(_ title: String, _ rows: [GoroutineTotals]) {
            guard !rows.isEmpty else { return }
            out += "\n\(title)\n"
            var w = TextTable(headers: ["g", "running", "runnable", "blocked", "syscall", "max wait"],
                              rightAligned: [true, true, true, true, true, true])
            for x in rows {
                w.add([String(x.g), formatNs(x.execNs), formatNs(x.runnableNs), formatNs(x.blockedNs),
                       formatNs(x.syscallNs), x.maxLatencyNs.map(formatNs) ?? "-"])
            }
            out += w.render(indent: "  ")
        }
        gTable("Goroutines that waited longest (total runnable time)", topWaiting)
        gTable("Goroutines that ran longest (total running time)", topRunning)

        let problems = importStats.filter { $0.severity != .info }
        if !problems.isEmpty {
            out += "\nImport anomalies\n"
            var w = TextTable(headers: ["name", "severity", "value", "what"], rightAligned: [false, false, true, false])
            for x in problems { w.add([x.name, x.severity.rawValue, String(x.value), x.description]) }
            out += w.render(indent: "  ")
        }
        return out
    }

    /// The summary as pretty-printed JSON with sorted, snake_case keys; durations in ns.
    public func renderJSON() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        // Encoding plain structs of numbers and strings cannot fail.
        let data = try! encoder.encode(self)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// A duration in ns as text with a unit: `850 ns`, `12.3 µs`, `4.56 ms`, `1.234 s`.
public func formatNs(_ ns: Int64) -> String {
    let a = ns.magnitude
    func fixed(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }
    if a < 1_000 { return "\(ns) ns" }
    let d = Double(ns)
    if a < 1_000_000 { return fixed(d / 1e3, a < 10_000 ? 2 : 1) + " µs" }
    if a < 1_000_000_000 { return fixed(d / 1e6, a < 10_000_000 ? 2 : 1) + " ms" }
    return fixed(d / 1e9, 3) + " s"
}
