// The small scenarios: each a story of a few goroutines whose every row is listed in its
// `Expected`. Time stamps are chosen so that each latency is a round number stated in the
// comment above the script (the model records the rows; the comments say what they must be).

import SpoolTraceFormat

extension Scenarios {
    /// Producer and consumer over an unbuffered channel on 2 Ps, 70 item pairs (seq numbers of
    /// both Gs wrap past 127). Per pair: the consumer is unblocked by the producer and starts
    /// 2 µs later; the producer blocks on `chan_send`, is unblocked by the consumer and starts
    /// 3 µs later. M1 predates the trace (threads row with NULL created_ns); M2 is created.
    public static let producerConsumer = Scenario(
        name: "producer-consumer",
        summary: "producer/consumer over a channel on 2 Ps: 142 unblocked wakeups of exactly 2 µs and 3 µs, seq wraparound",
        make: {
            runScript("producer-consumer", maxProcs: 2, batchEvents: 16) { m in
                let pairs: Int64 = 70
                m.procStart(p: 0, m: 1, at: 0)
                m.create(g: 1, parent: 0, by: .p(0), at: 0)
                m.start(g: 1, p: 0, at: 200)                         // created, 200 ns
                m.threadCreate(m: 2, cause: .spinning, by: .p(0), at: 500)
                m.procStart(p: 1, m: 2, at: 1000)
                m.create(g: 2, parent: 1, by: .p(0), at: 1200)       // producer
                m.create(g: 3, parent: 1, by: .p(0), at: 1500)       // consumer
                m.block(p: 0, .waitGroup, at: 2000)                  // main waits for both
                m.start(g: 2, p: 0, at: 3000)                        // created, 1800 ns
                m.start(g: 3, p: 1, at: 3500)                        // created, 2000 ns
                m.block(p: 1, .chanRecv, at: 4000)
                for j in 0..<pairs {
                    let b = 10_000 + j * 100_000
                    m.unblock(g: 3, by: 0, at: b)                    // item 2j to the waiting consumer
                    m.start(g: 3, p: 1, at: b + 2000)                // unblocked, 2 µs
                    m.block(p: 0, .chanSend, at: b + 10_000)         // item 2j+1: consumer busy
                    m.unblock(g: 2, by: 1, at: b + 32_000)           // consumer takes it
                    m.start(g: 2, p: 0, at: b + 35_000)              // unblocked, 3 µs
                    m.block(p: 1, .chanRecv, at: b + 62_000)
                }
                let b = 10_000 + pairs * 100_000
                m.unblock(g: 3, by: 0, at: b)                        // close(ch)
                m.end(p: 0, at: b + 1000)
                m.start(g: 3, p: 1, at: b + 2000)                    // unblocked, 2 µs
                m.unblock(g: 1, by: 1, at: b + 5000)                 // wg.done
                m.end(p: 1, at: b + 6000)
                m.start(g: 1, p: 0, at: b + 8000)                    // unblocked, 3 µs
                m.end(p: 0, at: b + 10_000)
                m.procStop(p: 0, at: b + 11_000)
                m.procStop(p: 1, at: b + 11_000)
                return b + 20_000
            }
        })

