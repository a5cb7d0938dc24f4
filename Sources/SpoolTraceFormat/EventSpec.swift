// The event table: one row per event kind, the single Swift source of truth.
//
// `schema/trace-format.md` has the same table in prose and `schema/tables.sql` the same kinds in
// the `event_kinds` table; `EventSpecSyncTests` fails when the three disagree. If you add an event
// kind, update all three (Go's tracev2 asks the same and relies on review; we rely on the test).
//
// Naming: Begin/End are time ranges (syscalls); Start/Stop/Create/End/Block/Unblock are lifecycle
// transitions of a G or P.

/// The kind byte of an event. Raw values are the wire codes.
public enum EventKind: UInt8, CaseIterable, Sendable {
    case goCreate = 1             // [g, parent]
    case goStart = 2              // [g, seq]
    case goStop = 3               // [reason: StopReason]
    case goBlock = 4              // [reason: BlockReason]
    case goUnblock = 5            // [g, seq]  (by the G running on this P)
    case goWake = 6               // [g, seq, source: WakeSource]
    case netpollReady = 7         // [g, seq]
    case goEnd = 8                // []
    case goSyscallBegin = 9       // []
    case goSyscallEnd = 10        // []
    case goSyscallEndBlocked = 11 // [g, seq]
    case procStart = 12           // [m]
    case procStop = 13            // []
    case procHandoff = 14         // [fromM, toM]
    case preemptRequest = 15      // [g, p]
    case preempted = 16           // [kind: PreemptKind]
    case threadCreate = 17        // [m, cause: ThreadCause]
    case threadExit = 18          // [m]
    case steal = 19               // [fromP, count]
    case traceLost = 20           // [count]
    case goStatus = 21            // [g, seq, status: GoStatusCode]

    /// The highest argument count of any kind; an event is at most
    /// `1 + 10 * (1 + maxArgs)` bytes (`EventEncoder.maxEventSize`).
    public static let maxArgs = 3

    /// The wire name, as in `schema/trace-format.md` and the `event_kinds` SQL table.
    public var name: String { Self.specs[Int(rawValue)].name }

    /// Argument names, in wire order.
    public var argNames: [String] { Self.specs[Int(rawValue)].args }

    /// Number of varint arguments after the timestamp delta.
    @inlinable public var argCount: Int {
        switch self {
        case .goEnd, .goSyscallBegin, .goSyscallEnd, .procStop: return 0
        case .goStop, .goBlock, .procStart, .preempted, .threadExit, .traceLost: return 1
        case .goCreate, .goStart, .goUnblock, .netpollReady, .goSyscallEndBlocked, .procHandoff,
             .preemptRequest, .threadCreate, .steal: return 2
        case .goWake, .goStatus: return 3
        }
    }

    /// Which batch owner kinds may contain the event.
    public var allowedIn: OwnerKindSet { Self.specs[Int(rawValue)].owners }

    /// Index of the `seq` argument, if the kind carries one (see "Ordering" in the spec).
    @inlinable public var seqArgIndex: Int? {
        switch self {
        case .goStart, .goUnblock, .goWake, .netpollReady, .goSyscallEndBlocked, .goStatus: return 1
        default: return nil
        }
    }

    /// The enum-typed argument of the kind, if any (every kind has at most one): its index,
    /// its enum and the number of values (valid values are `0 ..< count`). Allocation-free:
    /// the reader checks it for every event.
    @inlinable public var enumArg: (index: Int, type: TraceEnum, count: UInt64)? {
        switch self {
        case .goStop: return (0, .stopReason, UInt64(StopReason.allCases.count))
        case .goBlock: return (0, .blockReason, UInt64(BlockReason.allCases.count))
        case .goWake: return (2, .wakeSource, UInt64(WakeSource.allCases.count))
        case .preempted: return (0, .preemptKind, UInt64(PreemptKind.allCases.count))
        case .threadCreate: return (1, .threadCause, UInt64(ThreadCause.allCases.count))
        case .goStatus: return (2, .goStatusCode, UInt64(GoStatusCode.allCases.count))
        default: return nil
        }
    }

    /// For each argument that is an enum, the enum (argument index → type).
    public var enumArgs: [Int: TraceEnum] {
        switch self {
        case .goStop: return [0: .stopReason]
        case .goBlock: return [0: .blockReason]
        case .goWake: return [2: .wakeSource]
        case .preempted: return [0: .preemptKind]
        case .threadCreate: return [1: .threadCause]
        case .goStatus: return [2: .goStatusCode]
        default: return [:]
        }
    }

    private struct Spec {
        let name: String
        let args: [String]
        let owners: OwnerKindSet
    }

