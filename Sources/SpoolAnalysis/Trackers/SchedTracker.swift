// The "track" stage: per-G, per-P and per-M state machines that turn the ordered event stream
// into the derived tables (schema/analysis.md has every definition this file implements).
//
// One tracker sees every event once, in merge order, and writes rows as intervals close:
//
// - Per G (`GRecord`): the current state interval (state, start, P, M, reason). Closing it writes
//   a `states` row and adds to the G's totals. That row is also the G's `slices` row (a slice is
//   exactly a running interval), `syscalls` row or `sched_latency` row (a runnable interval
//   closed by a GoStart, which records the P): those three are views over `states`, so each
//   transition costs one row. The record goes away at GoEnd (its `goroutines` row is written
//   then), so memory is O(live Gs), plus 8 bytes per latency for the percentiles.
// - Per P (`PRecord`): started or not, the M holding it, the G on it (running or in a syscall).
//   Idle Ps and runnable Gs are counted incrementally for `idle_while_runnable`.
// - Per M (`MRecord`): created/exited/cause, the G it runs a syscall for.
//
// Invariant "Settled at timestamp boundaries": `thread_count` rows and the work-conservation
// condition are evaluated on the state after *all* events of one timestamp, so a G stopping
// and another starting at the same instant is not a momentary idle P.
//
// Invariant "Time never goes back": an event whose timestamp is before the previous event's
// (the order stage took a causally-ready event out of timestamp order, `order_skew`) is given
// the previous event's time, so no interval is negative.
//
// Ids are unsigned in the trace and signed in SQLite: they are stored by bit pattern, so an
// absurd id (≥ 2⁶³, only in damaged traces) reads back negative instead of trapping.
//
// Policy "Count, repair, continue": an event that contradicts the tracked state is counted in
// `import_stats` (`Anomaly`) and then either applied (the trace's latest word wins) or
// skipped, as each case says; nothing throws except SQLite.
//
// Rejected: deriving intervals in SQL from a raw events table (window functions over 10M rows
// take tens of seconds, see notes/sqlite-import.md); one tracker class per entity kind (the
// state machines share every event — a GoStart touches a G, a P and the work-conservation
// counters — and splitting them multiplies lookups).

import SpoolTraceFormat

/// Turns ordered events into rows of the derived tables.
///
/// A struct, kept in a local variable of the import loop: its state is then accessed with
/// static exclusivity enforcement only (as a class, every access to its arrays paid a dynamic
/// exclusivity check, about 7% of an import).
struct SchedTracker {
    private struct GRecord {
        var id: UInt64
        var alive: Bool
        var parent: Int64
        var createdNs: Int64
        /// Current state; `nil` before the first state-setting event of an implicit G.
        var state: GState?
        var stateStart: Int64 = 0
        var stateP: Int64 = TableWriter.null
        var stateM: Int64 = TableWriter.null
        /// Block reason (blocked) or latency cause (runnable), else NULL.
        var stateReason: Int64 = TableWriter.null
        /// A ProcHandoff happened during the current syscall.
        var handoff = false
        /// Latest PreemptRequest since the G last started running (NULL if none).
        var preemptRequestNs: Int64 = TableWriter.null
        var execNs: Int64 = 0
        var runnableNs: Int64 = 0
        var blockedNs: Int64 = 0
        var syscallNs: Int64 = 0
        var slices: Int64 = 0
        var maxLatencyNs: Int64 = TableWriter.null

        init(id: UInt64, parent: Int64, createdNs: Int64) {
            self.id = id
            self.alive = true
            self.parent = parent
            self.createdNs = createdNs
        }
    }

    private struct PRecord {
        var started = false
        /// M holding the P (0: none known).
        var m: UInt64 = 0
        /// Slot of the G running or in a syscall on this P (-1: none), and its id (to detect a
        /// reused slot).
        var gSlot: Int32 = -1
        var gID: UInt64 = 0
        /// Not idle: started and a G on it (schema/analysis.md, work-conservation violations).
        var busy: Bool { started && gSlot >= 0 }
    }

