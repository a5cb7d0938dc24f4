// ScenarioModel: a scenario's script runs against this model, which writes each scheduling
// action as trace events (through `TraceBuilder`) and, at the same moment, records what that
// action means in the analyzer's tables (schema/analysis.md). The scenario decides every time
// stamp, so the answers are known by construction: when the script says "G 3 starts on P 1 at
// 12 000 ns" after it said "G 3 was unblocked at 10 000 ns", the model writes a GoStart and
// appends the sched_latency row (3, 10 000, 12 000, 2 000, unblocked, 1). The bookkeeping is a
// small simulation driven by the script's intent (which G runs where, since when); it never
// reads events back, so a mistake in the importer's event handling cannot leak into the
// answers. The small scenarios also state their key numbers in comments next to each action,
// so a reviewer can check them by hand.
//
// Rejected: deriving the answers by running a second analyzer over the generated events (it
// would share the importer's blind spots), and writing every answer as a literal (hundreds of
// rows per scenario, unreviewable, and wrong the moment a scenario changes).
//
// Invariant "Script time order": actions are given in non-decreasing time order across all
// owners (checked), so interval bookkeeping (per-G state time, idle-while-runnable) is a
// running sum. Scenarios avoid giving two causally related actions of different owners the
// same timestamp, so the reader's merge order (ties: P before M) cannot disagree with the
// script's order.
//
// Every action checks its own precondition (a G must be runnable to start, a P must run a G to
// block it, …): a scenario that breaks the scheduler's rules fails loudly at generation time
// instead of producing a trace whose answers are wrong.

import SpoolTraceFormat

final class ScenarioModel {
    let builder: TraceBuilder
    let maxProcs: Int
    /// Whether rows are kept (false for `large`: only aggregates).
    let listRows: Bool
    /// Time of the latest action, ns.
    private(set) var now: Int64 = 0

    private enum State { case runnable, running, blocked, syscall, dead }

    private struct GInfo {
        var parent: Int64?
        var created: Int64?
        var ended: Int64?
        var state: State
        var since: Int64
        var exec: Int64 = 0
        var runnable: Int64 = 0
        var blocked: Int64 = 0
        var syscall: Int64 = 0
        /// Cause of the current runnable interval.
        var cause: LatencyCause = .created
        /// The P it runs on (running) or whose syscall it is in before a handoff (syscall).
        var p: Int = -1
        /// The M of its current syscall.
        var syscallM: Int64 = 0
        var syscallStart: Int64 = 0
        var syscallP: Int = -1
        var syscallHandoff = false
        /// Time of the latest PreemptRequest not yet delivered.
        var request: Int64?
        var slices: Int64 = 0
        var maxLatency: Int64?
        /// `states` columns of the current interval.
        var stateP: Int64?
        var stateM: Int64?
        var stateReason: Int64?
    }

    private struct PInfo {
        /// The M holding the P; nil when stopped (or never started, or handed to nobody).
        var m: Int64?
        /// The G running on it.
        var g: Int64?
        /// The G in a syscall on it, P still attached.
        var syscallG: Int64?
        var sliceStart: Int64 = 0
        var sliceM: Int64 = 0
        var idle: Bool { g == nil && syscallG == nil }
    }

    private var gs: [Int64: GInfo] = [:]
    private var ps: [PInfo]
    private var threadRows: [Int64: ThreadRow] = [:]
    private var liveThreads: Int64 = 0
    private var peakThreads: Int64 = 0

    private var latencyRows: [SchedLatencyRow] = []
    private var histograms: [Int64: [Int64: Int64]] = [:]
    private var slices: [SliceRow] = []
    private var syscalls: [SyscallRow] = []
    private var preemptions: [PreemptionRow] = []
    private var goroutineRows: [GoroutineRow] = []
    private var counts = RowCounts()
    private var totals = GoroutineTotals()
    private var longWaits: [SchedLatencyRow] = []
    private var longWaitCount: Int64 = 0
    private var longSlices: [SliceRow] = []
    private var longSliceCount: Int64 = 0
    private var lostEvents: Int64 = 0
    private var batchesMissing: Int64 = 0
    private var orderSkews: Int64 = 0
    private let quantumNs: Int64

