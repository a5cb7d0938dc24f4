// The known answers of a scenario, in the shape of the analyzer's tables (schema/analysis.md):
// plain structs of Int64 and String, one per table row, so that a golden test can
// `SELECT <Row.columns> FROM <Row.table> ORDER BY <Row.orderBy>` and compare element by element.
//
// All times are ns since trace start. A SQL NULL is a Swift `nil`. Rows are sorted by the
// columns in `orderBy`. Large scenarios do not list rows (`rowsListed == false`); their
// `counts`, `totals`, `latency` and the other aggregates are still exact.

import SpoolTraceFormat

/// What made a G runnable: the `cause` column of `sched_latency` (codes as in analysis.md).
public enum LatencyCause: Int64, CaseIterable, Sendable {
    case created = 0, unblocked = 1, timer = 2, netpoll = 3, preempted = 4, yielded = 5
    case syscall = 6, runtime = 7, status = 8

    /// The cause's name in analysis.md (`created`, `unblocked`, …).
    public var name: String {
        switch self {
        case .created: return "created"
        case .unblocked: return "unblocked"
        case .timer: return "timer"
        case .netpoll: return "netpoll"
        case .preempted: return "preempted"
        case .yielded: return "yielded"
        case .syscall: return "syscall"
        case .runtime: return "runtime"
        case .status: return "status"
        }
    }
}

/// One `sched_latency` row: a runnable interval that ended in a GoStart.
public struct SchedLatencyRow: Hashable, Sendable, CustomStringConvertible {
    public static let table = "sched_latency"
    public static let columns = "g, ready_ns, start_ns, latency_ns, cause, p"
    public static let orderBy = "g, ready_ns"
    /// A query whose result rows match these rows field by field, in order.
    public static let query = "SELECT \(columns) FROM \(table) ORDER BY \(orderBy)"
    public var g: Int64
    /// When the G became runnable, ns.
    public var readyNs: Int64
    /// When it started running (GoStart), ns.
    public var startNs: Int64
    /// `startNs - readyNs`, ns.
    public var latencyNs: Int64
    /// `LatencyCause` code.
    public var cause: Int64
    /// The P it started on.
    public var p: Int64
    public init(g: Int64, readyNs: Int64, startNs: Int64, latencyNs: Int64, cause: Int64, p: Int64) {
        self.g = g; self.readyNs = readyNs; self.startNs = startNs; self.latencyNs = latencyNs
        self.cause = cause; self.p = p
    }
    public var description: String { "(\(g), \(readyNs), \(startNs), \(latencyNs), \(cause), \(p))" }
}

/// One `slices` row: a continuous run of G `g` on P `p` and M `m`.
public struct SliceRow: Hashable, Sendable, CustomStringConvertible {
    public static let table = "slices"
    public static let columns = "p, m, g, start_ns, end_ns, end_reason"
    public static let orderBy = "p, start_ns, g"
    /// A query whose result rows match these rows field by field, in order (`end_reason` as its
    /// name, via `slice_end_reasons`).
    public static let query = """
        SELECT p, m, g, start_ns, end_ns, (SELECT name FROM slice_end_reasons WHERE code = end_reason) \
        FROM slices ORDER BY \(orderBy)
        """
    /// The `slice_end_reasons` codes, indexed by code.
    public static let endReasons = ["block", "yield", "preempted", "end", "syscall", "trace_end"]
    public var p: Int64
    public var m: Int64
    public var g: Int64
    /// ns.
    public var startNs: Int64
    /// ns.
    public var endNs: Int64
    /// `block`, `yield`, `preempted`, `end`, `syscall` or `trace_end`.
    public var endReason: String
    public init(p: Int64, m: Int64, g: Int64, startNs: Int64, endNs: Int64, endReason: String) {
        self.p = p; self.m = m; self.g = g; self.startNs = startNs; self.endNs = endNs
        self.endReason = endReason
    }
    /// `endNs - startNs`, ns.
    public var durationNs: Int64 { endNs - startNs }
    /// The `slices.end_reason` code (`slice_end_reasons`).
    public var endReasonCode: Int64 { Int64(Self.endReasons.firstIndex(of: endReason)!) }
    public var description: String { "(\(p), \(m), \(g), \(startNs), \(endNs), \(endReason))" }
}