    private struct MRecord {
        var createdNs: Int64 = TableWriter.null
        var exitedNs: Int64 = TableWriter.null
        var cause: Int64 = TableWriter.null
        var firstSeenNs: Int64
        var alive = true
        /// G id in a syscall on this M (0: none).
        var syscallG: UInt64 = 0
    }

    let header: TraceHeader
    private let out: TableSet
    private(set) var anomalies = AnomalyCounts()

    private var gIndex = IDMap()
    private var gs: [GRecord] = []
    private var freeSlots: [Int32] = []
    private var ps: [PRecord] = []
    private var ms: [UInt64: MRecord] = [:]
    /// M ids in order of first sighting (threads rows are written in this order).
    private var mOrder: [UInt64] = []

    /// Time of the events being processed, ns (see "Time never goes back").
    private(set) var now: Int64 = 0
    private var sawEvent = false

    /// Gs in state runnable, Ps busy, live threads, Gs in a syscall.
    private var runnableGs = 0
    private var busyPs = 0
    private var liveThreads = 0
    private var inSyscall = 0
    private var lastThreads = 0
    private var lastInSyscall = 0
    /// Open work-conservation violation: start and maxima so far.
    private var violationStart: Int64? = nil
    private var violationIdle = 0
    private var violationRunnable = 0
    /// P ids at or above this are not tracked (counted as `p_out_of_range`): a damaged header
    /// could claim billions of Ps, and per-P state is an array.
    static let maxTrackedProcs = 1 << 16
    /// Minimum length of a work-conservation violation, ns (schema/analysis.md).
    static let minViolationNs: Int64 = 1_000_000

    /// Every latency, by cause code, for the percentiles of `latency_stats` (8 bytes per
    /// `sched_latency` row: the one per-event cost in memory, accepted because sorting in
    /// memory at the end is far cheaper than indexing the table, see notes/sqlite-import.md).
    private var latencies = Array(repeating: [Int64](), count: LatencyCause.allCases.count)

    /// Largest number of live Gs at once (memory diagnostics).
    private(set) var peakLiveGs = 0

    init(header: TraceHeader, tables: TableSet) {
        self.header = header
        self.out = tables
    }

    private var maxProcs: Int { Int(clamping: header.maxProcs) }

    // MARK: Event dispatch

