// The statistics stage: latency, starvation and thread growth, read back from an imported
// database (so `spool summary` works on any database the importer wrote, without the trace).
//
// Where the work goes: the percentiles were computed by the importer (table latency_stats; an
// index on sched_latency to stream them out cost about a third of an import, and ORDER BY +
// OFFSET per percentile costs seconds on 10M rows, see notes/sqlite-import.md); without that
// table they are recomputed in one sorted pass. Long waits and long slices come from one scan
// of `states` (both views select from it); everything else reads small tables.
//
// Definitions: schema/analysis.md. Thresholds: `threshold` (long waits, default 10 ms) is a
// parameter; the quantum (long slices) comes from `meta.quantum_ns` when the trace's header had
// it, else 10 ms.

import Foundation

/// The report `spool summary` prints. All durations and times are ns.
public struct Summary: Sendable, Codable {
    /// What was imported.
    public struct TraceInfo: Sendable, Codable {
        public var program: String
        public var maxProcs: Int64
        /// Trace end, ns since trace start (the trace's duration).
        public var durationNs: Int64
        public var events: Int64
        /// Whether the trace had an end frame.
        public var finalized: Bool
        /// The reader's problem (truncation, corruption) with its byte offset, if any.
        public var problem: String?
        public var goroutines: Int64
        public var threads: Int64
    }

    /// Latency statistics of one cause.
    public struct CauseLatency: Sendable, Codable {
        /// latency_causes.code
        public var code: Int64
        public var cause: String
        public var stats: DurationStats
        /// Waits of this cause at or above the threshold.
        public var longWaits: Int
    }

    /// One scheduling-latency row.
    public struct Wait: Sendable, Codable {
        public var g: Int64
        public var readyNs: Int64
        public var startNs: Int64
        public var latencyNs: Int64
        public var cause: String
        public var p: Int64
    }

    /// One slice row.
    public struct Slice: Sendable, Codable {
        public var p: Int64
        public var m: Int64?
        public var g: Int64
        public var startNs: Int64
        public var durationNs: Int64
        public var endReason: String
    }

    /// Scheduling latency (schema/analysis.md, "Scheduling latency").
    public struct Latency: Sendable, Codable {
        public var overall: DurationStats
        /// One entry per cause that occurred, in cause-code order.
        public var byCause: [CauseLatency]
    }

    /// Starvation (schema/analysis.md, "Starvation").
    public struct Starvation: Sendable, Codable {
        /// Threshold for long waits, ns.
        public var thresholdNs: Int64
        /// Runnable waits at or above the threshold.
        public var longWaits: Int
        /// Goroutines with at least one long wait.
        public var starvedGoroutines: Int
        /// The longest waits (up to 10), longest first.
        public var longestWaits: [Wait]
        /// Preemption quantum, ns.
        public var quantumNs: Int64
        /// Slices longer than the quantum.
        public var longSlices: Int
        public var longSlicesTotalNs: Int64
        /// The longest slices (up to 10) over the quantum, longest first.
        public var longestSlices: [Slice]
        /// Preemptions delivered, and how many had a request.
        public var preemptions: Int
        public var preemptionsAsync: Int
        public var preemptionsCooperative: Int
        /// Delay from request to delivery, over preemptions with a request.
        public var preemptDelay: DurationStats
        /// Work-conservation violations (P idle while a G was runnable, >= 1 ms).
        public var idleWhileRunnable: Int
        public var idleWhileRunnableTotalNs: Int64
        public var idleWhileRunnableMaxNs: Int64?
    }

    /// One thread.
    public struct ThreadInfo: Sendable, Codable {
        public var m: Int64
        public var createdNs: Int64?
        public var exitedNs: Int64?
        public var cause: String
    }

    /// Thread growth (schema/analysis.md, "Threads").
    public struct ThreadGrowth: Sendable, Codable {
        /// Most live threads at once, and when that was first reached.
        public var peak: Int64
        public var peakAtNs: Int64?
        /// Live threads at trace end.
        public var atEnd: Int64
        /// Most goroutines in a syscall at once.
        public var peakInSyscall: Int64
        /// Threads seen, and how many of them were created during the trace, by cause.
        public var seen: Int64
        public var createdByCause: [NameCount]
        /// Most live threads in each tenth of the trace (10 values).
        public var timeline: [Int64]
        /// Threads in order of appearance (at most 50).
        public var threads: [ThreadInfo]
    }

    /// Blocking system calls (`syscalls` view; schema/analysis.md, "Syscalls").
    public struct Syscalls: Sendable, Codable {
        /// Calls seen (GoSyscallBegin), and how many had their P handed off (ProcHandoff).
        public var count: Int64
        public var handedOff: Int64
        /// Call durations, end_ns - start_ns (nearest-rank percentiles), ns.
        public var duration: DurationStats
    }

