// The track stage: hand-built event sequences through SchedTracker (and the store stage), with
// every expected row worked out by hand from schema/analysis.md.

import Testing
import SpoolTraceFormat
@testable import SpoolAnalysis

private let null: Int64? = nil

/// One goroutine pair exercising every latency cause, a syscall with handoff and thread growth.
private func everyCauseScript() -> Script {
    var s = Script()
    s.p(0, 0, .procStart, 1)
    s.p(0, 5, .goStatus, 3, 0, 0)       // g3 runnable at trace start
    s.p(0, 10, .goCreate, 1, 0)
    s.p(0, 30, .goStart, 1, 1)          // g1 created: 20
    s.p(0, 40, .goCreate, 2, 1)
    s.p(0, 50, .goBlock, 2)             // g1 chan_recv
    s.p(0, 60, .goStart, 2, 1)          // g2 created: 20
    s.p(0, 70, .goUnblock, 1, 2)
    s.p(0, 80, .goStop, 0)              // g2 yield
    s.p(0, 100, .goStart, 1, 3)         // g1 unblocked: 30
    s.p(0, 110, .goStop, 1)             // g1 preempted
    s.p(0, 115, .goStart, 2, 2)         // g2 yielded: 35
    s.p(0, 120, .goBlock, 6)            // g2 sleep
    s.p(0, 130, .goStart, 1, 4)         // g1 preempted: 20
    s.p(0, 140, .goWake, 2, 3, 1)       // g2 timer
    s.p(0, 150, .goBlock, 7)            // g1 net_read
    s.p(0, 160, .goStart, 2, 4)         // g2 timer: 20
    s.m(2, 170, .netpollReady, 1, 5)
    s.p(0, 180, .goBlock, 0)            // g2 other
    s.p(0, 200, .goStart, 1, 6)         // g1 netpoll: 30
    s.p(0, 210, .goWake, 2, 5, 0)       // g2 runtime
    s.p(0, 220, .goSyscallBegin)        // g1 syscall on M1
    s.m(3, 225, .threadCreate, 4, 2)    // sysmon (M3) creates M4 for the handoff
    s.p(0, 230, .procHandoff, 1, 4)
    s.p(0, 231, .procStart, 4)
    s.p(0, 240, .goStart, 2, 6)         // g2 runtime: 30
    s.m(1, 250, .goSyscallEndBlocked, 1, 7)
    s.p(0, 260, .goEnd)                 // g2 ends
    s.p(0, 270, .goStart, 1, 8)         // g1 syscall: 20
    s.p(0, 280, .goEnd)
    s.p(0, 290, .goStart, 3, 1)         // g3 status: 285
    s.p(0, 300, .goEnd)
    return s
}

@Test func latencyRowsForEveryCause() throws {
    let db = try importScript(everyCauseScript())
    let rows = try db.ints("SELECT g, ready_ns, start_ns, latency_ns, cause, p FROM sched_latency ORDER BY start_ns")
    let C = LatencyCause.self
    #expect(rows == [
        [1, 10, 30, 20, C.created.rawValue, 0],
        [2, 40, 60, 20, C.created.rawValue, 0],
        [1, 70, 100, 30, C.unblocked.rawValue, 0],
        [2, 80, 115, 35, C.yielded.rawValue, 0],
        [1, 110, 130, 20, C.preempted.rawValue, 0],
        [2, 140, 160, 20, C.timer.rawValue, 0],
        [1, 170, 200, 30, C.netpoll.rawValue, 0],
        [2, 210, 240, 30, C.runtime.rawValue, 0],
        [1, 250, 270, 20, C.syscall.rawValue, 0],
        [3, 5, 290, 285, C.status.rawValue, 0],
    ])
    #expect(try db.int("SELECT count(*) FROM import_stats WHERE severity != 'info'") == 0)
}

@Test func goroutineTotalsAreSumsOfStates() throws {
    let db = try importScript(everyCauseScript())
    let rows = try db.ints("""
        SELECT g, parent_g, created_ns, ended_ns, exec_ns, runnable_ns, blocked_ns, syscall_ns, slices, max_latency_ns
        FROM goroutines ORDER BY g
        """)
    #expect(rows == [
        [1, null, 10, 280, 80, 120, 40, 30, 5, 30],
        [2, 1, 40, 260, 65, 105, 50, 0, 4, 35],
        [3, null, null, 300, 10, 285, 0, 0, 1, 285],
    ])
    // Each G's states tile its lifetime.
    let sums = try db.ints("""
        SELECT s.g, sum(s.end_ns - s.start_ns), min(s.start_ns), max(s.end_ns) FROM states s GROUP BY s.g ORDER BY s.g
        """)
    #expect(sums == [[1, 270, 10, 280], [2, 220, 40, 260], [3, 295, 5, 300]])
    // Block reasons are on blocked intervals only; latency causes on runnable ones.
    let blocked = try db.ints("SELECT g, start_ns, reason FROM states WHERE state = 2 ORDER BY start_ns")
    #expect(blocked == [[1, 50, 2], [2, 120, 6], [1, 150, 7], [2, 180, 0]])
}

