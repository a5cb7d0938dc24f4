// `large`: a realistic mix of scheduling events at any size, for import benchmarks (1M and 10M
// events) and for checking that the importer's aggregates stay exact on big inputs.
//
// Shape: `procs` Ps, each with its own M (M1…) and a spare M for syscall handoffs (M procs+3…,
// so the thread count grows to 2 × procs + 2 and stays there), a ping-pong pair of goroutines
// and occasional short-lived workers; sysmon (M procs+1) requests preemptions, a netpoller thread (M procs+2)
// makes Gs ready. Time advances in steps of 100 µs; in every step each P does one action chosen
// by a seeded SplitMix64 generator (so the output is identical on every run):
//
// | weight | action | events |
// |---|---|---|
// | 50 | ping-pong: unblock the partner, block on chan_recv, partner starts after L | 3 |
// | 7 | blocking syscall that keeps the P, 2-20 µs | 2 |
// | 3 | 30 µs syscall: sysmon hands the P to the P's other M (created on first use, cause handoff), the G returns without a P and starts after L | 5-6 |
// | 10 | yield, restart after L | 2 |
// | 5 | sysmon preempt request, async preemption 3 µs later, restart after L | 4 |
// | 10 | sleep 20 µs, timer wake (P batch), start after L | 3 |
// | 5 | net_read, NetpollReady from the netpoller M 10 µs later, start after L | 3 |
// | 10 | spawn a worker, wait on a waitgroup: worker runs 2 µs, wakes the parent, ends | 6 |
//
// L (the scheduling latency) is drawn from {0.5, 1, 1.5, 2, 3, 5, 8, 20} µs. Every action of a
// step ends within 51 µs of its start and leaves every P running a G, so no idle-while-runnable
// interval reaches 1 ms. The answers are aggregates (rows are not listed): exact counts, sums
// and nearest-rank percentiles, kept as value histograms.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SpoolTraceFormat

/// SplitMix64: a tiny deterministic generator (fixed seed, same stream on every platform). The
/// one generator of the package's seeded tests and fixtures, so a failure reproduces from its seed.
public struct SplitMix64: RandomNumberGenerator {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    public init(seed: UInt64) { self.state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in `0 ..< n` (modulo bias is irrelevant here).
    public mutating func below(_ n: UInt64) -> UInt64 { next() % n }
}

extension Scenarios {
    /// A mixed trace of about `events` events (at least that many; the exact count is in
    /// `expected.eventCount`) on `procs` Ps. Deterministic (fixed seed).
    public static func large(events: Int, procs: Int = 4) -> Scenario {
        precondition(events > 0 && procs >= 1 && procs <= 64)
        let name = largeName(events: events, procs: procs)
        return Scenario(
            name: name,
            summary: "~\(events) events of ping-pong, workers, syscalls, timers, netpoll and preemption on \(procs) Ps (seeded; aggregates only)",
            make: {
                let b = largeBuilder(events: events, procs: procs, sink: .memory)
                let e = generateLarge(events: events, procs: procs, builder: b)
                return (b.bytes, e)
            },
            expectedOnly: {
                generateLarge(events: events, procs: procs, builder: largeBuilder(events: events, procs: procs, sink: .discard))
            })
    }

    /// `large` for the default size, else `large-<events>` (plus `-p<procs>` when not 4 Ps).
    static func largeName(events: Int, procs: Int) -> String {
        if events == 100_000 && procs == 4 { return "large" }
        return "large-\(events)" + (procs == 4 ? "" : "-p\(procs)")
    }

    static func largeBuilder(events: Int, procs: Int, sink: TraceSink) -> TraceBuilder {
        TraceBuilder(header: scenarioHeader(largeName(events: events, procs: procs), maxProcs: procs), batchEvents: Int.max,
                     batchCapacity: 64 << 10, sink: sink, recordFrames: false)
    }