    /// Four sleepers on 2 Ps wake on timers every 1 ms for 8 cycles; every timer wakeup waits
    /// exactly 2 µs. G5's timers are fired from sysmon's M batch (M3), the others from their P's
    /// batch. G1, G6, G7 and G8 existed at trace start (GoStatus): G1 runnable (seq 5; its
    /// latency has cause `status`), G6 blocked for the whole trace (seq 3), G7 blocked (seq 126)
    /// until the runtime wakes it from M3 at 7.5 ms (cause `runtime`, 3 µs; its seq wraps to 0
    /// at that GoStart), G8 running on P1 (its first slice starts at the GoStatus) until 1 µs.
    public static let sleepers = Scenario(
        name: "sleepers",
        summary: "4 sleepers on timers (GoBlock sleep, GoWake timer from P and M batches): 32 wakeups of exactly 2 µs; GoStatus runnable/blocked/running at trace start; one runtime wakeup",
        make: {
            runScript("sleepers", maxProcs: 2, batchEvents: 12) { m in
                let cycles: Int64 = 8
                m.procStart(p: 0, m: 1, at: 0)
                m.procStart(p: 1, m: 2, at: 0)
                m.status(g: 1, seq: 5, .runnable, by: .p(0), at: 0)
                m.status(g: 6, seq: 3, .blocked, by: .p(0), at: 0)
                m.status(g: 7, seq: 126, .blocked, by: .p(0), at: 0)
                m.status(g: 8, seq: 0, .running, by: .p(1), at: 0)
                m.threadCreate(m: 3, cause: .sysmon, by: .p(0), at: 100)
                m.end(p: 1, at: 1000)                                // G8
                m.start(g: 1, p: 0, at: 1500)                        // status, 1500 ns
                for (i, g) in [Int64(2), 3, 4, 5].enumerated() {
                    m.create(g: g, parent: 1, by: .p(0), at: 2000 + Int64(i) * 100)
                }
                m.block(p: 0, .waitGroup, at: 3000)
                m.start(g: 2, p: 0, at: 4000)                        // created, 2000 ns
                m.start(g: 4, p: 1, at: 4000)                        // created, 1800 ns
                m.block(p: 0, .sleep, at: 5000)
                m.block(p: 1, .sleep, at: 5000)
                m.start(g: 3, p: 0, at: 5000)                        // created, 2900 ns
                m.start(g: 5, p: 1, at: 5000)                        // created, 2700 ns
                m.block(p: 0, .sleep, at: 6000)
                m.block(p: 1, .sleep, at: 6000)
                // (g, its P, phase within each 1 ms cycle, who fires its timer)
                let sleepers: [(Int64, Int, Int64, BatchOwner)] = [
                    (2, 0, 100_000, .p(0)), (4, 1, 200_000, .p(1)), (3, 0, 300_000, .p(0)), (5, 1, 400_000, .m(3)),
                ]
                for k in 1...cycles {
                    for (g, p, phase, waker) in sleepers {
                        let w = k * 1_000_000 + phase
                        m.wake(g: g, source: .timer, by: waker, at: w)
                        m.start(g: g, p: p, at: w + 2000)            // timer, 2 µs
                        if k < cycles {
                            m.block(p: p, .sleep, at: w + 12_000)
                        } else {
                            if g == 5 {
                                m.unblock(g: 1, by: p, at: w + 11_000)    // the last one wakes main
                            }
                            m.end(p: p, at: w + 12_000)
                            if g == 5 {
                                m.start(g: 1, p: 0, at: w + 14_000)       // unblocked, 3 µs
                                m.end(p: 0, at: w + 20_000)
                            }
                        }
                    }
                    if k == 7 {
                        m.wake(g: 7, source: .runtime, by: .m(3), at: 7_500_000)
                        m.start(g: 7, p: 1, at: 7_503_000)          // runtime, 3 µs
                        m.end(p: 1, at: 7_510_000)
                    }
                }
                m.procStop(p: 0, at: cycles * 1_000_000 + 500_000)
                m.procStop(p: 1, at: cycles * 1_000_000 + 500_000)
                return cycles * 1_000_000 + 600_000
            }
        })