    // Idle-while-runnable bookkeeping (analysis.md, "Work-conservation violations").
    private var runnableCount = 0
    private var inSyscall: Int64 = 0
    private var lastThreadCount: (threads: Int64, inSyscall: Int64) = (0, 0)
    private var threadCountRows: [ThreadCountRow] = []
    private var stateRows: [StateRow] = []
    private var idleCount: Int
    private var activeSince: Int64?
    private var maxIdle = 0
    private var maxRunnable = 0
    private var idleRows: [IdleWhileRunnableRow] = []

    init(builder: TraceBuilder, listRows: Bool = true, quantumNs: Int64 = Expected.quantumNs) {
        self.builder = builder
        self.maxProcs = Int(builder.header.maxProcs)
        self.listRows = listRows
        self.quantumNs = quantumNs
        ps = Array(repeating: PInfo(), count: maxProcs)
        idleCount = maxProcs
    }

    // MARK: Bookkeeping

    /// Moves the clock to `t`. When time moves on, the idle-while-runnable condition is
    /// evaluated on the state after all actions at the previous time stamp (analysis.md: a G
    /// stopping and another starting at the same instant leaves no idle P).
    private func advance(_ t: Int64) {
        precondition(t >= now, "script goes back in time: \(t) < \(now)")
        if t > now { settle() }
        now = t
    }

    /// Evaluates the state after all actions at `now`: "some P idle and some G runnable", and
    /// the thread count series.
    private func settle() {
        if liveThreads != lastThreadCount.threads || inSyscall != lastThreadCount.inSyscall {
            lastThreadCount = (liveThreads, inSyscall)
            counts.threadCount += 1
            if listRows { threadCountRows.append(ThreadCountRow(tsNs: now, threads: liveThreads, inSyscall: inSyscall)) }
        }
        let on = idleCount > 0 && runnableCount > 0
        if let start = activeSince {
            if on {
                maxIdle = max(maxIdle, idleCount)
                maxRunnable = max(maxRunnable, runnableCount)
            } else {
                closeIdle(start: start, end: now)
            }
        } else if on {
            activeSince = now
            maxIdle = idleCount
            maxRunnable = runnableCount
        }
    }

    private func closeIdle(start: Int64, end: Int64) {
        activeSince = nil
        if end - start >= 1_000_000 {
            counts.idleWhileRunnable += 1
            idleRows.append(IdleWhileRunnableRow(startNs: start, endNs: end, idlePs: Int64(maxIdle),
                                                 runnableGs: Int64(maxRunnable)))
        }
    }

    private func setPIdle(_ p: Int, _ update: (inout PInfo) -> Void) {
        let was = ps[p].idle
        update(&ps[p])
        let isIdle = ps[p].idle
        if was != isIdle { idleCount += isIdle ? 1 : -1 }
    }

    /// Moves G `g` to `state` at `now`, adding the time spent in the old state to its totals
    /// and writing the old interval's `states` row; `p`, `m`, `reason` are the new interval's.
    private func transition(_ g: Int64, to state: State, p: Int64? = nil, m: Int64? = nil, reason: Int64? = nil) {
        guard var info = gs[g] else { preconditionFailure("unknown G \(g)") }
        let d = now - info.since
        counts.states += 1
        if listRows {
            stateRows.append(StateRow(g: g, state: Self.stateCode(info.state), startNs: info.since, endNs: now,
                                      p: info.stateP, m: info.stateM, reason: info.stateReason))
        }
        info.stateP = p
        info.stateM = m
        info.stateReason = reason
        switch info.state {
        case .runnable: info.runnable += d; runnableCount -= 1
        case .running: info.exec += d
        case .blocked: info.blocked += d
        case .syscall: info.syscall += d; inSyscall -= 1
        case .dead: preconditionFailure("G \(g) is dead")
        }
        if state == .runnable { runnableCount += 1 }
        if state == .syscall { inSyscall += 1 }
        info.state = state
        info.since = now
        gs[g] = info
    }