    /// Applies one event. Throws only SQLite errors from writing rows.
    mutating func handle(_ e: TraceEvent) throws {
        let ts = header.nanoseconds(e.ticks)
        if !sawEvent {
            sawEvent = true
            now = ts
        } else if ts > now {
            try settle()
            now = ts
        }
        let ownerM: UInt64
        let p: Int
        if e.owner.kind == .p {
            p = Int(e.owner.id)
            guard p < Self.maxTrackedProcs else {
                anomalies.count(.pOutOfRange)
                return
            }
            ensureP(p)
            ownerM = ps[p].m
        } else {
            p = -1
            ownerM = UInt64(e.owner.id)
            try seeM(ownerM)
        }

        switch e.kind {
        case .goCreate:
            try goCreate(g: e.a0, parent: e.a1)
        case .goStart:
            guard p >= 0 else { return }
            try goStart(g: e.a0, p: p)
        case .goStop:
            guard let slot = runningG(p) else { return }
            let preempted = e.a0 == UInt64(StopReason.preempted.rawValue)
            try leaveP(p, slot: slot, reason: preempted ? .preempted : .yield)
            try setState(slot, .runnable, reason: preempted ? LatencyCause.preempted.rawValue : LatencyCause.yielded.rawValue)
        case .goBlock:
            guard let slot = runningG(p) else { return }
            try leaveP(p, slot: slot, reason: .block)
            try setState(slot, .blocked, reason: Int64(clamping: e.a0))
        case .goUnblock:
            try wake(g: e.a0, cause: .unblocked)
        case .goWake:
            let timer = e.a2 == UInt64(WakeSource.timer.rawValue)
            try wake(g: e.a0, cause: timer ? .timer : .runtime)
        case .netpollReady:
            try wake(g: e.a0, cause: .netpoll)
        case .goEnd:
            guard let slot = runningG(p) else { return }
            try leaveP(p, slot: slot, reason: .end)
            try closeState(slot, sliceEnd: .end)
            try retire(slot, endedNs: now)
        case .goSyscallBegin:
            guard let slot = runningG(p) else { return }
            // The G stays on the P (a P whose G is in a syscall is not idle).
            try setState(slot, .syscall, p: Int64(p), m: mValue(ps[p].m), sliceEnd: .syscall)
            if ps[p].m != 0 { ms[ps[p].m]?.syscallG = gs[Int(slot)].id }
        case .goSyscallEnd:
            guard p >= 0 else { return }
            try syscallEnd(p: p)
        case .goSyscallEndBlocked:
            try syscallEndBlocked(g: e.a0, m: ownerM)
        case .procStart:
            guard p >= 0 else { return }
            try seeM(e.a0)
            if ps[p].started && ps[p].m != 0 && ps[p].m != e.a0 { anomalies.count(.procStartBusy) }
            updateP(p) { $0.started = true; $0.m = e.a0 }
        case .procStop:
            guard p >= 0 else { return }
            if ps[p].gSlot >= 0 { anomalies.count(.procStopWithG) }
            updateP(p) { $0.started = false; $0.m = 0; $0.gSlot = -1; $0.gID = 0 }
        case .procHandoff:
            guard p >= 0 else { return }
            try procHandoff(p: p, fromM: e.a0, toM: e.a1)
        case .preemptRequest:
            if let slot = gIndex[e.a0] {
                gs[Int(slot)].preemptRequestNs = now
            } else {
                anomalies.count(.preemptRequestUnknownG)
            }
        case .preempted:
            guard let slot = runningG(p) else { return }
            let req = gs[Int(slot)].preemptRequestNs
            out.preemptions.put(Int64(bitPattern: gs[Int(slot)].id))
            out.preemptions.put(Int64(p))
            out.preemptions.put(req)
            out.preemptions.put(now)
            out.preemptions.put(req == TableWriter.null ? TableWriter.null : now - req)
            out.preemptions.put(Int64(clamping: e.a0))
            try out.preemptions.endRow()
            gs[Int(slot)].preemptRequestNs = TableWriter.null
        case .threadCreate:
            try threadCreate(m: e.a0, cause: Int64(clamping: e.a1))
        case .threadExit:
            try threadExit(m: e.a0)
        case .steal:
            out.steals.put(now)
            out.steals.put(Int64(max(p, 0)))
            out.steals.put(Int64(bitPattern: e.a0))
            out.steals.put(Int64(clamping: e.a1))
            try out.steals.endRow()
        case .traceLost:
            anomalies.count(.eventsLost, Int64(clamping: e.a0))
            out.lostEvents.put(now)
            out.lostEvents.put(Int64(e.owner.kind.rawValue))
            out.lostEvents.put(Int64(e.owner.id))
            out.lostEvents.put(Int64(clamping: e.a0))
            try out.lostEvents.endRow()
        case .goStatus:
            try goStatus(g: e.a0, status: e.a2, p: p, m: ownerM)
        }
    }

    // MARK: G transitions

    private mutating func goCreate(g: UInt64, parent: UInt64) throws {
        if let old = gIndex[g] {
            anomalies.count(.goCreateExisting)
            try detachFromP(old)
            try closeState(old, sliceEnd: .end)
            try retire(old, endedNs: TableWriter.null)
        }
        let slot = newG(g, parent: parent == 0 ? TableWriter.null : Int64(bitPattern: parent), createdNs: now)
        try setState(slot, .runnable, reason: LatencyCause.created.rawValue)
    }

    private mutating func goStart(g: UInt64, p: Int) throws {
        if !ps[p].started {
            anomalies.count(.procStartMissing)
            updateP(p) { $0.started = true }
        }
        if let other = runningSlot(p), gs[Int(other)].id != g {
            anomalies.count(.startOnBusyP)
            updateP(p) { $0.gSlot = -1; $0.gID = 0 }
        }
        let slot = try lookupOrCreate(g)
        var rec = gs[Int(slot)]
        if rec.state == .runnable {
            // The runnable interval's row becomes a `sched_latency` row: it records the P.
            let latency = now - rec.stateStart
            gs[Int(slot)].stateP = Int64(p)
            latencies[Int(rec.stateReason)].append(latency)
            if rec.maxLatencyNs == TableWriter.null || latency > rec.maxLatencyNs {
                gs[Int(slot)].maxLatencyNs = latency
            }
        } else if rec.state != nil {
            anomalies.count(.startNotRunnable)
            // It was running or in a syscall elsewhere: take it off that P first.
            try detachFromP(slot)
        }
        rec = gs[Int(slot)]
        if rec.preemptRequestNs != TableWriter.null {
            anomalies.count(.preemptRequestUndelivered)
            gs[Int(slot)].preemptRequestNs = TableWriter.null
        }
        try setState(slot, .running, p: Int64(p), m: mValue(ps[p].m), sliceEnd: .block)
        updateP(p) { $0.gSlot = slot; $0.gID = g }
    }