    /// Four workers on 2 Ps enter long blocking syscalls; sysmon (M3) hands each stuck P to a new
    /// thread (ThreadCreate cause handoff: M4, M5, M6) or to nobody, so the live thread count
    /// rises 2 → 6; the calls return without their P (GoSyscallEndBlocked, cause `syscall`), and
    /// M4 and M5 exit (6 → 4). Main's final short syscall keeps its P (handoff 0).
    public static let syscallBurst = Scenario(
        name: "syscall-burst",
        summary: "blocking syscalls with ProcHandoff: threads created for handoffs (peak 6) then exiting, GoSyscallEndBlocked wakeups",
        make: {
            runScript("syscall-burst", maxProcs: 2, batchEvents: 6) { m in
                m.procStart(p: 0, m: 1, at: 0)
                m.procStart(p: 1, m: 2, at: 0)
                m.create(g: 1, parent: 0, by: .p(0), at: 0)
                m.threadCreate(m: 3, cause: .sysmon, by: .p(0), at: 100)
                m.start(g: 1, p: 0, at: 1000)                        // created, 1000
                for (i, g) in [Int64(2), 3, 4, 5].enumerated() {
                    m.create(g: g, parent: 1, by: .p(0), at: 2000 + Int64(i) * 100)
                }
                m.block(p: 0, .waitGroup, at: 3000)
                m.start(g: 2, p: 0, at: 4000)                        // created, 2000
                m.start(g: 3, p: 1, at: 4000)                        // created, 1900
                m.syscallBegin(p: 0, at: 5000)                       // g2 on M1
                m.syscallBegin(p: 1, at: 5500)                       // g3 on M2
                m.threadCreate(m: 4, cause: .handoff, by: .m(3), at: 24_000)
                m.handoff(p: 0, toM: 4, at: 25_000)
                m.procStart(p: 0, m: 4, at: 26_000)
                m.start(g: 4, p: 0, at: 27_000)                      // created, 24 800
                m.syscallBegin(p: 0, at: 28_000)                     // g4 on M4
                m.threadCreate(m: 5, cause: .handoff, by: .m(3), at: 29_000)
                m.handoff(p: 1, toM: 5, at: 30_000)
                m.procStart(p: 1, m: 5, at: 31_000)
                m.start(g: 5, p: 1, at: 32_000)                      // created, 29 700
                m.syscallBegin(p: 1, at: 33_000)                     // g5 on M5
                m.threadCreate(m: 6, cause: .handoff, by: .m(3), at: 47_000)
                m.handoff(p: 0, toM: 6, at: 48_000)
                m.procStart(p: 0, m: 6, at: 49_000)
                m.handoff(p: 1, toM: 0, at: 53_000)                  // P1 to nobody: idle, unheld
                m.syscallEndBlocked(g: 2, at: 200_000)               // in M1's batch
                m.start(g: 2, p: 0, at: 203_000)                     // syscall, 3000 (on M6)
                m.end(p: 0, at: 210_000)
                m.syscallEndBlocked(g: 3, at: 220_000)               // in M2's batch
                m.procStart(p: 1, m: 2, at: 221_000)                 // M2 takes the idle P1
                m.start(g: 3, p: 1, at: 222_000)                     // syscall, 2000
                m.end(p: 1, at: 230_000)
                m.syscallEndBlocked(g: 4, at: 240_000)
                m.threadExit(m: 4, by: .m(4), at: 241_000)
                m.start(g: 4, p: 0, at: 242_000)                     // syscall, 2000
                m.end(p: 0, at: 250_000)
                m.syscallEndBlocked(g: 5, at: 260_000)
                m.threadExit(m: 5, by: .m(5), at: 261_000)
                m.start(g: 5, p: 1, at: 263_000)                     // syscall, 3000 (on M2)
                m.unblock(g: 1, by: 1, at: 268_000)
                m.end(p: 1, at: 270_000)
                m.start(g: 1, p: 0, at: 271_000)                     // unblocked, 3000
                m.syscallBegin(p: 0, at: 272_000)                    // keeps its P
                m.syscallEnd(p: 0, at: 280_000)
                m.end(p: 0, at: 285_000)
                m.procStop(p: 0, at: 290_000)
                m.procStop(p: 1, at: 290_000)
                return 300_000
            }
        })

    /// A tight loop (G2) on one P, preempted asynchronously five times: sysmon (M2) requests
    /// preemption 10.02 ms into each slice, delivery takes 30, 40, 50, 60, 70 µs, and the loop
    /// restarts 1 µs later. Then main is woken, preempted cooperatively without a request
    /// (requested_ns NULL) and left runnable at trace end; the loop runs until trace end
    /// (a `trace_end` slice).
    public static let preemptedLoop = Scenario(
        name: "preempted-loop",
        summary: "tight loop preempted every ~10 ms (PreemptRequest from sysmon's M batch, Preempted async): 5 long slices, delays 30-70 µs",
        make: {
            runScript("preempted-loop", maxProcs: 1, batchEvents: 5,
                      meta: [TraceHeader.KeyValue("quantum_ns", "10000000")]) { m in
                m.procStart(p: 0, m: 1, at: 0)
                m.create(g: 1, parent: 0, by: .p(0), at: 0)
                m.threadCreate(m: 2, cause: .sysmon, by: .p(0), at: 500)
                m.start(g: 1, p: 0, at: 1000)                        // created, 1000
                m.create(g: 2, parent: 1, by: .p(0), at: 2000)
                m.block(p: 0, .chanRecv, at: 3000)
                var s: Int64 = 4000
                m.start(g: 2, p: 0, at: s)                           // created, 2000
                for i in 0..<Int64(5) {
                    let request = s + 10_020_000
                    let delivered = request + 30_000 + i * 10_000
                    m.preemptRequest(g: 2, p: 0, by: .m(2), at: request)
                    m.preempted(p: 0, kind: .async, at: delivered)
                    s = delivered + 1000
                    m.start(g: 2, p: 0, at: s)                       // preempted, 1000
                }
                let y = s + 2_000_000
                m.unblock(g: 1, by: 0, at: y)
                m.yield(p: 0, at: y + 1000)
                m.start(g: 1, p: 0, at: y + 2000)                    // unblocked, 2000
                m.preempted(p: 0, kind: .cooperative, at: y + 7000)  // no request
                m.start(g: 2, p: 0, at: y + 8000)                    // yielded, 7000
                return y + 8000 + 3_000_000
            }
        })

