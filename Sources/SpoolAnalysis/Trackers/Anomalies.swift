// Semantic oddities found while tracking, counted rather than thrown (Perfetto's `stats`).
//
// The hot loop only increments an array slot indexed by `Anomaly.rawValue`: no strings, no
// dictionary. Names, severities and descriptions are written to `import_stats` once at the end.

/// How bad an `import_stats` entry is.
public enum Severity: String, Sendable, Codable {
    /// A fact about the trace (counts, normal end-of-trace conditions).
    case info
    /// The trace contradicts itself; the importer repaired or skipped something.
    case warning
    /// Data was lost or unusable (dropped events, truncation, corruption).
    case error
}

/// Everything the trackers count. Raw values index `AnomalyCounts`.
enum Anomaly: Int, CaseIterable {
    case unknownG
    case startNotRunnable
    case startOnBusyP
    case wakeNotBlocked
    case noRunningG
    case syscallEndNotInSyscall
    case goCreateExisting
    case goStatusExisting
    case procStartMissing
    case procStartBusy
    case procStopWithG
    case handoffWithoutSyscall
    case threadCreateDuplicate
    case threadCreatedAfterUse
    case threadUsedAfterExit
    case preemptRequestUnknownG
    case preemptRequestUndelivered
    case runnableAtTraceEnd
    case syscallAtTraceEnd
    case eventsLost
    case pOutOfRange

    var name: String {
        switch self {
        case .unknownG: return "unknown_g"
        case .startNotRunnable: return "start_not_runnable"
        case .startOnBusyP: return "start_on_busy_p"
        case .wakeNotBlocked: return "wake_not_blocked"
        case .noRunningG: return "no_running_g"
        case .syscallEndNotInSyscall: return "syscall_end_not_in_syscall"
        case .goCreateExisting: return "go_create_existing"
        case .goStatusExisting: return "go_status_existing"
        case .procStartMissing: return "proc_start_missing"
        case .procStartBusy: return "proc_start_busy"
        case .procStopWithG: return "proc_stop_with_g"
        case .handoffWithoutSyscall: return "handoff_without_syscall"
        case .threadCreateDuplicate: return "thread_create_duplicate"
        case .threadCreatedAfterUse: return "thread_created_after_use"
        case .threadUsedAfterExit: return "thread_used_after_exit"
        case .preemptRequestUnknownG: return "preempt_request_unknown_g"
        case .preemptRequestUndelivered: return "preempt_request_undelivered"
        case .runnableAtTraceEnd: return "runnable_at_trace_end"
        case .syscallAtTraceEnd: return "syscall_at_trace_end"
        case .eventsLost: return "events_lost"
        case .pOutOfRange: return "p_out_of_range"
        }
    }

    var severity: Severity {
        switch self {
        case .threadCreatedAfterUse, .procStartMissing, .preemptRequestUndelivered,
             .runnableAtTraceEnd, .syscallAtTraceEnd:
            return .info
        case .eventsLost, .pOutOfRange:
            return .error
        default:
            return .warning
        }
    }

    var description: String {
        switch self {
        case .unknownG: return "events naming a goroutine never seen created or in a GoStatus (created implicitly)"
        case .startNotRunnable: return "GoStart of a goroutine that was not runnable (no latency row)"
        case .startOnBusyP: return "GoStart on a P whose previous goroutine never left it"
        case .wakeNotBlocked: return "GoUnblock/GoWake/NetpollReady of a goroutine that was not blocked (ignored)"
        case .noRunningG: return "GoStop/GoBlock/GoEnd/GoSyscallBegin/GoSyscallEnd/Preempted on a P with no goroutine on it (ignored)"
        case .syscallEndNotInSyscall: return "GoSyscallEndBlocked of a goroutine not in a syscall (ignored)"
        case .goCreateExisting: return "GoCreate of a goroutine id that was still alive (the old one was closed)"
        case .goStatusExisting: return "GoStatus of a goroutine already seen (its state was replaced)"
        case .procStartMissing: return "goroutines started on a P that had no ProcStart (P taken as started)"
        case .procStartBusy: return "ProcStart on a P already held by another M"
        case .procStopWithG: return "ProcStop of a P that still had a goroutine on it"
        case .handoffWithoutSyscall: return "ProcHandoff of a P whose goroutine was not in a syscall"
        case .threadCreateDuplicate: return "ThreadCreate of a thread already created"
        case .threadCreatedAfterUse: return "ThreadCreate of a thread seen before in other events"
        case .threadUsedAfterExit: return "events of a thread after its ThreadExit"
        case .preemptRequestUnknownG: return "PreemptRequest for a goroutine not alive (ignored)"
        case .preemptRequestUndelivered: return "PreemptRequests not followed by a Preempted before the goroutine stopped running"
        case .runnableAtTraceEnd: return "goroutines runnable at trace end (no sched_latency row for that wait)"
        case .syscallAtTraceEnd: return "goroutines still in a syscall at trace end (syscalls row ends at trace end)"
        case .eventsLost: return "events the runtime dropped (sum of TraceLost counts)"
        case .pOutOfRange: return "events in batches of P ids of 65536 or more (not tracked)"
        }
    }
}

/// Counters for every `Anomaly`.
struct AnomalyCounts {
    private(set) var values = [Int64](repeating: 0, count: Anomaly.allCases.count)

    @inline(__always)
    mutating func count(_ a: Anomaly, _ n: Int64 = 1) { values[a.rawValue] &+= n }

    subscript(_ a: Anomaly) -> Int64 { values[a.rawValue] }
}
