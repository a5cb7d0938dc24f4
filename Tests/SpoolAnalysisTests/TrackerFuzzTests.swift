// Random event sequences through the tracker: whatever the trace claims, the import finishes,
// and the tables keep their invariants (policy "Count, repair, continue" in SchedTracker.swift).

import SpoolScenarios
import Testing
import SpoolTraceFormat
@testable import SpoolAnalysis

/// The package's seeded generator, so failures reproduce from the seed.
private typealias SplitMix = SplitMix64

/// `count` events of random kinds with arguments drawn from small id ranges, so that events
/// hit the same few Gs, Ps and Ms in every possible contradictory order.
private func randomScript(seed: UInt64, count: Int, maxProcs: UInt32) -> Script {
    var rng = SplitMix(state: seed)
    var s = Script()
    var t: UInt64 = 0
    for _ in 0..<count {
        t += UInt64.random(in: 0...2_000_000, using: &rng)  // ties, and gaps over 1 ms
        let kind = EventKind.allCases.randomElement(using: &rng)!
        let g = UInt64.random(in: 0...6, using: &rng)  // 0: "none", named by mistake
        let m = UInt64.random(in: 0...4, using: &rng)
        let p = UInt32.random(in: 0..<maxProcs, using: &rng)
        var args: [UInt64]
        switch kind {
        case .goCreate: args = [g, UInt64.random(in: 0...6, using: &rng)]
        case .goStart, .goUnblock, .netpollReady, .goSyscallEndBlocked: args = [g, UInt64.random(in: 0...127, using: &rng)]
        case .goStop: args = [UInt64.random(in: 0...1, using: &rng)]
        case .goBlock: args = [UInt64.random(in: 0...8, using: &rng)]
        case .goWake: args = [g, 1, UInt64.random(in: 0...1, using: &rng)]
        case .goStatus: args = [g, 0, UInt64.random(in: 0...3, using: &rng)]
        case .procStart: args = [m]
        case .procHandoff: args = [m, UInt64.random(in: 0...4, using: &rng)]
        case .preemptRequest: args = [g, UInt64(p)]
        case .preempted: args = [UInt64.random(in: 0...1, using: &rng)]
        case .threadCreate: args = [m, UInt64.random(in: 0...4, using: &rng)]
        case .threadExit: args = [m]
        case .steal: args = [UInt64(p), 2]
        case .traceLost: args = [3]
        default: args = []
        }
        let owner: BatchOwner = kind.allowedIn.contains(.p) && (Bool.random(using: &rng) || !kind.allowedIn.contains(.m))
            ? .p(p) : .m(UInt32(max(m, 1)))
        var a = args + [0, 0, 0]
        a = Array(a.prefix(3))
        s.events.append(TraceEvent(kind: kind, ticks: t, owner: owner, a0: a[0], a1: a[1], a2: a[2]))
    }
    return s
}

@Test(arguments: 0..<40)
func randomEventsNeverBreakTheInvariants(seed: Int) throws {
    let script = randomScript(seed: UInt64(seed), count: 300, maxProcs: 3)
    let db = try importScript(script, maxProcs: 3)
    // No negative interval, no interval outside the trace.
    #expect(try db.int("SELECT count(*) FROM states WHERE end_ns < start_ns OR start_ns < 0") == 0)
    #expect(try db.int("SELECT count(*) FROM sched_latency WHERE latency_ns < 0") == 0)
    #expect(try db.int("SELECT count(*) FROM idle_while_runnable WHERE end_ns - start_ns < 1000000") == 0)
    // Per-G totals are the sums of its states (goroutine ids can repeat after GoCreate of a
    // live id, so compare the grand totals).
    let totals = try db.ints("SELECT sum(exec_ns), sum(runnable_ns), sum(blocked_ns), sum(syscall_ns), sum(slices) FROM goroutines")
    let fromStates = try db.ints("""
        SELECT sum(CASE state WHEN 1 THEN end_ns - start_ns ELSE 0 END),
               sum(CASE state WHEN 0 THEN end_ns - start_ns ELSE 0 END),
               sum(CASE state WHEN 2 THEN end_ns - start_ns ELSE 0 END),
               sum(CASE state WHEN 3 THEN end_ns - start_ns ELSE 0 END),
               sum(state = 1)
        FROM states
        """)
    #expect(totals == fromStates)
    // Every thread counted in thread_count is in threads, and counts never go negative.
    #expect(try db.int("SELECT count(*) FROM thread_count WHERE threads < 0 OR in_syscall < 0") == 0)
    #expect(try db.int("SELECT coalesce(max(threads), 0) FROM thread_count")! <= (try db.int("SELECT count(*) FROM threads"))!)
    // The summary renders.
    let summary = try Summary.compute(db.db)
    #expect(Int64(summary.latency.overall.count) == (try db.int("SELECT count(*) FROM sched_latency")))
    #expect(!summary.renderText().isEmpty)
}