    private static func stateCode(_ s: State) -> Int64 {
        switch s {
        case .runnable: return 0
        case .running: return 1
        case .blocked: return 2
        case .syscall: return 3
        case .dead: preconditionFailure("no state row for a dead G")
        }
    }

    private func state(_ g: Int64) -> State {
        guard let info = gs[g] else { preconditionFailure("unknown G \(g)") }
        return info.state
    }

    private func becomeRunnable(_ g: Int64, cause: LatencyCause) {
        transition(g, to: .runnable, reason: cause.rawValue)
        gs[g]!.cause = cause
    }

    private func noteM(_ m: Int64) {
        precondition(m >= 1)
        if threadRows[m] == nil {
            threadRows[m] = ThreadRow(m: m, createdNs: nil, exitedNs: nil, cause: nil, firstSeenNs: now)
            liveThreads += 1
            peakThreads = max(peakThreads, liveThreads)
        }
    }

    private func noteOwner(_ owner: BatchOwner) {
        if owner.kind == .m { noteM(Int64(owner.id)) }
    }

    private func openSlice(_ p: Int, _ g: Int64) {
        ps[p].sliceStart = now
        ps[p].sliceM = ps[p].m!
    }

    /// Ends the running slice of G `g` on P `p`; precedes the G's transition out of `running`
    /// (whose `states.reason` is the slice end reason code).
    private func closeSlice(_ p: Int, _ g: Int64, _ reason: String) {
        let row = SliceRow(p: Int64(p), m: ps[p].sliceM, g: g, startNs: ps[p].sliceStart, endNs: now,
                           endReason: reason)
        gs[g]!.stateReason = row.endReasonCode
        counts.slices += 1
        gs[g]!.slices += 1
        if listRows { slices.append(row) }
        if row.durationNs > quantumNs {
            longSliceCount += 1
            if listRows { longSlices.append(row) }
        }
    }

    /// The G running on P `p`.
    private func running(_ p: Int) -> Int64 {
        guard let g = ps[p].g else { preconditionFailure("P\(p) runs no G at \(now)") }
        return g
    }

    private func pOwner(_ p: Int) -> BatchOwner { .p(UInt32(p)) }

    // MARK: Procs and threads

    /// M `m` acquires P `p` (ProcStart). The P must not be held.
    func procStart(p: Int, m: Int64, at t: Int64) {
        advance(t)
        precondition(ps[p].m == nil, "P\(p) is already held")
        noteM(m)
        builder.append(pOwner(p), .procStart, ns: t, UInt64(m))
        ps[p].m = m
    }

    /// The M holding P `p` releases it (ProcStop). The P must run nothing.
    func procStop(p: Int, at t: Int64) {
        advance(t)
        precondition(ps[p].m != nil && ps[p].idle, "P\(p) cannot stop")
        builder.append(pOwner(p), .procStop, ns: t)
        ps[p].m = nil
    }

    /// ThreadCreate(m, cause), written by `owner`.
    func threadCreate(m: Int64, cause: ThreadCause, by owner: BatchOwner, at t: Int64) {
        advance(t)
        noteOwner(owner)
        precondition(threadRows[m] == nil, "M\(m) already seen")
        builder.append(owner, .threadCreate, ns: t, UInt64(m), UInt64(cause.rawValue))
        threadRows[m] = ThreadRow(m: m, createdNs: t, exitedNs: nil, cause: cause.name, firstSeenNs: t)
        liveThreads += 1
        peakThreads = max(peakThreads, liveThreads)
    }

    /// ThreadExit(m), written by `owner` (usually the exiting M's own batch).
    func threadExit(m: Int64, by owner: BatchOwner, at t: Int64) {
        advance(t)
        noteOwner(owner)
        noteM(m)
        precondition(threadRows[m]!.exitedNs == nil)
        precondition(!ps.contains { $0.m == m }, "M\(m) still holds a P")
        builder.append(owner, .threadExit, ns: t, UInt64(m))
        threadRows[m]!.exitedNs = t
        liveThreads -= 1
    }

    // MARK: Goroutines