    /// Three network handlers on 2 Ps, 6 rounds of 100 µs: G2 is made ready by P0's own netpoll
    /// (NetpollReady in a P batch) and starts 1.5 µs later; G3 and G4 are made ready by the
    /// netpoller thread M3 (M batch) and start 4 µs later. G4 alternates net_read / net_write.
    public static let netpoll = Scenario(
        name: "netpoll",
        summary: "netpoll-ready wakeups from P and M batches: 6 of exactly 1.5 µs, 12 of exactly 4 µs",
        make: {
            runScript("netpoll", maxProcs: 2, batchEvents: 10) { m in
                let rounds: Int64 = 6
                m.procStart(p: 0, m: 1, at: 0)
                m.procStart(p: 1, m: 2, at: 0)
                m.create(g: 1, parent: 0, by: .p(0), at: 0)
                m.threadCreate(m: 3, cause: .other, by: .p(0), at: 500)
                m.start(g: 1, p: 0, at: 1000)                        // created, 1000
                m.create(g: 2, parent: 1, by: .p(0), at: 2000)
                m.create(g: 3, parent: 1, by: .p(0), at: 2100)
                m.create(g: 4, parent: 1, by: .p(0), at: 2200)
                m.block(p: 0, .chanRecv, at: 3000)
                m.start(g: 2, p: 0, at: 4000)                        // created, 2000
                m.start(g: 3, p: 1, at: 4000)                        // created, 1900
                m.block(p: 0, .netRead, at: 5000)
                m.block(p: 1, .netRead, at: 5000)
                m.start(g: 4, p: 0, at: 5500)                        // created, 3300
                m.block(p: 0, .netRead, at: 6000)
                for r in 1...rounds {
                    let base = r * 100_000
                    m.netpollReady(g: 2, by: .p(0), at: base + 10_000)
                    m.start(g: 2, p: 0, at: base + 11_500)           // netpoll, 1500
                    if r < rounds { m.block(p: 0, .netRead, at: base + 19_500) } else { m.end(p: 0, at: base + 19_500) }
                    m.netpollReady(g: 3, by: .m(3), at: base + 20_000)
                    m.start(g: 3, p: 1, at: base + 24_000)           // netpoll, 4000
                    if r < rounds { m.block(p: 1, .netRead, at: base + 32_000) } else { m.end(p: 1, at: base + 32_000) }
                    m.netpollReady(g: 4, by: .m(3), at: base + 50_000)
                    m.start(g: 4, p: 0, at: base + 54_000)           // netpoll, 4000
                    if r < rounds {
                        m.block(p: 0, r % 2 == 0 ? .netWrite : .netRead, at: base + 62_000)
                    } else {
                        m.unblock(g: 1, by: 0, at: base + 61_000)
                        m.end(p: 0, at: base + 62_000)
                        m.start(g: 1, p: 1, at: base + 64_000)       // unblocked, 3000
                        m.end(p: 1, at: base + 70_000)
                        m.procStop(p: 0, at: base + 80_000)
                        m.procStop(p: 1, at: base + 80_000)
                    }
                }
                return rounds * 100_000 + 90_000
            }
        })

