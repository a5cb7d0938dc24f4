// MixedLoad: CPU-bound jobs beside a latency-sensitive TCP echo server, the article's advice to
// "separate CPU-heavy work into its own set of workers to maintain response times" measured.
//
//     MixedLoad [--separate] [--workers K] [--connections C] [--seconds S] [--port N]
//               [--inflight J] [--maxprocs N]
//
// Three things run on the runtime at once, for S seconds (default 5):
//
// - an echo server on 127.0.0.1 (`--port`, default 0: a free port), one goroutine per
//   connection echoing until EOF, parked on the netpoller while it waits;
// - a steady stream of CPU jobs, each 1M-15M steps of an xorshift chain (pure computation, no
//   runtime calls at all; 2-30 ms at 2 ns a step, the fixed sizes make jobs/s comparable between
//   runs, and the start line prints what they take here), J of them in flight at once
//   (`--inflight`, default 2 × maxProcs).
//   By default every job is its own goroutine, so jobs and echo goroutines compete for the
//   same Ps: a P running a job is given back only when sysmon preempts the job after its
//   10 ms quantum (async preemption), and a readied echo goroutine waits behind it. With
//   `--separate` the same jobs go through a fixed pool of K worker goroutines fed by a
//   channel (`--workers`, default max(1, maxProcs - 1)): at most K Ps compute, and the
//   others are left to the network goroutines;
// - a probe: C client connections (`--connections`, default 4), each sending a 64-byte request,
//   waiting for its echo, timing the round trip, then sleeping 1 ms. Every echoed byte is
//   compared with what was sent.
//
// Then everything stops cleanly (clients close, the listener closes, jobs in flight finish,
// every goroutine ends, so `Runtime.run` returns and a recorded trace gets its end frame) and
// the program prints the mode, jobs completed during the S seconds (and per second), echo
// requests, and the echo round-trip latency p50 / p99 / max over every request. It exits 1 if
// any echo differed from its request or a probe connection failed.
//
//     SPOOL_MAXPROCS=2 .build/release/MixedLoad                # jobs beside echo, shared Ps
//     SPOOL_MAXPROCS=2 .build/release/MixedLoad --separate     # jobs on 1 worker, 1 P free
//     spool record -o mixed.spool --import mixed.db -- .build/release/MixedLoad --seconds 3
//     spool summary mixed.db                 # scheduling latency by cause, the preemptions

import Spool
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

struct Options {
    var port = 0
    var seconds = 5
    var connections = 4
    var separate = false
    var workers: Int? = nil
    var inflight: Int? = nil
    var maxProcs: Int? = nil
}

func usage(_ msg: String) -> Never {
    var err = "MixedLoad: \(msg)\nusage: MixedLoad [--separate] [--workers K] [--connections C] "
        + "[--seconds S] [--port N] [--inflight J] [--maxprocs N]\n"
    err.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(2)
}

func parseOptions() -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst()
    func value(_ flag: String) -> String {
        guard let v = args.popFirst() else { usage("\(flag) needs a value") }
        return v
    }
    func number(_ flag: String) -> Int {
        guard let n = Int(value(flag)), n >= 0 else { usage("\(flag) needs a non-negative integer") }
        return n
    }
    while let a = args.popFirst() {
        switch a {
        case "--port": o.port = number(a)
        case "--seconds": o.seconds = max(1, number(a))
        case "--connections": o.connections = number(a)
        case "--separate": o.separate = true
        case "--workers": o.workers = max(1, number(a))
        case "--inflight": o.inflight = max(1, number(a))
        case "--maxprocs": o.maxProcs = max(1, number(a))
        case "-h", "--help": usage("CPU jobs beside an echo server, with the echo latency they cause")
        default: usage("unknown argument \(a)")
        }
    }
    return o
}

func nowNs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

// MARK: - CPU jobs

/// `iterations` steps of an xorshift64 chain: a dependent sequence the optimizer can neither
/// vectorize nor fold, and no calls, so only a preemption signal can stop it.
@inline(never)
func compute(_ iterations: Int, seed: UInt64) -> UInt64 {
    var x = seed | 1
    for _ in 0..<iterations {
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
    }
    return x
}

/// Nanoseconds per `compute` iteration on this machine: the fastest of a few timed runs
/// (before the runtime starts). Only printed: job sizes do not depend on it.
func calibrate() -> Double {
    let n = 4_000_000
    var best = Int64.max
    for i in 0..<5 {
        let t0 = nowNs()
        sink.wrappingAdd(compute(n, seed: UInt64(i + 1)), ordering: .relaxed)
        best = min(best, max(1, nowNs() - t0))
    }
    return Double(best) / Double(n)
}

/// User + system CPU time of the process so far, in seconds.
func processCPUSeconds() -> Double {
    var ru = rusage()
    getrusage(RUSAGE_SELF.rawValue, &ru)
    return Double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
        + Double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6
}