@Test func slicesEndWithTheirReason() throws {
    let db = try importScript(everyCauseScript())
    let R = SliceEndReason.self
    let rows = try db.ints("SELECT p, m, g, start_ns, end_ns, end_reason FROM slices WHERE g = 1 ORDER BY start_ns")
    #expect(rows == [
        [0, 1, 1, 30, 50, R.block.rawValue],
        [0, 1, 1, 100, 110, R.preempted.rawValue],
        [0, 1, 1, 130, 150, R.block.rawValue],
        [0, 1, 1, 200, 220, R.syscall.rawValue],
        [0, 4, 1, 270, 280, R.end.rawValue],
    ])
    let g2 = try db.ints("SELECT end_reason FROM slices WHERE g = 2 ORDER BY start_ns")
    #expect(g2 == [[R.yield.rawValue], [R.block.rawValue], [R.block.rawValue], [R.end.rawValue]])
}

@Test func syscallWithHandoffAndThreadGrowth() throws {
    let db = try importScript(everyCauseScript())
    #expect(try db.ints("SELECT g, m, p, start_ns, end_ns, handoff FROM syscalls") == [[1, 1, 0, 220, 250, 1]])
    #expect(try db.ints("SELECT m, created_ns, exited_ns, cause, first_seen_ns FROM threads ORDER BY m") == [
        [1, null, null, null, 0],
        [2, null, null, null, 170],
        [3, null, null, null, 225],
        [4, 225, null, Int64(ThreadCause.handoff.rawValue), 225],
    ])
    // One row per timestamp at which a count changed, values after all events at that time.
    #expect(try db.ints("SELECT ts_ns, threads, in_syscall FROM thread_count ORDER BY ts_ns") == [
        [0, 1, 0], [170, 2, 0], [220, 2, 1], [225, 4, 1], [250, 4, 0],
    ])
}

@Test func syscallKeepingItsP() throws {
    var s = Script()
    s.p(0, 0, .procStart, 1)
    s.p(0, 0, .goCreate, 1, 0)
    s.p(0, 10, .goStart, 1, 1)
    s.p(0, 20, .goSyscallBegin)
    s.p(0, 50, .goSyscallEnd)
    s.p(0, 60, .goEnd)
    let db = try importScript(s)
    #expect(try db.ints("SELECT g, m, p, start_ns, end_ns, handoff FROM syscalls") == [[1, 1, 0, 20, 50, 0]])
    #expect(try db.ints("SELECT start_ns, end_ns, end_reason FROM slices ORDER BY start_ns") == [
        [10, 20, SliceEndReason.syscall.rawValue], [50, 60, SliceEndReason.end.rawValue],
    ])
    #expect(try db.ints("SELECT state, start_ns, end_ns, p, m FROM states ORDER BY start_ns") == [
        [0, 0, 10, 0, null], [1, 10, 20, 0, 1], [3, 20, 50, 0, 1], [1, 50, 60, 0, 1],
    ])
    #expect(try db.ints("SELECT syscall_ns, exec_ns FROM goroutines") == [[30, 20]])
}

@Test func preemptionPairsAndDelay() throws {
    var s = Script()
    s.p(0, 0, .procStart, 1)
    s.p(0, 0, .goCreate, 1, 0)
    s.p(0, 10, .goStart, 1, 1)
    s.m(9, 100, .preemptRequest, 1, 0)   // sysmon
    s.p(0, 150, .preempted, 0)           // async, delay 50
    s.p(0, 150, .goStop, 1)
    s.p(0, 160, .goStart, 1, 2)
    s.p(0, 200, .preempted, 1)           // cooperative, no request
    s.p(0, 200, .goStop, 1)
    s.p(0, 210, .goStart, 1, 3)
    s.m(9, 300, .preemptRequest, 1, 0)
    s.p(0, 310, .goBlock, 4)             // the request is never delivered
    s.m(9, 320, .preemptRequest, 99, 0)  // unknown G
    let db = try importScript(s)
    #expect(try db.ints("SELECT g, p, requested_ns, delivered_ns, delay_ns, kind FROM preemptions ORDER BY delivered_ns") == [
        [1, 0, 100, 150, 50, 0],
        [1, 0, null, 200, null, 1],
    ])
    #expect(try db.stat("preempt_request_undelivered") == 1)
    #expect(try db.stat("preempt_request_unknown_g") == 1)
    #expect(try db.ints("SELECT cause, latency_ns FROM sched_latency ORDER BY start_ns") == [
        [LatencyCause.created.rawValue, 10], [LatencyCause.preempted.rawValue, 10], [LatencyCause.preempted.rawValue, 10],
    ])
}