/// One `syscalls` row.
public struct SyscallRow: Hashable, Sendable, CustomStringConvertible {
    public static let table = "syscalls"
    public static let columns = "g, m, p, start_ns, end_ns, handoff"
    public static let orderBy = "g, start_ns"
    /// A query whose result rows match these rows field by field, in order.
    public static let query = "SELECT \(columns) FROM \(table) ORDER BY \(orderBy)"
    public var g: Int64
    /// The M that made the call.
    public var m: Int64
    /// The P the G held when the call began.
    public var p: Int64
    /// ns.
    public var startNs: Int64
    /// ns.
    public var endNs: Int64
    /// 1 when the P was handed off during the call, else 0.
    public var handoff: Int64
    public init(g: Int64, m: Int64, p: Int64, startNs: Int64, endNs: Int64, handoff: Int64) {
        self.g = g; self.m = m; self.p = p; self.startNs = startNs; self.endNs = endNs
        self.handoff = handoff
    }
    public var description: String { "(\(g), \(m), \(p), \(startNs), \(endNs), \(handoff))" }
}

/// One `preemptions` row.
public struct PreemptionRow: Hashable, Sendable, CustomStringConvertible {
    public static let table = "preemptions"
    public static let columns = "g, p, requested_ns, delivered_ns, kind"
    public static let orderBy = "g, delivered_ns"
    /// A query whose result rows match these rows field by field, in order (`kind` as its name).
    public static let query = """
        SELECT g, p, requested_ns, delivered_ns, (SELECT name FROM preempt_kinds WHERE code = kind) \
        FROM preemptions ORDER BY \(orderBy)
        """
    public var g: Int64
    public var p: Int64
    /// The latest PreemptRequest for the G before delivery, ns; nil (NULL) when there was none.
    public var requestedNs: Int64?
    /// The Preempted event, ns.
    public var deliveredNs: Int64
    /// `async` or `cooperative`.
    public var kind: String
    public init(g: Int64, p: Int64, requestedNs: Int64?, deliveredNs: Int64, kind: String) {
        self.g = g; self.p = p; self.requestedNs = requestedNs; self.deliveredNs = deliveredNs
        self.kind = kind
    }
    /// The `preemptions.kind` code (PreemptKind wire value).
    public var kindCode: Int64 { kind == "async" ? 0 : 1 }
    /// `deliveredNs - requestedNs`, ns (the preemption delay, `delay_ns`), nil without a request.
    public var delayNs: Int64? { requestedNs.map { deliveredNs - $0 } }
    public var description: String {
        "(\(g), \(p), \(requestedNs.map(String.init) ?? "NULL"), \(deliveredNs), \(kind))"
    }
}

/// One `threads` row.
public struct ThreadRow: Hashable, Sendable, CustomStringConvertible {
    public static let table = "threads"
    public static let columns = "m, created_ns, exited_ns, cause, first_seen_ns"
    public static let orderBy = "m"
    /// A query whose result rows match these rows field by field, in order (`cause` as its name).
    public static let query = """
        SELECT m, created_ns, exited_ns, (SELECT name FROM thread_causes WHERE code = cause), first_seen_ns \
        FROM threads ORDER BY m
        """
    public var m: Int64
    /// ThreadCreate time, ns; nil (NULL) for a thread first seen in another event.
    public var createdNs: Int64?
    /// ThreadExit time, ns; nil (NULL) when it did not exit.
    public var exitedNs: Int64?
    /// ThreadCause name (`startup`, `spinning`, `handoff`, `sysmon`, `other`); nil without ThreadCreate.
    public var cause: String?
    /// The first event that shows the thread, ns.
    public var firstSeenNs: Int64
    public init(m: Int64, createdNs: Int64?, exitedNs: Int64?, cause: String?, firstSeenNs: Int64) {
        self.m = m; self.createdNs = createdNs; self.exitedNs = exitedNs; self.cause = cause
        self.firstSeenNs = firstSeenNs
    }
    /// The `threads.cause` code (ThreadCause wire value), nil without ThreadCreate.
    public var causeCode: Int64? {
        cause.flatMap { c in ThreadCause.allCases.first { $0.name == c }.map { Int64($0.rawValue) } }
    }
    public var description: String {
        "(\(m), \(createdNs.map(String.init) ?? "NULL"), \(exitedNs.map(String.init) ?? "NULL"), \(cause ?? "NULL"), \(firstSeenNs))"
    }
}