/// Iterations per job unit: about 1 ms at 2 ns per iteration (this VM, quiet).
let iterationsPerUnit = 500_000

/// Job sizes in units, uniform in 2...30 from a fixed-seed LCG: the same work, job for job, in
/// both modes and on every run, whatever the calibration says (so jobs/s compare).
struct JobSizes {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    mutating func nextUnits() -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return 2 + Int((state >> 33) % 29)
    }
}

/// Keeps every job's result alive (the optimizer may not drop the loop).
let sink = Atomic<UInt64>(0)
/// Set when the S seconds are over: the producer and the probe clients stop.
let stopping = Atomic<Bool>(false)
/// Jobs finished before `stopping` (the ones in flight at the end are not counted).
let jobsInWindow = Atomic<Int>(0)
/// Every job finished, in the window or after.
let jobsTotal = Atomic<Int>(0)

func runJob(_ units: Int, seed: UInt64) {
    sink.wrappingAdd(compute(units * iterationsPerUnit, seed: seed), ordering: .relaxed)
    if !stopping.load(ordering: .relaxed) { jobsInWindow.add(1, ordering: .relaxed) }
    jobsTotal.add(1, ordering: .relaxed)
}

// MARK: - Echo server and probe

/// Echoes `conn` until EOF or an error, then closes it (as examples/EchoServer).
func serve(_ conn: TCPConnection) {
    defer { conn.close() }
    var buf = [UInt8](repeating: 0, count: 16 << 10)
    while true {
        do {
            let n = try conn.read(into: &buf)
            if n == 0 { return }
            try conn.write(Array(buf[0..<n]))
        } catch {
            return
        }
    }
}

/// One probe connection's results; written by its client goroutine only, read by main after
/// the clients' WaitGroup.
final class ProbeResult: @unchecked Sendable {
    var samplesNs: [Int64] = []
    var mismatches = 0
    var error: String? = nil
}

let requestSize = 64

/// Sends a request, reads back exactly as many bytes, checks them and times the round trip;
/// sleeps 1 ms; repeats until `stopping`. Closes the connection at the end.
func probe(_ id: Int, port: Int, into result: ProbeResult) {
    let conn: TCPConnection
    do {
        conn = try TCPConnection.connect(host: "127.0.0.1", port: port)
    } catch {
        result.error = "connect: \(error)"
        return
    }
    defer { conn.close() }
    result.samplesNs.reserveCapacity(8192)
    var request = [UInt8](repeating: 0, count: requestSize)
    var reply = [UInt8](repeating: 0, count: requestSize)
    var chunk = [UInt8](repeating: 0, count: requestSize)
    var seq: UInt64 = 0
    while !stopping.load(ordering: .relaxed) {
        // Content that differs per connection and per request, so a crossed or stale reply shows.
        var x = (UInt64(id) << 48) ^ seq ^ 0xA5A5_0000_0000_0000
        for i in 0..<requestSize {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            request[i] = UInt8(truncatingIfNeeded: x >> 56)
        }
        seq += 1
        let t0 = nowNs()
        do {
            try conn.write(request)
            var got = 0
            while got < requestSize {
                let n = try conn.read(into: &chunk)
                if n == 0 {
                    result.error = "connection \(id): EOF after \(got) of \(requestSize) bytes"
                    return
                }
                // A reply longer than the request would be a server bug: count it as a mismatch.
                let take = min(n, requestSize - got)
                for i in 0..<take { reply[got + i] = chunk[i] }
                if n > take { result.mismatches += 1 }
                got += take
            }
        } catch {
            result.error = "connection \(id): \(error)"
            return
        }
        result.samplesNs.append(nowNs() - t0)
        if reply != request { result.mismatches += 1 }
        Runtime.sleep(for: .milliseconds(1))
    }
}

/// Nearest-rank percentile of sorted samples, in ms.
func percentileMs(_ sorted: [Int64], _ p: Double) -> Double {
    let rank = max(1, Int((p / 100 * Double(sorted.count)).rounded(.up)))
    return Double(sorted[rank - 1]) / 1e6
}

/// `v` with `digits` decimals (no Foundation).
func fmt(_ v: Double, _ digits: Int = 3) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let n = Int((v * scale).rounded())
    let whole = n / Int(scale), frac = n % Int(scale)
    if digits == 0 { return "\(whole)" }
    let f = String(frac)
    return "\(whole)." + String(repeating: "0", count: digits - f.count) + f
}

// MARK: - Main