    /// G3 is created at 0.1 ms into P0's run queue while P0 is hogged by G1 and P1 sits
    /// stopped; at 50.1 ms P1 restarts, steals G3 and runs it: one sched_latency row of exactly
    /// 50 ms (a long wait), one idle_while_runnable row [0.1 ms, 50.1 ms] with 1 idle P and 1
    /// runnable G, and G1's 50.199 ms slice is a long slice.
    public static let starved = Scenario(
        name: "starved",
        summary: "a goroutine waits exactly 50 ms in a run queue while P1 sits idle: one long wait, one 50 ms idle_while_runnable interval",
        make: {
            runScript("starved", maxProcs: 2, batchEvents: 4) { m in
                m.procStart(p: 0, m: 1, at: 0)
                m.procStart(p: 1, m: 2, at: 0)
                m.create(g: 1, parent: 0, by: .p(0), at: 0)
                m.start(g: 1, p: 0, at: 1000)                        // created, 1000
                m.create(g: 2, parent: 1, by: .p(0), at: 5000)
                m.start(g: 2, p: 1, at: 7000)                        // created, 2000
                m.end(p: 1, at: 20_000)
                m.procStop(p: 1, at: 21_000)
                m.create(g: 3, parent: 1, by: .p(0), at: 100_000)    // into P0's queue; P1 stopped
                m.procStart(p: 1, m: 2, at: 50_100_000)
                m.steal(p: 1, from: 0, count: 1, at: 50_100_000)
                m.start(g: 3, p: 1, at: 50_100_000)                  // created, 50 000 000
                m.end(p: 1, at: 50_110_000)
                m.end(p: 0, at: 50_200_000)
                m.procStop(p: 0, at: 50_300_000)
                m.procStop(p: 1, at: 50_300_000)
                return 50_400_000
            }
        })

    /// Ping-pong between G2 (P0) and G3 (P1), 30 rounds, every wakeup 3 µs; everything ends and
    /// both Ps stop at 618 µs. Then the batches written after that (a new G on P0) are cut in
    /// the middle of the first one: there is no end frame. The answers are those of the
    /// complete batches; `truncation` says where the reader must stop.
    public static let truncated = Scenario(
        name: "truncated",
        summary: "a trace cut mid-batch with no end frame: the complete batches hold a finished ping-pong (62 wakeups of 3 µs), the cut batch is reported by offset",
        make: { makeTruncated(corrupt: false) })

    /// The same trace as `truncated`, written to the end (end frame included), but one payload
    /// byte of the first batch after the finished story is flipped: the reader stops at that
    /// frame (CRC mismatch) and imports nothing after it, although valid frames follow.
    public static let corruptBatch = Scenario(
        name: "corrupt-batch",
        summary: "a flipped payload byte in one batch: CRC mismatch reported at the frame's offset, only the batches before it imported",
        make: { makeTruncated(corrupt: true) })

    static func makeTruncated(corrupt: Bool) -> ([UInt8], Expected) {
        let name = corrupt ? "corrupt-batch" : "truncated"
        let builder = TraceBuilder(header: scenarioHeader(name, maxProcs: 2), batchEvents: 8)
        let m = ScenarioModel(builder: builder)
        m.procStart(p: 0, m: 1, at: 0)
        m.procStart(p: 1, m: 2, at: 0)
        m.create(g: 1, parent: 0, by: .p(0), at: 0)
        m.start(g: 1, p: 0, at: 1000)                                // created, 1000
        m.create(g: 2, parent: 1, by: .p(0), at: 2000)
        m.create(g: 3, parent: 1, by: .p(0), at: 2100)
        m.block(p: 0, .waitGroup, at: 3000)
        m.start(g: 2, p: 0, at: 4000)                                // created, 2000
        m.start(g: 3, p: 1, at: 4100)                                // created, 2000
        m.block(p: 1, .chanRecv, at: 5000)
        for i in 0..<Int64(30) {
            let b = 10_000 + i * 20_000
            m.unblock(g: 3, by: 0, at: b)
            m.block(p: 0, .chanRecv, at: b + 1000)
            m.start(g: 3, p: 1, at: b + 3000)                        // unblocked, 3000
            m.unblock(g: 2, by: 1, at: b + 6000)
            m.block(p: 1, .chanRecv, at: b + 7000)
            m.start(g: 2, p: 0, at: b + 9000)                        // unblocked, 3000
        }
        let b: Int64 = 10_000 + 30 * 20_000
        m.unblock(g: 3, by: 0, at: b)
        m.end(p: 0, at: b + 1000)
        m.start(g: 3, p: 1, at: b + 3000)                            // unblocked, 3000
        m.unblock(g: 1, by: 1, at: b + 4000)
        m.end(p: 1, at: b + 5000)
        m.start(g: 1, p: 0, at: b + 6000)                            // unblocked, 2000
        m.end(p: 0, at: b + 7000)
        m.procStop(p: 0, at: b + 8000)
        m.procStop(p: 1, at: b + 8000)
        let t = b + 8000
        var expected = m.finish(endNs: t, writeEnd: false)
        builder.flushAll()
        let complete = builder.frames.count
        let completeEvents = builder.eventsWritten
        let validBytes = builder.bytesWritten
        // What the program went on to write before it died: a new goroutine on P0.
        let p0 = BatchOwner.p(0)
        builder.append(p0, .procStart, ns: t + 1000, 1)
        builder.append(p0, .goCreate, ns: t + 1000, 9, 0)
        builder.resetSeq(9, to: 0)
        for k in 0..<Int64(10) {
            let s = t + 2000 + k * 10_000
            builder.append(p0, .goStart, ns: s, 9, builder.nextSeq(9))
            builder.append(p0, .goStop, ns: s + 5000, UInt64(StopReason.yield.rawValue))
        }
        builder.finish(endNs: t + 200_000)
        let cutFrame = builder.frames[complete]
        precondition(cutFrame.offset == validBytes && cutFrame.size > 40)
        let middle = cutFrame.offset + FrameLayout.frameHeaderSize + (cutFrame.size - FrameLayout.frameHeaderSize) / 2
        var bytes: [UInt8]
        if corrupt {
            bytes = builder.bytes
            bytes[middle] ^= 0x20
        } else {
            bytes = Array(builder.bytes[0..<middle])
        }
        expected.eventCount = Int64(completeEvents)
        expected.batchCount = Int64(complete)
        expected.truncation = Truncation(fileSize: bytes.count, validBytes: validBytes, problemOffset: validBytes,
                                         problem: corrupt ? "checksumMismatch" : "truncated",
                                         completeBatches: complete, completeEvents: completeEvents)
        return (bytes, expected)
    }