    /// G `g` is created by `parent` (0: the runtime), written by `owner`; it is runnable.
    func create(g: Int64, parent: Int64, by owner: BatchOwner, at t: Int64) {
        advance(t)
        noteOwner(owner)
        precondition(gs[g] == nil, "G\(g) exists")
        if owner.kind == .p, parent != 0 { precondition(ps[Int(owner.id)].g == parent) }
        builder.append(owner, .goCreate, ns: t, UInt64(g), UInt64(parent))
        builder.resetSeq(UInt64(g), to: 0)
        gs[g] = GInfo(parent: parent == 0 ? nil : parent, created: t, state: .runnable, since: t, cause: .created)
        gs[g]!.stateReason = LatencyCause.created.rawValue
        runnableCount += 1
    }

    /// G `g` existed when tracing started (GoStatus, seq `seq`): runnable or blocked (written
    /// by `owner`), or running on P `p` (written in that P's batch; a slice starts).
    func status(g: Int64, seq: UInt64, _ status: GoStatusCode, by owner: BatchOwner, at t: Int64) {
        advance(t)
        noteOwner(owner)
        precondition(gs[g] == nil && status != .syscall, "scenarios use GoStatus runnable, blocked or running")
        let state: State = status == .runnable ? .runnable : status == .blocked ? .blocked : .running
        builder.append(owner, .goStatus, ns: t, UInt64(g), seq % 128, UInt64(status.rawValue))
        builder.resetSeq(UInt64(g), to: seq)
        gs[g] = GInfo(parent: nil, created: nil, state: state, since: t, cause: .status)
        if state == .runnable {
            runnableCount += 1
            gs[g]!.stateReason = LatencyCause.status.rawValue
        }
        if state == .running {
            let p = Int(owner.id)
            precondition(owner.kind == .p && ps[p].m != nil && ps[p].idle, "GoStatus(running) needs a free, started P")
            gs[g]!.p = p
            gs[g]!.stateP = Int64(p)
            gs[g]!.stateM = ps[p].m
            setPIdle(p) { $0.g = g }
            openSlice(p, g)
        }
    }

    /// Runnable G `g` starts running on P `p` (GoStart): a sched_latency row and a new slice.
    /// `stampedAt` (default `t`) is the timestamp written: a P whose clock is behind stamps the
    /// GoStart before the event that made the G runnable (at most the reorder window earlier,
    /// and not before the P's previous event). The reader's merge still takes the cause first
    /// (by seq) and counts an order skew; the analyzer gives the GoStart the time of the event
    /// before it, `t`, which must therefore be the time of the action just before.
    func start(g: Int64, p: Int, at t: Int64, stampedAt: Int64? = nil) {
        advance(t)
        precondition(state(g) == .runnable, "G\(g) is not runnable at \(t)")
        precondition(ps[p].m != nil && ps[p].idle, "P\(p) is not free at \(t)")
        let stamp = stampedAt ?? t
        precondition(stamp <= t)
        if stamp < t {
            precondition(gs[g]!.since == t, "a skewed GoStart must follow the event that made G\(g) runnable")
            orderSkews += 1
        }
        builder.append(pOwner(p), .goStart, ns: stamp, UInt64(g), builder.nextSeq(UInt64(g)))
        let info = gs[g]!
        let row = SchedLatencyRow(g: g, readyNs: info.since, startNs: t, latencyNs: t - info.since,
                                  cause: info.cause.rawValue, p: Int64(p))
        counts.schedLatency += 1
        totals.latencyNs += row.latencyNs
        histograms[row.cause, default: [:]][row.latencyNs, default: 0] += 1
        if listRows { latencyRows.append(row) }
        if row.latencyNs >= Expected.longWaitThresholdNs {
            longWaitCount += 1
            if listRows { longWaits.append(row) }
        }
        gs[g]!.stateP = Int64(p)  // the runnable interval's states.p: the P it started on
        transition(g, to: .running, p: Int64(p), m: ps[p].m)
        gs[g]!.p = p
        gs[g]!.request = nil  // a request belongs to the run it was meant to interrupt
        gs[g]!.maxLatency = max(gs[g]!.maxLatency ?? 0, row.latencyNs)
        setPIdle(p) { $0.g = g }
        openSlice(p, g)
    }