    /// GoUnblock / GoWake / NetpollReady: blocked → runnable.
    private mutating func wake(g: UInt64, cause: LatencyCause) throws {
        let slot: Int32
        if let s = gIndex[g] {
            slot = s
            guard gs[Int(s)].state == .blocked || gs[Int(s)].state == nil else {
                anomalies.count(.wakeNotBlocked)
                return
            }
        } else {
            anomalies.count(.unknownG)
            slot = newG(g, parent: TableWriter.null, createdNs: TableWriter.null)
        }
        try setState(slot, .runnable, reason: cause.rawValue)
    }

    private mutating func syscallEnd(p: Int) throws {
        var slot: Int32? = nil
        if let s = runningSlot(p), gs[Int(s)].state == .syscall {
            slot = s
        } else if ps[p].m != 0, let g = ms[ps[p].m]?.syscallG, g != 0, let s = gIndex[g],
                  gs[Int(s)].state == .syscall {
            // The P was handed off and its M got it back.
            slot = s
        }
        guard let slot else {
            anomalies.count(.noRunningG)
            return
        }
        if ps[p].m != 0 { ms[ps[p].m]?.syscallG = 0 }
        try setState(slot, .running, p: Int64(p), m: mValue(ps[p].m), sliceEnd: .syscall)
        let id = gs[Int(slot)].id
        updateP(p) { $0.gSlot = slot; $0.gID = id }
    }

    private mutating func syscallEndBlocked(g: UInt64, m: UInt64) throws {
        guard let slot = gIndex[g] else {
            anomalies.count(.unknownG)
            let s = newG(g, parent: TableWriter.null, createdNs: TableWriter.null)
            try setState(s, .runnable, reason: LatencyCause.syscall.rawValue)
            return
        }
        guard gs[Int(slot)].state == .syscall || gs[Int(slot)].state == nil else {
            anomalies.count(.syscallEndNotInSyscall)
            return
        }
        // Normally the P was handed off already; if not, the G leaves it now.
        try detachFromP(slot)
        if m != 0, ms[m]?.syscallG == g { ms[m]?.syscallG = 0 }
        try setState(slot, .runnable, reason: LatencyCause.syscall.rawValue)
    }

    private mutating func procHandoff(p: Int, fromM: UInt64, toM: UInt64) throws {
        try seeM(fromM)
        if toM != 0 { try seeM(toM) }
        var slot: Int32? = nil
        if let s = runningSlot(p), gs[Int(s)].state == .syscall {
            slot = s
        } else if let g = ms[fromM]?.syscallG, g != 0, let s = gIndex[g], gs[Int(s)].state == .syscall {
            slot = s
        }
        if let slot {
            gs[Int(slot)].handoff = true
        } else {
            anomalies.count(.handoffWithoutSyscall)
        }
        // The P is idle until the ProcStart of `toM` that follows.
        updateP(p) { $0.started = false; $0.m = 0; $0.gSlot = -1; $0.gID = 0 }
    }