    public struct NameCount: Sendable, Codable {
        public var name: String
        public var count: Int64
    }

    /// Per-goroutine totals (one row of `goroutines`).
    public struct GoroutineTotals: Sendable, Codable {
        public var g: Int64
        public var execNs: Int64
        public var runnableNs: Int64
        public var blockedNs: Int64
        public var syscallNs: Int64
        public var maxLatencyNs: Int64?
    }

    public var trace: TraceInfo
    public var latency: Latency
    public var starvation: Starvation
    public var threads: ThreadGrowth
    public var syscalls: Syscalls
    /// Goroutines that waited longest in total (runnable_ns), up to 10.
    public var topWaiting: [GoroutineTotals]
    /// Goroutines that ran longest in total (exec_ns), up to 10.
    public var topRunning: [GoroutineTotals]
    /// Events the runtime dropped (sum of TraceLost counts).
    public var lostEvents: Int64
    /// Every `import_stats` row.
    public var importStats: [ImportStat]

    /// Default long-wait threshold, ns (10 ms).
    public static let defaultThresholdNs: Int64 = 10_000_000
    /// Default preemption quantum, ns (10 ms).
    public static let defaultQuantumNs: Int64 = 10_000_000
    /// Length of the top lists.
    static let topN = 10

    /// Computes the summary of the database at `dbPath` (opened read-only).
    /// - Parameter thresholdNs: long-wait threshold, ns.
    public static func load(dbPath: String, thresholdNs: Int64 = defaultThresholdNs) throws -> Summary {
        let db = try Database(path: dbPath, mode: .readOnly)
        return try compute(db, thresholdNs: thresholdNs)
    }