/// One `goroutines` row: a G's identity and its time in each state, ns.
public struct GoroutineRow: Hashable, Sendable, CustomStringConvertible {
    public static let table = "goroutines"
    public static let columns = "g, parent_g, created_ns, ended_ns, exec_ns, runnable_ns, blocked_ns, syscall_ns, slices, max_latency_ns"
    public static let orderBy = "g"
    /// A query whose result rows match these rows field by field, in order.
    public static let query = "SELECT \(columns) FROM \(table) ORDER BY \(orderBy)"
    public var g: Int64
    /// The creating G; nil (NULL) when created by the runtime (GoCreate parent 0) or already
    /// alive at trace start (GoStatus).
    public var parentG: Int64?
    /// GoCreate time, ns; nil for a G that existed at trace start.
    public var createdNs: Int64?
    /// GoEnd time, ns; nil when it did not end.
    public var endedNs: Int64?
    public var execNs: Int64
    public var runnableNs: Int64
    public var blockedNs: Int64
    public var syscallNs: Int64
    /// Number of its `slices` rows.
    public var slices: Int64
    /// Its longest `sched_latency` row, ns; nil when it has none.
    public var maxLatencyNs: Int64?
    public init(g: Int64, parentG: Int64?, createdNs: Int64?, endedNs: Int64?, execNs: Int64,
                runnableNs: Int64, blockedNs: Int64, syscallNs: Int64, slices: Int64, maxLatencyNs: Int64?) {
        self.g = g; self.parentG = parentG; self.createdNs = createdNs; self.endedNs = endedNs
        self.execNs = execNs; self.runnableNs = runnableNs; self.blockedNs = blockedNs
        self.syscallNs = syscallNs; self.slices = slices; self.maxLatencyNs = maxLatencyNs
    }
    public var description: String {
        let n = { (v: Int64?) in v.map(String.init) ?? "NULL" }
        return "(\(g), \(n(parentG)), \(n(createdNs)), \(n(endedNs)), \(execNs), \(runnableNs), \(blockedNs), \(syscallNs), \(slices), \(n(maxLatencyNs)))"
    }
}

/// One `idle_while_runnable` row: a work-conservation violation of at least 1 ms.
public struct IdleWhileRunnableRow: Hashable, Sendable, CustomStringConvertible {
    public static let table = "idle_while_runnable"
    public static let columns = "start_ns, end_ns, idle_ps, runnable_gs"
    public static let orderBy = "start_ns"
    /// A query whose result rows match these rows field by field, in order.
    public static let query = "SELECT \(columns) FROM \(table) ORDER BY \(orderBy)"
    /// ns.
    public var startNs: Int64
    /// ns.
    public var endNs: Int64
    /// Most Ps idle at once during the interval.
    public var idlePs: Int64
    /// Most Gs runnable at once during the interval.
    public var runnableGs: Int64
    public init(startNs: Int64, endNs: Int64, idlePs: Int64, runnableGs: Int64) {
        self.startNs = startNs; self.endNs = endNs; self.idlePs = idlePs; self.runnableGs = runnableGs
    }
    public var description: String { "(\(startNs), \(endNs), \(idlePs), \(runnableGs))" }
}

/// One `states` row: an interval of one G in one state (analysis.md, "G states").
public struct StateRow: Hashable, Sendable, CustomStringConvertible {
    public static let table = "states"
    public static let columns = "g, state, start_ns, end_ns, p, m, reason"
    public static let orderBy = "g, start_ns, end_ns"
    /// A query whose result rows match these rows field by field, in order.
    public static let query = "SELECT \(columns) FROM \(table) ORDER BY \(orderBy)"
    public var g: Int64
    /// 0 runnable, 1 running, 2 blocked, 3 syscall (`g_states`).
    public var state: Int64
    /// ns.
    public var startNs: Int64
    /// ns (the trace end for an interval still open).
    public var endNs: Int64
    /// running: the P it ran on; syscall: the P it held at GoSyscallBegin; runnable: the P it
    /// then started on (nil when it did not start); blocked: nil.
    public var p: Int64?
    /// running / syscall: the M; else nil.
    public var m: Int64?
    /// blocked: BlockReason code (nil for a G blocked at trace start); runnable: LatencyCause
    /// code; running: slice end reason code (`slice_end_reasons`); syscall: 1 when the P was
    /// handed off during the call, else 0.
    public var reason: Int64?
    public init(g: Int64, state: Int64, startNs: Int64, endNs: Int64, p: Int64?, m: Int64?, reason: Int64?) {
        self.g = g; self.state = state; self.startNs = startNs; self.endNs = endNs
        self.p = p; self.m = m; self.reason = reason
    }
    public var description: String {
        let n = { (v: Int64?) in v.map(String.init) ?? "NULL" }
        return "(\(g), \(state), \(startNs), \(endNs), \(n(p)), \(n(m)), \(n(reason)))"
    }
}