    /// The G running on P `p` yields (GoStop yield) and is runnable again.
    func yield(p: Int, at t: Int64) {
        advance(t)
        let g = running(p)
        builder.append(pOwner(p), .goStop, ns: t, UInt64(StopReason.yield.rawValue))
        closeSlice(p, g, "yield")
        setPIdle(p) { $0.g = nil }
        becomeRunnable(g, cause: .yielded)
    }

    /// PreemptRequest(g, p) written by `owner` (sysmon's M batch, usually).
    func preemptRequest(g: Int64, p: Int, by owner: BatchOwner, at t: Int64) {
        advance(t)
        noteOwner(owner)
        precondition(ps[p].g == g, "G\(g) is not running on P\(p)")
        builder.append(owner, .preemptRequest, ns: t, UInt64(g), UInt64(p))
        gs[g]!.request = t
    }

    /// The G running on P `p` takes a preemption: Preempted(kind) then GoStop(preempted), both at `t`.
    func preempted(p: Int, kind: PreemptKind, at t: Int64) {
        advance(t)
        let g = running(p)
        builder.append(pOwner(p), .preempted, ns: t, UInt64(kind.rawValue))
        builder.append(pOwner(p), .goStop, ns: t, UInt64(StopReason.preempted.rawValue))
        counts.preemptions += 1
        if listRows {
            preemptions.append(PreemptionRow(g: g, p: Int64(p), requestedNs: gs[g]!.request, deliveredNs: t,
                                             kind: kind.name))
        }
        gs[g]!.request = nil
        closeSlice(p, g, "preempted")
        setPIdle(p) { $0.g = nil }
        becomeRunnable(g, cause: .preempted)
    }

    /// The G running on P `p` blocks (GoBlock reason).
    func block(p: Int, _ reason: BlockReason, at t: Int64) {
        advance(t)
        let g = running(p)
        builder.append(pOwner(p), .goBlock, ns: t, UInt64(reason.rawValue))
        closeSlice(p, g, "block")
        setPIdle(p) { $0.g = nil }
        transition(g, to: .blocked, reason: Int64(reason.rawValue))
    }

    /// The G running on P `p` makes blocked G `g` runnable (GoUnblock).
    func unblock(g: Int64, by p: Int, at t: Int64) {
        advance(t)
        _ = running(p)
        precondition(state(g) == .blocked, "G\(g) is not blocked at \(t)")
        builder.append(pOwner(p), .goUnblock, ns: t, UInt64(g), builder.nextSeq(UInt64(g)))
        becomeRunnable(g, cause: .unblocked)
    }

    /// The runtime makes blocked G `g` runnable (GoWake source), written by `owner`.
    func wake(g: Int64, source: WakeSource, by owner: BatchOwner, at t: Int64) {
        advance(t)
        noteOwner(owner)
        precondition(state(g) == .blocked, "G\(g) is not blocked at \(t)")
        builder.append(owner, .goWake, ns: t, UInt64(g), builder.nextSeq(UInt64(g)), UInt64(source.rawValue))
        becomeRunnable(g, cause: source == .timer ? .timer : .runtime)
    }

    /// The netpoller makes blocked G `g` runnable (NetpollReady), written by `owner`.
    func netpollReady(g: Int64, by owner: BatchOwner, at t: Int64) {
        advance(t)
        noteOwner(owner)
        precondition(state(g) == .blocked, "G\(g) is not blocked at \(t)")
        builder.append(owner, .netpollReady, ns: t, UInt64(g), builder.nextSeq(UInt64(g)))
        becomeRunnable(g, cause: .netpoll)
    }

    /// The G running on P `p` exits (GoEnd).
    func end(p: Int, at t: Int64) {
        advance(t)
        let g = running(p)
        builder.append(pOwner(p), .goEnd, ns: t)
        closeSlice(p, g, "end")
        setPIdle(p) { $0.g = nil }
        transition(g, to: .dead)
        gs[g]!.ended = t
        builder.forgetSeq(UInt64(g))
        if !listRows { retire(g) }
    }