    /// Computes the summary from an open database.
    public static func compute(_ db: Database, thresholdNs: Int64 = defaultThresholdNs) throws -> Summary {
        var meta: [String: String] = [:]
        let metaStmt = try db.prepare("SELECT key, value FROM meta")
        while try metaStmt.step() { meta[metaStmt.text(0)] = metaStmt.text(1) }
        let causeNames = try names(db, "latency_causes")
        let sliceReasons = try names(db, "slice_end_reasons")
        let threadCauses = try names(db, "thread_causes")
        let quantum = meta["quantum_ns"].flatMap { Int64($0) } ?? defaultQuantumNs

        let trace = TraceInfo(
            program: meta["program"] ?? "",
            maxProcs: meta["max_procs"].flatMap { Int64($0) } ?? 0,
            durationNs: meta["trace_end_ns"].flatMap { Int64($0) } ?? 0,
            events: meta["events_imported"].flatMap { Int64($0) } ?? 0,
            finalized: meta["finalized"] == "1",
            problem: meta["problem"],
            goroutines: try db.scalarInt("SELECT count(*) FROM goroutines") ?? 0,
            threads: try db.scalarInt("SELECT count(*) FROM threads") ?? 0)

        // Latency percentiles: stored by the importer (latency_stats), else recomputed.
        var latency = try latencyStats(db, causeNames: causeNames)
        // Long waits and long slices: one scan of `states` for both (`sched_latency` and
        // `slices` are selections of it, schema/views.sql), keeping counts and the top N.
        var longest: [Wait] = []
        var starvedGs = Set<Int64>()
        var longByCause: [Int64: Int] = [:]
        var longSlices = 0
        var longSlicesTotal: Int64 = 0
        var longestSlices: [Slice] = []
        let scan = try db.prepare("""
            SELECT state, g, start_ns, end_ns, p, m, reason FROM states
            WHERE (state = 0 AND p IS NOT NULL AND end_ns - start_ns >= ?1)
               OR (state = 1 AND end_ns - start_ns > ?2)
            """)
        scan.bind(thresholdNs, at: 1)
        scan.bind(quantum, at: 2)
        while try scan.step() {
            let g = scan.int64(1), start = scan.int64(2), end = scan.int64(3)
            if scan.int64(0) == GState.runnable.rawValue {
                let cause = scan.int64(6)
                let w = Wait(g: g, readyNs: start, startNs: end, latencyNs: end - start,
                             cause: name(causeNames, cause), p: scan.int64(4))
                starvedGs.insert(g)
                longByCause[cause, default: 0] += 1
                insertTop(w, into: &longest, by: \.latencyNs)
            } else {
                let x = Slice(p: scan.int64(4), m: scan.optionalInt64(5), g: g, startNs: start,
                              durationNs: end - start, endReason: name(sliceReasons, scan.int64(6)))
                longSlices += 1
                longSlicesTotal += x.durationNs
                insertTop(x, into: &longestSlices, by: \.durationNs)
            }
        }
        for i in latency.byCause.indices {
            latency.byCause[i].longWaits = longByCause[latency.byCause[i].code] ?? 0
        }
        let longWaits = longByCause.values.reduce(0, +)

        // Preemptions (small table).
        let preemptions = Int(try db.scalarInt("SELECT count(*) FROM preemptions") ?? 0)
        let async = Int(try db.scalarInt("SELECT count(*) FROM preemptions WHERE kind = 0") ?? 0)
        var delays = RankPicker(count: Int(try db.scalarInt("SELECT count(*) FROM preemptions WHERE delay_ns IS NOT NULL") ?? 0))
        let d = try db.prepare("SELECT delay_ns FROM preemptions WHERE delay_ns IS NOT NULL ORDER BY delay_ns")
        while try d.step() { delays.add(d.int64(0)) }

        // Work conservation (small table).
        let w = try db.prepare("SELECT count(*), coalesce(sum(end_ns - start_ns), 0), max(end_ns - start_ns) FROM idle_while_runnable")
        try w.step()
        let starvation = Starvation(
            thresholdNs: thresholdNs, longWaits: longWaits, starvedGoroutines: starvedGs.count,
            longestWaits: longest, quantumNs: quantum, longSlices: longSlices,
            longSlicesTotalNs: longSlicesTotal, longestSlices: longestSlices,
            preemptions: preemptions, preemptionsAsync: async,
            preemptionsCooperative: preemptions - async, preemptDelay: delays.stats,
            idleWhileRunnable: Int(w.int64(0)), idleWhileRunnableTotalNs: w.int64(1),
            idleWhileRunnableMaxNs: w.optionalInt64(2))

        let threads = try threadGrowth(db, durationNs: trace.durationNs, causes: threadCauses)

        func totals(orderBy column: String) throws -> [GoroutineTotals] {
            let s = try db.prepare("""
                SELECT g, exec_ns, runnable_ns, blocked_ns, syscall_ns, max_latency_ns FROM goroutines
                WHERE \(column) > 0 ORDER BY \(column) DESC, g LIMIT \(topN)
                """)
            var out: [GoroutineTotals] = []
            while try s.step() {
                out.append(GoroutineTotals(g: s.int64(0), execNs: s.int64(1), runnableNs: s.int64(2),
                                           blockedNs: s.int64(3), syscallNs: s.int64(4),
                                           maxLatencyNs: s.optionalInt64(5)))
            }
            return out
        }

        var stats: [ImportStat] = []
        let st = try db.prepare("SELECT name, severity, value, description FROM import_stats ORDER BY rowid")
        while try st.step() {
            stats.append(ImportStat(name: st.text(0), severity: Severity(rawValue: st.text(1)) ?? .warning,
                                    value: st.int64(2), description: st.text(3)))
        }

        var syscallDurations: [Int64] = []
        var handedOff: Int64 = 0
        let sc = try db.prepare("SELECT end_ns - start_ns, handoff FROM syscalls")
        while try sc.step() {
            syscallDurations.append(sc.int64(0))
            if sc.int64(1) != 0 { handedOff += 1 }
        }
        let syscalls = Syscalls(count: Int64(syscallDurations.count), handedOff: handedOff,
                                duration: DurationStats(values: syscallDurations))

        return Summary(
            trace: trace, latency: latency, starvation: starvation, threads: threads, syscalls: syscalls,
            topWaiting: try totals(orderBy: "runnable_ns"), topRunning: try totals(orderBy: "exec_ns"),
            lostEvents: try db.scalarInt("SELECT coalesce(sum(count), 0) FROM lost_events") ?? 0,
            importStats: stats)
    }