@Test func oddEventsAreCountedNotFatal() throws {
    var s = Script()
    s.p(0, 10, .goStart, 7, 1)           // unknown G, and no ProcStart for P0
    s.p(0, 20, .goStop, 0)
    s.p(0, 25, .goUnblock, 7, 3)         // not blocked: ignored
    s.p(0, 30, .goBlock, 0)              // nothing running on P0
    s.m(1, 40, .goSyscallEndBlocked, 7, 4) // not in a syscall
    s.p(0, 50, .goStart, 7, 5)
    s.p(0, 60, .goStart, 8, 1)           // another unknown G on a busy P
    s.m(2, 70, .threadExit, 2)
    s.m(2, 80, .traceLost, 12)           // a thread used after its exit; lost events
    let db = try importScript(s)
    #expect(try db.stat("unknown_g") == 2)
    #expect(try db.stat("proc_start_missing") == 1)
    #expect(try db.stat("wake_not_blocked") == 1)
    #expect(try db.stat("no_running_g") == 1)
    #expect(try db.stat("syscall_end_not_in_syscall") == 1)
    #expect(try db.stat("start_on_busy_p") == 1)
    #expect(try db.stat("thread_used_after_exit") == 1)
    #expect(try db.stat("events_lost") == 12)
    #expect(try db.ints("SELECT ts_ns, owner_kind, owner_id, count FROM lost_events") == [[80, 1, 2, 12]])
    // Unknown G 7: no latency for its first start (no ready time), one for the second.
    #expect(try db.ints("SELECT g, ready_ns, start_ns FROM sched_latency") == [[7, 20, 50]])
    #expect(try db.ints("SELECT g, created_ns FROM goroutines ORDER BY g") == [[7, null], [8, null]])
    #expect(db.report.importStats.contains { $0.name == "unknown_g" && $0.severity == .warning })
}

@Test func goroutineEndedTwiceOrCreatedTwice() throws {
    var s = Script()
    s.p(0, 0, .procStart, 1)
    s.p(0, 0, .goCreate, 1, 0)
    s.p(0, 10, .goStart, 1, 1)
    s.p(0, 20, .goCreate, 1, 0)          // id 1 still alive: old record closed
    s.p(0, 30, .goEnd)                   // nothing running any more on P0
    let db = try importScript(s)
    #expect(try db.stat("go_create_existing") == 1)
    #expect(try db.stat("no_running_g") == 1)
    #expect(try db.ints("SELECT g, created_ns, ended_ns, exec_ns FROM goroutines ORDER BY created_ns") == [
        [1, 0, null, 10], [1, 20, null, 0],
    ])
}

@Test func idleWhileRunnableNeedsOneMillisecond() throws {
    var s = Script()
    s.p(0, 0, .procStart, 1)
    s.p(0, 0, .goCreate, 1, 0)
    s.p(0, 0, .goStart, 1, 1)            // same instant: never an idle P with a runnable G
    s.p(0, 1_000, .goCreate, 2, 1)       // P1 never started: idle while g2 is runnable
    s.p(1, 3_000_000, .procStart, 2)
    s.p(1, 3_000_000, .goStart, 2, 1)    // violation 1_000 ..< 3_000_000
    s.p(0, 4_000_000, .goCreate, 3, 1)   // both Ps busy: no violation
    s.p(1, 4_200_000, .goBlock, 2)       // P1 idle, g3 runnable
    s.p(1, 4_700_000, .goStart, 3, 1)    // only 0.5 ms: not recorded
    s.p(0, 5_000_000, .goEnd)
    s.p(1, 5_000_000, .goEnd)
    let db = try importScript(s, maxProcs: 2)
    #expect(try db.ints("SELECT start_ns, end_ns, idle_ps, runnable_gs FROM idle_while_runnable") == [
        [1_000, 3_000_000, 1, 1],
    ])
}

@Test func intervalsOpenAtTraceEndCloseThere() throws {
    var s = Script()
    s.p(0, 0, .procStart, 1)
    s.p(0, 0, .goCreate, 1, 0)
    s.p(0, 10, .goStart, 1, 1)
    s.p(0, 20, .goCreate, 2, 1)
    s.p(0, 30, .goSyscallBegin)
    let db = try importScript(s, endNs: 100)
    #expect(try db.stat("runnable_at_trace_end") == 1)
    #expect(try db.stat("syscall_at_trace_end") == 1)
    #expect(try db.ints("SELECT g, start_ns, end_ns, handoff FROM syscalls") == [[1, 30, 100, 0]])
    #expect(try db.ints("SELECT g, state, start_ns, end_ns FROM states WHERE end_ns = 100 ORDER BY g") == [
        [1, 3, 30, 100], [2, 0, 20, 100],
    ])
    #expect(try db.ints("SELECT count(*) FROM sched_latency WHERE g = 2") == [[0]])
    #expect(try db.ints("SELECT ended_ns, runnable_ns FROM goroutines WHERE g = 2") == [[null, 80]])
    #expect(db.report.traceEndNs == 100)
}