    static func generateLarge(events target: Int, procs: Int, builder: TraceBuilder) -> Expected {
        let m = ScenarioModel(builder: builder, listRows: false)
        var rng = SplitMix64(state: 0x5EED_5900_1000_0001)
        let sysmon = BatchOwner.m(UInt32(procs + 1))
        let netpoller = BatchOwner.m(UInt32(procs + 2))
        let latencies: [(Int64, UInt64)] = [(500, 30), (1000, 25), (1500, 15), (2000, 10), (3000, 8), (5000, 6),
                                            (8000, 4), (20_000, 2)]
        func latency() -> Int64 {
            var r = rng.below(100)
            for (v, w) in latencies { if r < w { return v }; r -= w }
            return latencies.last!.0
        }
        // Per P: the running G and its blocked partner.
        var current = [Int64](repeating: 0, count: procs)
        var partner = [Int64](repeating: 0, count: procs)
        var nextG: Int64 = 1
        // Per P: the M holding it and the other M it is handed to in a long syscall.
        var holder = (0..<procs).map { Int64($0 + 1) }
        var spare = (0..<procs).map { Int64(procs + 3 + $0) }
        var spareCreated = [Bool](repeating: false, count: procs)
        for p in 0..<procs {
            m.procStart(p: p, m: Int64(p + 1), at: 0)
            current[p] = nextG
            partner[p] = nextG + 1
            nextG += 2
        }
        m.threadCreate(m: Int64(procs + 1), cause: .sysmon, by: .p(0), at: 0)
        m.threadCreate(m: Int64(procs + 2), cause: .other, by: .p(0), at: 0)
        for p in 0..<procs {
            m.create(g: current[p], parent: 0, by: .p(UInt32(p)), at: 0)
            m.create(g: partner[p], parent: 0, by: .p(UInt32(p)), at: 0)
        }
        for p in 0..<procs { m.start(g: partner[p], p: p, at: 1000) }
        for p in 0..<procs { m.block(p: p, .chanRecv, at: 2000) }
        for p in 0..<procs { m.start(g: current[p], p: p, at: 3000) }

        enum Op {
            case unblock(Int64), block(BlockReason), start(Int64), syscallBegin, syscallEnd, yield
            case request(Int64), preempted, wakeTimer(Int64), netpollReady(Int64), create(Int64, Int64), end
            case threadCreate(Int64), handoff(Int64), procStart(Int64), syscallEndBlocked(Int64)
        }
        struct Item { var t: Int64; var p: Int; var n: Int; var op: Op }
        let stepNs: Int64 = 100_000
        var step: Int64 = 1
        var items: [Item] = []
        items.reserveCapacity(procs * 8)
        while builder.eventsAppended < target {
            items.removeAll(keepingCapacity: true)
            for p in 0..<procs {
                let t0 = step * stepNs + Int64(p) * 100
                let x = current[p]
                var n = 0
                func add(_ t: Int64, _ op: Op) { items.append(Item(t: t, p: p, n: n, op: op)); n += 1 }
                let r = rng.below(100)
                switch r {
                case 0..<50:
                    let y = partner[p]
                    add(t0, .unblock(y))
                    add(t0 + 200, .block(.chanRecv))
                    add(t0 + 200 + latency(), .start(y))
                    current[p] = y
                    partner[p] = x
                case 50..<57:
                    let d: [Int64] = [2000, 5000, 20_000]
                    add(t0, .syscallBegin)
                    add(t0 + d[Int(rng.below(3))], .syscallEnd)
                case 57..<60:
                    let to = spare[p]
                    add(t0, .syscallBegin)
                    if !spareCreated[p] {
                        add(t0 + 19_000, .threadCreate(to))
                        spareCreated[p] = true
                    }
                    add(t0 + 20_000, .handoff(to))
                    add(t0 + 21_000, .procStart(to))
                    add(t0 + 30_000, .syscallEndBlocked(x))
                    add(t0 + 30_000 + latency(), .start(x))
                    spare[p] = holder[p]
                    holder[p] = to
                case 60..<70:
                    add(t0, .yield)
                    add(t0 + latency(), .start(x))
                case 70..<75:
                    add(t0, .request(x))
                    add(t0 + 3000, .preempted)
                    add(t0 + 3000 + latency(), .start(x))
                case 75..<85:
                    add(t0, .block(.sleep))
                    add(t0 + 20_000, .wakeTimer(x))
                    add(t0 + 20_000 + latency(), .start(x))
                case 85..<90:
                    add(t0, .block(.netRead))
                    add(t0 + 10_000, .netpollReady(x))
                    add(t0 + 10_000 + latency(), .start(x))
                default:
                    let w = nextG
                    nextG += 1
                    let l1 = latency()
                    add(t0, .create(w, x))
                    add(t0 + 100, .block(.waitGroup))
                    add(t0 + 100 + l1, .start(w))
                    add(t0 + 100 + l1 + 2000, .unblock(x))
                    add(t0 + 100 + l1 + 2100, .end)
                    add(t0 + 100 + l1 + 2100 + latency(), .start(x))
                }
            }
            items.sort { ($0.t, $0.p, $0.n) < ($1.t, $1.p, $1.n) }
            for item in items {
                let p = item.p, t = item.t
                switch item.op {
                case .unblock(let g): m.unblock(g: g, by: p, at: t)
                case .block(let reason): m.block(p: p, reason, at: t)
                case .start(let g): m.start(g: g, p: p, at: t)
                case .syscallBegin: m.syscallBegin(p: p, at: t)
                case .syscallEnd: m.syscallEnd(p: p, at: t)
                case .yield: m.yield(p: p, at: t)
                case .request(let g): m.preemptRequest(g: g, p: p, by: sysmon, at: t)
                case .preempted: m.preempted(p: p, kind: .async, at: t)
                case .wakeTimer(let g): m.wake(g: g, source: .timer, by: .p(UInt32(p)), at: t)
                case .netpollReady(let g): m.netpollReady(g: g, by: netpoller, at: t)
                case .create(let g, let parent): m.create(g: g, parent: parent, by: .p(UInt32(p)), at: t)
                case .end: m.end(p: p, at: t)
                case .threadCreate(let newM): m.threadCreate(m: newM, cause: .handoff, by: sysmon, at: t)
                case .handoff(let to): m.handoff(p: p, toM: to, at: t)
                case .procStart(let newM): m.procStart(p: p, m: newM, at: t)
                case .syscallEndBlocked(let g): m.syscallEndBlocked(g: g, at: t)
                }
            }
            step += 1
        }
        return m.finish(endNs: step * stepNs)
    }
}

/// Streams the `large` scenario with about `events` events on `procs` Ps to `path` (replacing
/// it), without holding the trace in memory. Same bytes as `Scenarios.large(events:procs:).trace()`.
public func writeLarge(events: Int, procs: Int = 4, to path: String) throws {
    try withFile(path) { f in
        let b = Scenarios.largeBuilder(events: events, procs: procs, sink: .file(f))
        _ = Scenarios.generateLarge(events: events, procs: procs, builder: b)
        if b.writeFailed { throw ScenarioError(description: "\(path): write failed: \(String(cString: strerror(errno)))") }
    }
}
