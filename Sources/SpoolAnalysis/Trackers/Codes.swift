// Integer codes of the derived tables, mirroring the lookup tables of schema/tables.sql
// (`g_states`, `latency_causes`, `slice_end_reasons`). `SchemaCodesTests` checks that the
// names here equal the rows there.

/// A goroutine state (`states.state`, `g_states`). Values equal the format's GoStatusCode.
public enum GState: Int64, CaseIterable, Sendable {
    case runnable = 0, running = 1, blocked = 2, syscall = 3

    /// The name in `g_states`.
    public var name: String {
        switch self {
        case .runnable: return "runnable"
        case .running: return "running"
        case .blocked: return "blocked"
        case .syscall: return "syscall"
        }
    }
}

/// What made a goroutine runnable: the cause of its scheduling latency
/// (`sched_latency.cause`, `latency_causes`; schema/analysis.md "Scheduling latency").
public enum LatencyCause: Int64, CaseIterable, Sendable, Codable {
    case created = 0, unblocked = 1, timer = 2, netpoll = 3, preempted = 4, yielded = 5
    case syscall = 6, runtime = 7, status = 8

    /// The name in `latency_causes`.
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

/// How a running slice ended (`slices.end_reason`, `slice_end_reasons`).
public enum SliceEndReason: Int64, CaseIterable, Sendable {
    case block = 0, yield = 1, preempted = 2, end = 3, syscall = 4, traceEnd = 5

    /// The name in `slice_end_reasons`.
    public var name: String {
        switch self {
        case .block: return "block"
        case .yield: return "yield"
        case .preempted: return "preempted"
        case .end: return "end"
        case .syscall: return "syscall"
        case .traceEnd: return "trace_end"
        }
    }
}