@Test func timestampsGoingBackAreClamped() throws {
    var s = Script()
    s.p(0, 0, .procStart, 1)
    s.p(0, 100, .goCreate, 1, 0)
    s.p(0, 90, .goStart, 1, 1)           // earlier than the previous event
    s.p(0, 120, .goEnd)
    let db = try importScript(s)
    #expect(try db.ints("SELECT ready_ns, start_ns, latency_ns FROM sched_latency") == [[100, 100, 0]])
    #expect(try db.int("SELECT count(*) FROM states WHERE end_ns < start_ns") == 0)
}

@Test func goStatusRunningAndSyscallAtTraceStart() throws {
    var s = Script()
    s.p(0, 0, .procStart, 1)
    s.p(0, 0, .goStatus, 1, 0, 1)        // running on P0
    s.p(1, 0, .procStart, 2)
    s.p(1, 0, .goStatus, 2, 0, 3)        // in a syscall on P1
    s.p(1, 40, .procHandoff, 2, 0)       // P1 goes idle
    s.m(2, 60, .goSyscallEndBlocked, 2, 1)
    s.p(0, 70, .goStop, 0)               // g1 yields ...
    s.p(0, 70, .goStart, 2, 2)           // ... for g2: syscall latency 10
    let db = try importScript(s, maxProcs: 2, endNs: 80)
    #expect(try db.ints("SELECT g, m, p, start_ns, end_ns, handoff FROM syscalls") == [[2, 2, 1, 0, 60, 1]])
    #expect(try db.ints("SELECT g, latency_ns, cause FROM sched_latency") == [[2, 10, LatencyCause.syscall.rawValue]])
    #expect(try db.ints("SELECT p, m, g, start_ns, end_ns, end_reason FROM slices ORDER BY start_ns, g") == [
        [0, 1, 1, 0, 70, SliceEndReason.yield.rawValue], [0, 1, 2, 70, 80, SliceEndReason.traceEnd.rawValue],
    ])
}

@Test func rawEventsTableHoldsEveryEvent() throws {
    let script = everyCauseScript()
    let db = try importScript(script, rawEvents: true)
    #expect(try db.int("SELECT count(*) FROM events") == Int64(script.events.count))
    #expect(try db.ints("SELECT ts_ns, kind, owner_kind, owner_id, a0, a1, a2 FROM events WHERE kind = 6 ORDER BY ts_ns LIMIT 1") == [
        [140, 6, 0, 0, 2, 3, 1],
    ])
    #expect(try db.ints("SELECT a0, a1, a2 FROM events WHERE kind = 8 LIMIT 1") == [[null, null, null]])
    let noRaw = try importScript(script)
    #expect(throws: SQLiteError.self) { _ = try noRaw.db.prepare("SELECT * FROM events") }
}

@Test func absurdIdsAreStoredOrSkippedNotTrapped() throws {
    var s = Script()
    let huge = UInt64.max - 1
    s.p(0, 0, .procStart, huge)
    s.p(0, 0, .goCreate, huge, huge)
    s.p(0, 10, .goStart, huge, 1)
    s.p(0, 20, .steal, huge, huge)
    s.p(70_000, 30, .goStop, 0)          // a P id beyond what is tracked
    s.p(0, 40, .goEnd)
    let db = try importScript(s, maxProcs: 100_000)
    #expect(try db.ints("SELECT g, parent_g, exec_ns FROM goroutines") == [[-2, -2, 30]])
    #expect(try db.ints("SELECT m FROM threads") == [[-2]])
    #expect(try db.stat("p_out_of_range") == 1)
}

@Test func blockingByReasonAndProcUtilizationViews() throws {
    let db = try importScript(everyCauseScript())
    // g1 blocked on chan_recv (50..70) and net_read (150..170); g2 on sleep (120..140), other (180..210).
    #expect(try db.ints("SELECT g, reason, times, blocked_ns FROM goroutine_blocking ORDER BY g, reason") == [
        [1, 2, 1, 20], [1, 7, 1, 20], [2, 0, 1, 30], [2, 6, 1, 20],
    ])
    // P0 ran everything: g1 80 ns + g2 65 ns + g3 10 ns; g1's syscall (30 ns) began on P0.
    #expect(try db.ints("SELECT p, running_ns, syscall_ns, slices FROM proc_utilization") == [[0, 155, 30, 10]])
}