/// One `thread_count` row: the live threads and the Gs in a syscall after all events at `tsNs`,
/// written when either differs from the previous row (the first row: from 0 and 0).
public struct ThreadCountRow: Hashable, Sendable, CustomStringConvertible {
    public static let table = "thread_count"
    public static let columns = "ts_ns, threads, in_syscall"
    public static let orderBy = "ts_ns"
    /// A query whose result rows match these rows field by field, in order.
    public static let query = "SELECT \(columns) FROM \(table) ORDER BY \(orderBy)"
    /// ns.
    public var tsNs: Int64
    public var threads: Int64
    public var inSyscall: Int64
    public init(tsNs: Int64, threads: Int64, inSyscall: Int64) {
        self.tsNs = tsNs; self.threads = threads; self.inSyscall = inSyscall
    }
    public var description: String { "(\(tsNs), \(threads), \(inSyscall))" }
}

/// Latency summary of one cause (or of all, `cause == nil`): nearest-rank percentiles, ns.
public struct LatencySummary: Hashable, Sendable, CustomStringConvertible {
    /// `LatencyCause` code; nil for the overall summary.
    public var cause: Int64?
    public var count: Int64
    public var p50Ns: Int64
    public var p90Ns: Int64
    public var p99Ns: Int64
    public var p999Ns: Int64
    public var maxNs: Int64
    public init(cause: Int64?, count: Int64, p50Ns: Int64, p90Ns: Int64, p99Ns: Int64, p999Ns: Int64, maxNs: Int64) {
        self.cause = cause; self.count = count; self.p50Ns = p50Ns; self.p90Ns = p90Ns
        self.p99Ns = p99Ns; self.p999Ns = p999Ns; self.maxNs = maxNs
    }
    public var description: String {
        let name = cause.flatMap { LatencyCause(rawValue: $0)?.name } ?? "all"
        return "\(name): n=\(count) p50=\(p50Ns) p90=\(p90Ns) p99=\(p99Ns) p99.9=\(p999Ns) max=\(maxNs)"
    }

    /// Nearest-rank summary of a multiset given as value → occurrences (analysis.md,
    /// "Percentiles": the p-th percentile is v[ceil(p/100 × n)], v[1] when that rank is 0).
    /// Nil when empty.
    public static func nearestRank(cause: Int64?, histogram: [Int64: Int64]) -> LatencySummary? {
        let values = histogram.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        let n = values.reduce(0) { $0 + $1.value }
        guard n > 0 else { return nil }
        // rank = ceil(perMille × n / 1000), exact in integers.
        func at(perMille: Int64) -> Int64 {
            let rank = max(1, (perMille * n + 999) / 1000)
            var seen: Int64 = 0
            for (v, c) in values {
                seen += c
                if seen >= rank { return v }
            }
            return values.last!.key
        }
        return LatencySummary(cause: cause, count: n, p50Ns: at(perMille: 500), p90Ns: at(perMille: 900),
                              p99Ns: at(perMille: 990), p999Ns: at(perMille: 999), maxNs: values.last!.key)
    }
}

/// How many rows each table has.
public struct RowCounts: Hashable, Sendable {
    public var schedLatency: Int64 = 0
    public var slices: Int64 = 0
    public var syscalls: Int64 = 0
    public var preemptions: Int64 = 0
    public var threads: Int64 = 0
    public var goroutines: Int64 = 0
    public var idleWhileRunnable: Int64 = 0
    public var threadCount: Int64 = 0
    public var states: Int64 = 0
    public init() {}
}