    private mutating func goStatus(g: UInt64, status: UInt64, p: Int, m: UInt64) throws {
        let slot: Int32
        if let s = gIndex[g] {
            anomalies.count(.goStatusExisting)
            try detachFromP(s)
            slot = s
        } else {
            slot = newG(g, parent: TableWriter.null, createdNs: TableWriter.null)
        }
        switch GoStatusCode(rawValue: UInt8(truncatingIfNeeded: status)) ?? .blocked {
        case .runnable:
            try setState(slot, .runnable, reason: LatencyCause.status.rawValue)
        case .blocked:
            try setState(slot, .blocked)
        case .running, .syscall:
            let state: GState = status == UInt64(GoStatusCode.running.rawValue) ? .running : .syscall
            guard p >= 0 else {
                try setState(slot, state, m: mValue(m))
                if state == .syscall, m != 0 { ms[m]?.syscallG = g }
                return
            }
            if !ps[p].started {
                anomalies.count(.procStartMissing)
                updateP(p) { $0.started = true }
            }
            try setState(slot, state, p: Int64(p), m: mValue(ps[p].m))
            if state == .syscall, ps[p].m != 0 { ms[ps[p].m]?.syscallG = g }
            updateP(p) { $0.gSlot = slot; $0.gID = g }
        }
    }

    // MARK: Threads

    private mutating func threadCreate(m: UInt64, cause: Int64) throws {
        guard m != 0 else { return }
        if let rec = ms[m] {
            if rec.createdNs != TableWriter.null {
                anomalies.count(.threadCreateDuplicate)
                return
            }
            anomalies.count(.threadCreatedAfterUse)
            ms[m]!.createdNs = now
            ms[m]!.cause = cause
            return
        }
        var rec = MRecord(firstSeenNs: now)
        rec.createdNs = now
        rec.cause = cause
        ms[m] = rec
        mOrder.append(m)
        liveThreads += 1
    }

    private mutating func threadExit(m: UInt64) throws {
        guard m != 0 else { return }
        try seeM(m)
        guard ms[m]!.alive else { return }
        ms[m]!.alive = false
        ms[m]!.exitedNs = now
        liveThreads -= 1
    }

    /// Records that M `m` exists (first sighting: a thread alive before tracing started).
    @inline(__always)
    private mutating func seeM(_ m: UInt64) throws {
        guard m != 0 else { return }
        if let rec = ms[m] {
            if !rec.alive { anomalies.count(.threadUsedAfterExit) }
            return
        }
        ms[m] = MRecord(firstSeenNs: now)
        mOrder.append(m)
        liveThreads += 1
    }

    // MARK: State bookkeeping

    /// Moves G `slot` to `state` at `now`, closing its current interval (see `closeState`).
    private mutating func setState(_ slot: Int32, _ state: GState, p: Int64 = TableWriter.null,
                          m: Int64 = TableWriter.null, reason: Int64 = TableWriter.null,
                          sliceEnd: SliceEndReason = .block) throws {
        try closeState(slot, sliceEnd: sliceEnd)
        let i = Int(slot)
        gs[i].state = state
        gs[i].stateStart = now
        gs[i].stateP = p
        gs[i].stateM = m
        gs[i].stateReason = reason
        switch state {
        case .runnable: runnableGs += 1
        case .syscall:
            inSyscall += 1
            gs[i].handoff = false
        case .running: gs[i].slices += 1
        case .blocked: break
        }
    }

    /// Closes G `slot`'s current state interval at `now`: writes the `states` row (which is also
    /// the `slices`, `sched_latency` or `syscalls` row, see schema/views.sql) and adds to the
    /// G's totals. `sliceEnd` is the end reason of a running interval.
    private mutating func closeState(_ slot: Int32, sliceEnd: SliceEndReason) throws {
        let i = Int(slot)
        guard let state = gs[i].state else { return }
        let rec = gs[i]
        let d = now - rec.stateStart
        let reason: Int64
        switch state {
        case .runnable:
            gs[i].runnableNs += d
            runnableGs -= 1
            reason = rec.stateReason
        case .blocked:
            gs[i].blockedNs += d
            reason = rec.stateReason
        case .running:
            gs[i].execNs += d
            reason = sliceEnd.rawValue
            if sliceEnd != .syscall && sliceEnd != .preempted && sliceEnd != .traceEnd
                && rec.preemptRequestNs != TableWriter.null {
                anomalies.count(.preemptRequestUndelivered)
                gs[i].preemptRequestNs = TableWriter.null
            }
        case .syscall:
            gs[i].syscallNs += d
            inSyscall -= 1
            reason = rec.handoff ? 1 : 0
        }
        out.states.put(Int64(bitPattern: rec.id))
        out.states.put(state.rawValue)
        out.states.put(rec.stateStart)
        out.states.put(now)
        out.states.put(rec.stateP)
        out.states.put(rec.stateM)
        out.states.put(reason)
        try out.states.endRow()
        gs[i].state = nil
    }