    /// G3 on P1 yields six times (each restart 1 µs later), G2 on P0 sleeps and is woken three
    /// times by sysmon (M3, 2.5 µs each). P1 dropped 7 events (TraceLost at the start of a
    /// batch), M3 dropped 5, and one whole M3 batch is missing (sequence 0, 2, 3).
    public static let lostEvents = Scenario(
        name: "lost-events",
        summary: "TraceLost records on a P and an M (7 + 5 events) and a gap in M3's batch sequence (1 batch missing)",
        make: {
            runScript("lost-events", maxProcs: 2, batchEvents: 6) { m in
                m.procStart(p: 0, m: 1, at: 0)
                m.procStart(p: 1, m: 2, at: 0)
                m.create(g: 1, parent: 0, by: .p(0), at: 0)
                m.threadCreate(m: 3, cause: .sysmon, by: .p(0), at: 100)
                m.start(g: 1, p: 0, at: 1000)                        // created, 1000
                m.create(g: 2, parent: 1, by: .p(0), at: 1500)
                m.create(g: 3, parent: 1, by: .p(0), at: 1600)
                m.block(p: 0, .waitGroup, at: 2000)
                m.start(g: 2, p: 0, at: 3000)                        // created, 1500
                m.start(g: 3, p: 1, at: 3000)                        // created, 1400
                m.block(p: 0, .sleep, at: 4000)
                var tl = Timeline()
                for k in Int64(1)...6 {
                    let y = 3000 + k * 50_000
                    tl.at(y) {
                        if k == 3 { m.lost(.p(1), count: 7, at: y) }
                        m.yield(p: 1, at: y)
                        m.start(g: 3, p: 1, at: y + 1000)            // yielded, 1000
                    }
                }
                for k in Int64(1)...3 {
                    let w = k * 100_000
                    tl.at(w) {
                        if k == 2 {
                            m.loseBatch(.m(3))
                            m.lost(.m(3), count: 5, at: w)
                        }
                        m.wake(g: 2, source: .timer, by: .m(3), at: w)
                        m.builder.flush(.m(3))
                        m.start(g: 2, p: 0, at: w + 2500)            // timer, 2500
                        if k < 3 { m.block(p: 0, .sleep, at: w + 3000) } else { m.end(p: 0, at: w + 3000) }
                    }
                }
                tl.run()
                m.unblock(g: 1, by: 1, at: 400_000)
                m.end(p: 1, at: 401_000)
                m.start(g: 1, p: 0, at: 402_000)                     // unblocked, 2000
                m.end(p: 0, at: 405_000)
                m.procStop(p: 0, at: 406_000)
                m.procStop(p: 1, at: 406_000)
                return 410_000
            }
        })