    /// The G running on P `p` enters a blocking syscall (GoSyscallBegin); the P stays attached.
    func syscallBegin(p: Int, at t: Int64) {
        advance(t)
        let g = running(p)
        builder.append(pOwner(p), .goSyscallBegin, ns: t)
        closeSlice(p, g, "syscall")
        transition(g, to: .syscall, p: Int64(p), m: ps[p].m)
        gs[g]!.syscallM = ps[p].m!
        gs[g]!.syscallStart = t
        gs[g]!.syscallP = p
        gs[g]!.syscallHandoff = false
        // Not idle: the P's G is in a syscall.
        ps[p].syscallG = g
        ps[p].g = nil
    }

    /// The G in a syscall on P `p` returns and keeps the P (GoSyscallEnd): a new slice.
    func syscallEnd(p: Int, at t: Int64) {
        advance(t)
        guard let g = ps[p].syscallG else { preconditionFailure("no syscall on P\(p)") }
        builder.append(pOwner(p), .goSyscallEnd, ns: t)
        closeSyscall(g)
        transition(g, to: .running, p: Int64(p), m: ps[p].m)
        ps[p].syscallG = nil
        ps[p].g = g
        openSlice(p, g)
    }

    /// Sysmon takes P `p` from the M stuck in a syscall and hands it to `toM` (0: nobody)
    /// (ProcHandoff, in the P's batch). A `procStart(p:m: toM)` should follow when `toM != 0`.
    func handoff(p: Int, toM: Int64, at t: Int64) {
        advance(t)
        guard let g = ps[p].syscallG, let fromM = ps[p].m else { preconditionFailure("no syscall on P\(p)") }
        if toM != 0 { noteM(toM) }
        builder.append(pOwner(p), .procHandoff, ns: t, UInt64(fromM), UInt64(toM))
        gs[g]!.syscallHandoff = true
        setPIdle(p) { $0.syscallG = nil; $0.m = nil }
    }

    /// G `g`, whose P was handed off during its syscall, returns without a P
    /// (GoSyscallEndBlocked, in the batch of the M that made the call); it is runnable.
    func syscallEndBlocked(g: Int64, at t: Int64) {
        advance(t)
        precondition(state(g) == .syscall && gs[g]!.syscallHandoff)
        let m = gs[g]!.syscallM
        builder.append(.m(UInt32(m)), .goSyscallEndBlocked, ns: t, UInt64(g), builder.nextSeq(UInt64(g)))
        closeSyscall(g)
        becomeRunnable(g, cause: .syscall)
    }

    private func closeSyscall(_ g: Int64) {
        let info = gs[g]!
        gs[g]!.stateReason = info.syscallHandoff ? 1 : 0  // the syscall interval's states.reason
        counts.syscalls += 1
        if listRows {
            syscalls.append(SyscallRow(g: g, m: info.syscallM, p: Int64(info.syscallP), startNs: info.syscallStart,
                                       endNs: now, handoff: info.syscallHandoff ? 1 : 0))
        }
    }

    /// P `p` steals `count` Gs from P `from` (Steal; informational).
    func steal(p: Int, from: Int, count: Int, at t: Int64) {
        advance(t)
        builder.append(pOwner(p), .steal, ns: t, UInt64(from), UInt64(count))
    }

    /// `owner` dropped `count` events: its next batch starts with TraceLost(count).
    func lost(_ owner: BatchOwner, count: Int64, at t: Int64) {
        advance(t)
        noteOwner(owner)
        builder.lost(owner, count: UInt64(count), ns: t)
        lostEvents += count
    }

    /// A whole batch of `owner` is lost (a gap in its batch sequence).
    func loseBatch(_ owner: BatchOwner) {
        builder.skipBatch(owner)
        batchesMissing += 1
    }

    // MARK: Results

    private func goroutineRow(_ g: Int64, _ info: GInfo) -> GoroutineRow {
        GoroutineRow(g: g, parentG: info.parent, createdNs: info.created, endedNs: info.ended, execNs: info.exec,
                     runnableNs: info.runnable, blockedNs: info.blocked, syscallNs: info.syscall,
                     slices: info.slices, maxLatencyNs: info.maxLatency)
    }