    /// The G running (or in a syscall) on P `p`, if the P's record still points at a live one.
    @inline(__always)
    private func runningSlot(_ p: Int) -> Int32? {
        let s = ps[p].gSlot
        guard s >= 0, gs[Int(s)].alive, gs[Int(s)].id == ps[p].gID else { return nil }
        return s
    }

    /// The G running on P `p` for an event about "the running G"; counts `no_running_g` if none.
    @inline(__always)
    private mutating func runningG(_ p: Int) -> Int32? {
        guard p >= 0, let s = runningSlot(p), gs[Int(s)].state == .running else {
            anomalies.count(.noRunningG)
            return nil
        }
        return s
    }

    /// Takes G `slot` off P `p` (its slice ends with `reason`, written by the state change that
    /// follows).
    @inline(__always)
    private mutating func leaveP(_ p: Int, slot: Int32, reason: SliceEndReason) throws {
        // Closing the running interval with the right end reason.
        try closeState(slot, sliceEnd: reason)
        updateP(p) { $0.gSlot = -1; $0.gID = 0 }
    }

    /// Clears any P that still points at G `slot` (repairs after contradicting events).
    private mutating func detachFromP(_ slot: Int32) throws {
        let id = gs[Int(slot)].id
        if let p = gs[Int(slot)].stateP == TableWriter.null ? nil : Int(gs[Int(slot)].stateP),
           p < ps.count, ps[p].gSlot == slot, ps[p].gID == id {
            updateP(p) { $0.gSlot = -1; $0.gID = 0 }
        }
    }

    /// Mutates P `p`, keeping `busyPs` in step.
    @inline(__always)
    private mutating func updateP(_ p: Int, _ change: (inout PRecord) -> Void) {
        let was = ps[p].busy
        change(&ps[p])
        let isBusy = ps[p].busy
        if was != isBusy { busyPs += isBusy ? 1 : -1 }
    }

    @inline(__always)
    private mutating func ensureP(_ p: Int) {
        if p >= ps.count { ps.append(contentsOf: repeatElement(PRecord(), count: p + 1 - ps.count)) }
    }

    @inline(__always)
    private func mValue(_ m: UInt64) -> Int64 { m == 0 ? TableWriter.null : Int64(bitPattern: m) }

    private mutating func lookupOrCreate(_ g: UInt64) throws -> Int32 {
        if let s = gIndex[g] { return s }
        anomalies.count(.unknownG)
        return newG(g, parent: TableWriter.null, createdNs: TableWriter.null)
    }

    private mutating func newG(_ g: UInt64, parent: Int64, createdNs: Int64) -> Int32 {
        let rec = GRecord(id: g, parent: parent, createdNs: createdNs)
        let slot: Int32
        if let s = freeSlots.popLast() {
            slot = s
            gs[Int(s)] = rec
        } else {
            slot = Int32(gs.count)
            gs.append(rec)
        }
        gIndex.set(g, slot)
        if gIndex.count > peakLiveGs { peakLiveGs = gIndex.count }
        return slot
    }

    /// Writes G `slot`'s `goroutines` row and frees its record. Its state must be closed.
    private mutating func retire(_ slot: Int32, endedNs: Int64) throws {
        let rec = gs[Int(slot)]
        out.goroutines.put(Int64(bitPattern: rec.id))
        out.goroutines.put(rec.parent)
        out.goroutines.put(rec.createdNs)
        out.goroutines.put(endedNs)
        out.goroutines.put(rec.execNs)
        out.goroutines.put(rec.runnableNs)
        out.goroutines.put(rec.blockedNs)
        out.goroutines.put(rec.syscallNs)
        out.goroutines.put(rec.slices)
        out.goroutines.put(rec.maxLatencyNs)
        try out.goroutines.endRow()
        gs[Int(slot)].alive = false
        gIndex.remove(rec.id)
        freeSlots.append(slot)
    }