    /// A 62.5 MHz clock (1 tick = 16 ns): ping-pong with 592 ns and 752 ns wakeups, then a
    /// 320-second sleep, so that ticks × 10⁹ overflows 64 bits (the reader must convert in 128
    /// bits). Every time is a whole number of ticks, so every answer is exact.
    public static let ticks16ns = Scenario(
        name: "ticks-16ns",
        summary: "16 ns ticks (62.5 MHz) and a 320 s sleep: tick→ns conversion, including past 2^64 / 10^9 ticks",
        make: {
            runScript("ticks-16ns", maxProcs: 1, batchEvents: 7, ticksPerSecond: 62_500_000) { m in
                m.procStart(p: 0, m: 1, at: 0)
                m.create(g: 1, parent: 0, by: .p(0), at: 0)
                m.start(g: 1, p: 0, at: 1600)                        // created, 1600
                m.create(g: 2, parent: 1, by: .p(0), at: 3200)
                m.block(p: 0, .chanRecv, at: 4800)
                m.start(g: 2, p: 0, at: 6400)                        // created, 3200
                for i in 0..<Int64(5) {
                    let b = 10_000 + i * 4000
                    m.unblock(g: 1, by: 0, at: b)
                    m.block(p: 0, .chanRecv, at: b + 160)
                    m.start(g: 1, p: 0, at: b + 592)                 // unblocked, 592
                    m.unblock(g: 2, by: 0, at: b + 1200)
                    m.block(p: 0, .chanRecv, at: b + 1360)
                    m.start(g: 2, p: 0, at: b + 1952)                // unblocked, 752
                }
                m.block(p: 0, .sleep, at: 30_000)
                let w: Int64 = 320_000_000_000
                m.wake(g: 2, source: .timer, by: .p(0), at: w)
                m.start(g: 2, p: 0, at: w + 1600)                    // timer, 1600
                m.unblock(g: 1, by: 0, at: w + 3200)
                m.end(p: 0, at: w + 4800)
                m.start(g: 1, p: 0, at: w + 6400)                    // unblocked, 3200
                m.end(p: 0, at: w + 8000)
                m.procStop(p: 0, at: w + 9600)
                return w + 16_000
            }
        })

    /// P1's clock is 10 ns behind P0's whenever it starts G2: each GoStart of G2 on P1 is stamped
    /// 10 ns before the GoUnblock on P0 that made G2 runnable. The merge takes the unblock first
    /// (seq readiness) and counts an order skew (6 in all); the analyzer gives each GoStart the
    /// unblock's time, so those 6 latencies are exactly 0. G1's wakeups on P0 are 2 µs.
    public static let clockSkew = Scenario(
        name: "clock-skew",
        summary: "GoStarts stamped 10 ns before the GoUnblock that caused them (skewed clocks): 6 order skews, 6 latencies of 0",
        make: {
            runScript("clock-skew", maxProcs: 2, batchEvents: 5) { m in
                m.procStart(p: 0, m: 1, at: 0)
                m.procStart(p: 1, m: 2, at: 0)
                m.create(g: 1, parent: 0, by: .p(0), at: 0)
                m.start(g: 1, p: 0, at: 1000)                        // created, 1000
                m.create(g: 2, parent: 1, by: .p(0), at: 2000)
                m.start(g: 2, p: 1, at: 3000)                        // created, 1000
                m.block(p: 1, .chanRecv, at: 4000)
                for i in 0..<Int64(5) {
                    let b = 10_000 + i * 10_000
                    m.unblock(g: 2, by: 0, at: b)
                    m.start(g: 2, p: 1, at: b, stampedAt: b - 10)    // unblocked, 0 (skewed stamp)
                    m.block(p: 0, .chanRecv, at: b + 1000)
                    m.unblock(g: 1, by: 1, at: b + 3000)
                    m.block(p: 1, .chanRecv, at: b + 4000)
                    m.start(g: 1, p: 0, at: b + 5000)                // unblocked, 2000
                }
                m.unblock(g: 2, by: 0, at: 60_000)
                m.start(g: 2, p: 1, at: 60_000, stampedAt: 59_990)   // unblocked, 0 (skewed stamp)
                m.end(p: 1, at: 61_000)
                m.end(p: 0, at: 62_000)
                m.procStop(p: 0, at: 63_000)
                m.procStop(p: 1, at: 63_000)
                return 70_000
            }
        })
}