    /// Folds an ended G into the totals and forgets it (large traces).
    private func retire(_ g: Int64) {
        let row = goroutineRow(g, gs[g]!)
        add(row)
        gs[g] = nil
    }

    private func add(_ row: GoroutineRow) {
        counts.goroutines += 1
        totals.execNs += row.execNs
        totals.runnableNs += row.runnableNs
        totals.blockedNs += row.blockedNs
        totals.syscallNs += row.syscallNs
        if listRows { goroutineRows.append(row) }
    }

    /// Closes everything still open at `endNs` (slices end with `trace_end`, G states at
    /// `endNs`) and returns the answers. `writeEnd`: also flush the builder and write the end
    /// frame (false leaves the builder open, for scenarios that keep writing past the answers).
    func finish(endNs: Int64, writeEnd: Bool = true) -> Expected {
        advance(endNs)
        var runnableAtEnd: Int64 = 0
        for p in 0..<maxProcs {
            if let g = ps[p].g { closeSlice(p, g, "trace_end") }
            precondition(ps[p].syscallG == nil, "scenarios end with no syscall open")
        }
        for (g, info) in gs.sorted(by: { $0.key < $1.key }) where info.state != .dead {
            if info.state == .runnable { runnableAtEnd += 1 }
            precondition(info.state != .syscall, "scenarios end with no syscall open")
            transition(g, to: .dead)
            gs[g]!.state = .dead
        }
        for (g, info) in gs.sorted(by: { $0.key < $1.key }) { add(goroutineRow(g, info)) }
        gs = [:]
        settle()
        if let start = activeSince { closeIdle(start: start, end: endNs) }
        if writeEnd { builder.finish(endNs: endNs) }

        var e = Expected(ticksPerSecond: Int64(builder.header.ticksPerSecond), maxProcs: Int64(maxProcs),
                         traceEndNs: writeEnd ? endNs : nil, lastEventNs: endNs,
                         eventCount: Int64(builder.eventsAppended), batchCount: Int64(builder.batchFramesWritten),
                         rowsListed: listRows)
        e.schedLatency = latencyRows.sorted { ($0.g, $0.readyNs) < ($1.g, $1.readyNs) }
        e.slices = slices.sorted { ($0.p, $0.startNs, $0.g) < ($1.p, $1.startNs, $1.g) }
        e.syscalls = syscalls.sorted { ($0.g, $0.startNs) < ($1.g, $1.startNs) }
        e.preemptions = preemptions.sorted { ($0.g, $0.deliveredNs) < ($1.g, $1.deliveredNs) }
        e.threads = threadRows.values.sorted { $0.m < $1.m }
        e.goroutines = goroutineRows.sorted { $0.g < $1.g }
        e.idleWhileRunnable = idleRows
        e.threadCount = threadCountRows
        e.states = stateRows.sorted { ($0.g, $0.startNs, $0.endNs) < ($1.g, $1.startNs, $1.endNs) }
        counts.threads = Int64(threadRows.count)
        e.counts = counts
        e.totals = totals
        var summaries: [LatencySummary] = []
        var all: [Int64: Int64] = [:]
        for (_, h) in histograms { for (v, c) in h { all[v, default: 0] += c } }
        if let s = LatencySummary.nearestRank(cause: nil, histogram: all) { summaries.append(s) }
        for cause in histograms.keys.sorted() {
            if let s = LatencySummary.nearestRank(cause: cause, histogram: histograms[cause]!) { summaries.append(s) }
        }
        e.latency = summaries
        e.longWaits = longWaits.sorted { ($0.g, $0.readyNs) < ($1.g, $1.readyNs) }
        e.longWaitCount = longWaitCount
        e.longSlices = longSlices.sorted { ($0.p, $0.startNs, $0.g) < ($1.p, $1.startNs, $1.g) }
        e.longSliceCount = longSliceCount
        e.peakThreads = peakThreads
        e.lostEvents = lostEvents
        e.batchesMissing = batchesMissing
        e.orderSkews = orderSkews
        e.runnableAtTraceEnd = runnableAtEnd
        return e
    }
}