    // MARK: Timestamp boundaries and trace end

    /// Evaluates the per-timestamp conditions on the state after all events at `now` (see
    /// "Settled at timestamp boundaries").
    private mutating func settle() throws {
        if liveThreads != lastThreads || inSyscall != lastInSyscall {
            out.threadCount.put(now)
            out.threadCount.put(Int64(liveThreads))
            out.threadCount.put(Int64(inSyscall))
            try out.threadCount.endRow()
            lastThreads = liveThreads
            lastInSyscall = inSyscall
        }
        let idle = maxProcs - busyPs
        if idle > 0 && runnableGs > 0 {
            if violationStart == nil {
                violationStart = now
                violationIdle = idle
                violationRunnable = runnableGs
            } else {
                violationIdle = max(violationIdle, idle)
                violationRunnable = max(violationRunnable, runnableGs)
            }
        } else if violationStart != nil {
            try closeViolation(at: now)
        }
    }

    private mutating func closeViolation(at end: Int64) throws {
        guard let start = violationStart else { return }
        violationStart = nil
        guard end - start >= Self.minViolationNs else { return }
        out.idleWhileRunnable.put(start)
        out.idleWhileRunnable.put(end)
        out.idleWhileRunnable.put(Int64(violationIdle))
        out.idleWhileRunnable.put(Int64(violationRunnable))
        try out.idleWhileRunnable.endRow()
    }

    /// Writes `latency_stats`: overall (cause NULL) and per cause, nearest-rank percentiles.
    private mutating func writeLatencyStats() throws {
        var overall = RankPicker(count: latencies.reduce(0) { $0 + $1.count })
        var pickers: [RankPicker] = []
        for i in latencies.indices {
            latencies[i].sort()
            pickers.append(RankPicker(count: latencies[i].count))
        }
        // Merge the sorted per-cause runs: every value goes to its cause's picker and, in
        // global order, to the overall one.
        var heads = Array(repeating: 0, count: latencies.count)
        while true {
            var best = -1
            for c in latencies.indices where heads[c] < latencies[c].count {
                if best < 0 || latencies[c][heads[c]] < latencies[best][heads[best]] { best = c }
            }
            if best < 0 { break }
            let v = latencies[best][heads[best]]
            heads[best] += 1
            overall.add(v)
            pickers[best].add(v)
        }
        func row(_ cause: Int64, _ s: DurationStats) throws {
            out.latencyStats.put(cause)
            out.latencyStats.put(Int64(s.count))
            out.latencyStats.put(s.p50Ns)
            out.latencyStats.put(s.p90Ns)
            out.latencyStats.put(s.p99Ns)
            out.latencyStats.put(s.p999Ns)
            out.latencyStats.put(s.maxNs)
            out.latencyStats.put(s.totalNs)
            try out.latencyStats.endRow()
        }
        try row(TableWriter.null, overall.stats)
        for (c, p) in pickers.enumerated() where p.count > 0 { try row(Int64(c), p.stats) }
        latencies = []
    }

    /// Closes everything still open at the trace end (`endNs`, ns; earlier values are raised to
    /// the last event's time) and writes the per-G and per-M rows. Returns the end time used.
    @discardableResult
    mutating func finish(endNs: Int64) throws -> Int64 {
        if sawEvent { try settle() }
        let end = max(endNs, now)
        now = end
        try closeViolation(at: end)
        for i in gs.indices where gs[i].alive {
            switch gs[i].state {
            case .runnable?: anomalies.count(.runnableAtTraceEnd)
            case .syscall?: anomalies.count(.syscallAtTraceEnd)
            default: break
            }
            try closeState(Int32(i), sliceEnd: .traceEnd)
            try retire(Int32(i), endedNs: TableWriter.null)
        }
        try writeLatencyStats()
        for m in mOrder {
            let rec = ms[m]!
            out.threads.put(Int64(bitPattern: m))
            out.threads.put(rec.createdNs)
            out.threads.put(rec.exitedNs)
            out.threads.put(rec.cause)
            out.threads.put(rec.firstSeenNs)
            try out.threads.endRow()
        }
        try out.flush()
        return end
    }
}