    // Indexed by raw value; row 0 is the invalid kind.
    private static let specs: [Spec] = [
        Spec(name: "invalid", args: [], owners: []),
        Spec(name: "GoCreate", args: ["g", "parent"], owners: [.p, .m]),
        Spec(name: "GoStart", args: ["g", "seq"], owners: [.p]),
        Spec(name: "GoStop", args: ["reason"], owners: [.p]),
        Spec(name: "GoBlock", args: ["reason"], owners: [.p]),
        Spec(name: "GoUnblock", args: ["g", "seq"], owners: [.p]),
        Spec(name: "GoWake", args: ["g", "seq", "source"], owners: [.p, .m]),
        Spec(name: "NetpollReady", args: ["g", "seq"], owners: [.p, .m]),
        Spec(name: "GoEnd", args: [], owners: [.p]),
        Spec(name: "GoSyscallBegin", args: [], owners: [.p]),
        Spec(name: "GoSyscallEnd", args: [], owners: [.p]),
        Spec(name: "GoSyscallEndBlocked", args: ["g", "seq"], owners: [.m]),
        Spec(name: "ProcStart", args: ["m"], owners: [.p]),
        Spec(name: "ProcStop", args: [], owners: [.p]),
        Spec(name: "ProcHandoff", args: ["fromM", "toM"], owners: [.p]),
        Spec(name: "PreemptRequest", args: ["g", "p"], owners: [.p, .m]),
        Spec(name: "Preempted", args: ["kind"], owners: [.p]),
        Spec(name: "ThreadCreate", args: ["m", "cause"], owners: [.p, .m]),
        Spec(name: "ThreadExit", args: ["m"], owners: [.p, .m]),
        Spec(name: "Steal", args: ["fromP", "count"], owners: [.p]),
        Spec(name: "TraceLost", args: ["count"], owners: [.p, .m]),
        Spec(name: "GoStatus", args: ["g", "seq", "status"], owners: [.p, .m]),
    ]
}

/// A set of batch owner kinds.
public struct OwnerKindSet: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let p = OwnerKindSet(rawValue: 1)
    public static let m = OwnerKindSet(rawValue: 2)
}

/// The enums that event arguments use, with their wire values and names.
public enum TraceEnum: String, CaseIterable, Sendable {
    case stopReason = "StopReason"
    case blockReason = "BlockReason"
    case wakeSource = "WakeSource"
    case preemptKind = "PreemptKind"
    case threadCause = "ThreadCause"
    case goStatusCode = "GoStatusCode"

    /// Value names, indexed by wire value.
    public var names: [String] {
        switch self {
        case .stopReason: return StopReason.allCases.map(\.name)
        case .blockReason: return BlockReason.allCases.map(\.name)
        case .wakeSource: return WakeSource.allCases.map(\.name)
        case .preemptKind: return PreemptKind.allCases.map(\.name)
        case .threadCause: return ThreadCause.allCases.map(\.name)
        case .goStatusCode: return GoStatusCode.allCases.map(\.name)
        }
    }
}

/// Why a running G stopped while staying runnable (`GoStop`).
public enum StopReason: UInt8, CaseIterable, Sendable {
    case yield = 0, preempted = 1
    public var name: String { self == .yield ? "yield" : "preempted" }
}

/// Why a running G blocked (`GoBlock`).
public enum BlockReason: UInt8, CaseIterable, Sendable {
    case other = 0, chanSend = 1, chanRecv = 2, select = 3, mutex = 4, waitGroup = 5, sleep = 6
    case netRead = 7, netWrite = 8
    public var name: String {
        switch self {
        case .other: return "other"
        case .chanSend: return "chan_send"
        case .chanRecv: return "chan_recv"
        case .select: return "select"
        case .mutex: return "mutex"
        case .waitGroup: return "waitgroup"
        case .sleep: return "sleep"
        case .netRead: return "net_read"
        case .netWrite: return "net_write"
        }
    }
}

/// What in the runtime made a blocked G runnable (`GoWake`).
public enum WakeSource: UInt8, CaseIterable, Sendable {
    case runtime = 0, timer = 1
    public var name: String { self == .runtime ? "runtime" : "timer" }
}

/// How a preemption was delivered (`Preempted`).
public enum PreemptKind: UInt8, CaseIterable, Sendable {
    case async = 0, cooperative = 1
    public var name: String { self == .async ? "async" : "cooperative" }
}

/// Why a thread (M) was created (`ThreadCreate`).
public enum ThreadCause: UInt8, CaseIterable, Sendable {
    case startup = 0, spinning = 1, handoff = 2, sysmon = 3, other = 4
    public var name: String {
        switch self {
        case .startup: return "startup"
        case .spinning: return "spinning"
        case .handoff: return "handoff"
        case .sysmon: return "sysmon"
        case .other: return "other"
        }
    }
}

/// The state of a G when tracing started (`GoStatus`).
public enum GoStatusCode: UInt8, CaseIterable, Sendable {
    case runnable = 0, running = 1, blocked = 2, syscall = 3
    public var name: String {
        switch self {
        case .runnable: return "runnable"
        case .running: return "running"
        case .blocked: return "blocked"
        case .syscall: return "syscall"
        }
    }
}