    /// Overall and per-cause latency stats: from `latency_stats` when the importer wrote it,
    /// else computed from `sched_latency` in one sorted pass (values arrive in ascending order
    /// overall, hence also within each cause).
    static func latencyStats(_ db: Database, causeNames: [(Int64, String)]) throws -> Latency {
        let hasTable = try db.scalarInt("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'latency_stats'") == 1
        if hasTable, try db.scalarInt("SELECT count(*) FROM latency_stats WHERE cause IS NULL") == 1 {
            var overall = DurationStats()
            var byCause: [CauseLatency] = []
            let s = try db.prepare("""
                SELECT cause, count, p50_ns, p90_ns, p99_ns, p999_ns, max_ns, total_ns FROM latency_stats
                ORDER BY cause IS NOT NULL, cause
                """)
            while try s.step() {
                let stats = DurationStats(count: Int(s.int64(1)), p50Ns: s.optionalInt64(2), p90Ns: s.optionalInt64(3),
                                          p99Ns: s.optionalInt64(4), p999Ns: s.optionalInt64(5),
                                          maxNs: s.optionalInt64(6), totalNs: s.int64(7))
                if s.isNull(0) {
                    overall = stats
                } else {
                    byCause.append(CauseLatency(code: s.int64(0), cause: name(causeNames, s.int64(0)),
                                                stats: stats, longWaits: 0))
                }
            }
            return Latency(overall: overall, byCause: byCause)
        }
        var counts: [Int64: Int] = [:]
        let c = try db.prepare("SELECT cause, count(*) FROM sched_latency GROUP BY cause")
        while try c.step() { counts[c.int64(0)] = Int(c.int64(1)) }
        var pickers = counts.mapValues { RankPicker(count: $0) }
        var overall = RankPicker(count: counts.values.reduce(0, +))
        let s = try db.prepare("SELECT latency_ns, cause FROM sched_latency ORDER BY latency_ns")
        while try s.step() {
            let v = s.int64(0)
            overall.add(v)
            pickers[s.int64(1)]?.add(v)
        }
        let byCause = pickers.keys.sorted().map {
            CauseLatency(code: $0, cause: name(causeNames, $0), stats: pickers[$0]!.stats, longWaits: 0)
        }
        return Latency(overall: overall.stats, byCause: byCause)
    }

    static func threadGrowth(_ db: Database, durationNs: Int64,
                             causes: [(Int64, String)]) throws -> ThreadGrowth {
        var peak: Int64 = 0
        var peakAt: Int64? = nil
        var peakSys: Int64 = 0
        var current: Int64 = 0
        let buckets = 10
        var timeline = Array(repeating: Int64(0), count: buckets)
        var bucket = 0
        let s = try db.prepare("SELECT ts_ns, threads, in_syscall FROM thread_count ORDER BY ts_ns")
        while try s.step() {
            let ts = s.int64(0), n = s.int64(1), sys = s.int64(2)
            let b = durationNs > 0 ? min(buckets - 1, Int(Double(ts) / Double(durationNs) * Double(buckets))) : 0
            // Buckets passed without a change keep the count carried into them.
            while bucket < b {
                bucket += 1
                timeline[bucket] = current
            }
            current = n
            timeline[bucket] = max(timeline[bucket], n)
            if n > peak { peak = n; peakAt = ts }
            peakSys = max(peakSys, sys)
        }
        while bucket < buckets - 1 {
            bucket += 1
            timeline[bucket] = current
        }
        var byCause: [NameCount] = []
        let c = try db.prepare("SELECT cause, count(*) FROM threads WHERE created_ns IS NOT NULL GROUP BY cause ORDER BY cause")
        while try c.step() {
            byCause.append(NameCount(name: c.isNull(0) ? "unknown" : name(causes, c.int64(0)), count: c.int64(1)))
        }
        var list: [ThreadInfo] = []
        let t = try db.prepare("""
            SELECT m, created_ns, exited_ns, cause FROM threads
            ORDER BY coalesce(created_ns, first_seen_ns), m LIMIT 50
            """)
        while try t.step() {
            list.append(ThreadInfo(m: t.int64(0), createdNs: t.optionalInt64(1), exitedNs: t.optionalInt64(2),
                                   cause: t.isNull(3) ? "unknown" : name(causes, t.int64(3))))
        }
        return ThreadGrowth(peak: peak, peakAtNs: peakAt, atEnd: current, peakInSyscall: peakSys,
                            seen: try db.scalarInt("SELECT count(*) FROM threads") ?? 0,
                            createdByCause: byCause, timeline: timeline, threads: list)
    }

    /// Keeps `list` the top `topN` by `key`, largest first (ties: the earlier one first).
    static func insertTop<T>(_ x: T, into list: inout [T], by key: KeyPath<T, Int64>) {
        let v = x[keyPath: key]
        guard list.count < topN || v > list[list.count - 1][keyPath: key] else { return }
        let at = list.firstIndex { $0[keyPath: key] < v } ?? list.count
        list.insert(x, at: at)
        if list.count > topN { list.removeLast() }
    }

    /// The (code, name) rows of a lookup table.
    static func names(_ db: Database, _ table: String) throws -> [(Int64, String)] {
        var out: [(Int64, String)] = []
        let s = try db.prepare("SELECT code, name FROM \(table) ORDER BY code")
        while try s.step() { out.append((s.int64(0), s.text(1))) }
        return out
    }

    static func name(_ table: [(Int64, String)], _ code: Int64) -> String {
        table.first { $0.0 == code }?.1 ?? "code \(code)"
    }
}