/// Sums over all `goroutines` rows, ns.
public struct GoroutineTotals: Hashable, Sendable {
    public var execNs: Int64 = 0
    public var runnableNs: Int64 = 0
    public var blockedNs: Int64 = 0
    public var syscallNs: Int64 = 0
    /// Sum of `sched_latency.latency_ns`.
    public var latencyNs: Int64 = 0
    public init() {}
}

/// What a reader must report for a cut or damaged trace: it keeps the complete batches before
/// `problemOffset` and nothing after (also when valid frames follow a damaged one).
public struct Truncation: Hashable, Sendable {
    /// File size in bytes.
    public var fileSize: Int
    /// Bytes of the header and the complete batches before the problem.
    public var validBytes: Int
    /// Byte offset the reader's error names: the start of the frame it could not read.
    public var problemOffset: Int
    /// The reader's `TraceError.Kind` raw value: `truncated` or `checksumMismatch`.
    public var problem: String
    /// Complete batch frames before the problem (all of them are imported).
    public var completeBatches: Int
    /// Events in those batches.
    public var completeEvents: Int
}

/// The known answers of a scenario (see the file comment).
public struct Expected: Sendable {
    /// Long-wait threshold of `spool summary` by default: 10 ms, in ns.
    public static let longWaitThresholdNs: Int64 = 10_000_000
    /// Preemption quantum for long slices: 10 ms, in ns.
    public static let quantumNs: Int64 = 10_000_000

    /// Header clock frequency, ticks per second.
    public var ticksPerSecond: Int64
    /// Header maxProcs.
    public var maxProcs: Int64
    /// The end frame's timestamp, ns; nil when the trace has no end frame.
    public var traceEndNs: Int64?
    /// Timestamp of the last event in the complete batches, ns.
    public var lastEventNs: Int64
    /// Events in the complete batches.
    public var eventCount: Int64
    /// Complete batch frames.
    public var batchCount: Int64
    /// Whether the row arrays below are filled (false for `large`: use the aggregates).
    public var rowsListed: Bool

    public var schedLatency: [SchedLatencyRow] = []
    public var slices: [SliceRow] = []
    public var syscalls: [SyscallRow] = []
    public var preemptions: [PreemptionRow] = []
    public var threads: [ThreadRow] = []
    public var goroutines: [GoroutineRow] = []
    public var idleWhileRunnable: [IdleWhileRunnableRow] = []
    public var threadCount: [ThreadCountRow] = []
    public var states: [StateRow] = []

    /// Row counts of every table above (also when `rowsListed` is false).
    public var counts = RowCounts()
    /// Sums of the `goroutines` columns and of `sched_latency.latency_ns`.
    public var totals = GoroutineTotals()
    /// Latency summaries: overall first (`cause == nil`), then one per cause present, by code.
    public var latency: [LatencySummary] = []
    /// `sched_latency` rows with `latency_ns >= longWaitThresholdNs` (empty when rows are not listed).
    public var longWaits: [SchedLatencyRow] = []
    public var longWaitCount: Int64 = 0
    /// `slices` rows longer than `quantumNs` (empty when rows are not listed).
    public var longSlices: [SliceRow] = []
    public var longSliceCount: Int64 = 0
    /// Maximum of `thread_count.threads`.
    public var peakThreads: Int64 = 0
    /// Sum of all TraceLost counts.
    public var lostEvents: Int64 = 0
    /// Batches missing from owner sequences (gaps), the importer's `batches_missing`.
    public var batchesMissing: Int64 = 0
    /// Events the merge took before an earlier-timestamped head (`import_stats.order_skew`).
    public var orderSkews: Int64 = 0
    /// Events the merge took although their seq was not ready (`import_stats.seq_mismatch`):
    /// 0 in every scenario (their seq numbers are complete).
    public var seqMismatches: Int64 = 0
    /// Runnable intervals still open at trace end (`import_stats.runnable_at_trace_end`).
    public var runnableAtTraceEnd: Int64 = 0
    /// For a cut trace: what the reader must keep and report. Nil for a complete trace.
    public var truncation: Truncation?

    /// The summary of one cause (nil: overall), if any row has it.
    public func latency(cause: LatencyCause?) -> LatencySummary? {
        latency.first { $0.cause == cause?.rawValue }
    }
}