let options = parseOptions()
setvbuf(stdout, nil, _IOLBF, 0)
let nsPerIteration = calibrate()
var failed = false
do {
    try Runtime.run(maxProcs: options.maxProcs) {
        let procs = Runtime.maxProcs
        let inflight = options.inflight ?? 2 * procs
        let workers = options.workers ?? max(1, procs - 1)
        let mode = options.separate ? "separate" : "shared"
        let listener = try TCPListener(host: "127.0.0.1", port: options.port)
        let how = options.separate ? "through \(workers) worker goroutine\(workers == 1 ? "" : "s")"
                                   : "one goroutine each"
        print("MixedLoad (\(mode)): echo server on 127.0.0.1:\(listener.port), "
              + "\(options.connections) probe connections; CPU jobs of 1M-15M steps "
              + "(\(fmt(2 * Double(iterationsPerUnit) * nsPerIteration / 1e6, 1))-"
              + "\(fmt(30 * Double(iterationsPerUnit) * nsPerIteration / 1e6, 1)) ms here), "
              + "\(inflight) in flight, \(how); "
              + "maxProcs \(procs); \(options.seconds) s")

        // The server: an accept loop, a goroutine per connection.
        let server = WaitGroup()
        server.add(1)
        go {
            defer { server.done() }
            while true {
                let conn: TCPConnection
                do {
                    conn = try listener.accept()
                } catch NetError.closed {
                    return
                } catch {
                    print("accept: \(error)")
                    Runtime.sleep(for: .milliseconds(10))
                    continue
                }
                server.add(1)
                go { serve(conn); server.done() }
            }
        }

        // The CPU jobs: a producer holding `inflight` tokens, one per job not yet finished.
        let tokens = Channel<Void>(capacity: inflight)
        let jobs = WaitGroup()
        let producer = WaitGroup()
        producer.add(1)
        let queue: Channel<Int>? = options.separate ? Channel<Int>(capacity: inflight) : nil
        if let q = queue {
            for w in 0..<workers {
                producer.add(1)
                go {
                    defer { producer.done() }
                    for units in q {
                        runJob(units, seed: UInt64(w + 1) &* 0x2545_F491_4F6C_DD1D)
                        _ = tokens.receive()
                        jobs.done()
                    }
                }
            }
        }
        go {
            defer { producer.done() }
            var sizes = JobSizes()
            var n: UInt64 = 0
            while true {
                tokens.send(())
                if stopping.load(ordering: .relaxed) { _ = tokens.receive(); break }
                let units = sizes.nextUnits()
                n += 1
                jobs.add(1)
                if let q = queue {
                    q.send(units)
                } else {
                    let seed = n
                    go {
                        runJob(units, seed: seed)
                        _ = tokens.receive()
                        jobs.done()
                    }
                }
            }
            queue?.close() // the workers drain what is queued and end
            jobs.wait()
        }

        // The probe clients.
        let clients = WaitGroup()
        let results = (0..<options.connections).map { _ in ProbeResult() }
        let port = listener.port
        for (id, r) in results.enumerated() {
            clients.add(1)
            go { probe(id, port: port, into: r); clients.done() }
        }

        let start = nowNs()
        let cpuStart = processCPUSeconds()
        Runtime.sleep(for: .seconds(options.seconds))
        stopping.store(true, ordering: .relaxed)
        let window = Double(nowNs() - start) / 1e9
        let cpu = processCPUSeconds() - cpuStart

        // Stop everything and let every goroutine end.
        clients.wait()      // each finishes its request in progress and closes its connection
        listener.close()    // the accept loop ends; the connections end at their clients' EOF
        server.wait()
        producer.wait()     // jobs in flight finish; the workers end

        let samples = results.flatMap { $0.samplesNs }.sorted()
        let mismatches = results.reduce(0) { $0 + $1.mismatches }
        let errors = results.compactMap { $0.error }
        let done = jobsInWindow.load(ordering: .relaxed)
        print("mode \(mode), maxProcs \(procs)"
              + (options.separate ? ", workers \(workers)" : "") + ", \(fmt(window, 2)) s, "
              + "process CPU \(fmt(cpu, 2)) s")
        print("CPU jobs completed: \(done) (\(fmt(Double(done) / window, 1))/s; "
              + "\(jobsTotal.load(ordering: .relaxed) - done) more finished after the end)")
        print("echo requests: \(samples.count) (\(fmt(Double(samples.count) / window, 0))/s), "
              + "\(mismatches) mismatched")
        if samples.isEmpty {
            print("echo latency: no samples")
        } else {
            print("echo latency ms: p50 \(fmt(percentileMs(samples, 50))) "
                  + "p99 \(fmt(percentileMs(samples, 99))) max \(fmt(Double(samples.last!) / 1e6))")
        }
        for e in errors { print("probe error: \(e)") }
        if mismatches > 0 || !errors.isEmpty { failed = true }
    }
} catch {
    var err = "MixedLoad: \(error)\n"
    err.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(1)
}
exit(failed ? 1 : 0)
