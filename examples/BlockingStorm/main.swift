// BlockingStorm: what a storm of blocking system calls does to the thread count (the article's
// "Managing Blocking System Calls and Thread Handoff").
//
//     swift run -c release BlockingStorm [--goroutines N] [--sleep-ms MS] [--pool K]
//
// N goroutines (default 1000) each make one blocking 100 ms sleep through `Runtime.blocking`
// (a real `clock_nanosleep` that holds its thread, as Go's `syscall.Nanosleep`). Each call that
// outlasts a sysmon tick has its P handed to another thread, so the thread count climbs toward
// one per blocked goroutine. The program prints `Runtime.threadCount` (Ms, sysmon included)
// and the process's OS thread count every 50 ms until 2.5 s
// after the last call returned: the peak, then the fall back to maxProcs + 4 once the idle
// threads pass `SPOOL_THREAD_IDLE_MS` (default 1 s; Go keeps them forever, see
// tools/go-bench/blockingstorm for the same program in Go).
//
// `--pool K` runs the same N sleeps through K worker goroutines fed by a channel (the article's
// mitigation): at most K threads block at once, so the thread count stays near K + maxProcs.
//
// Record and summarize:
//     SPOOL_TRACE=storm.trace swift run -c release BlockingStorm
//     spool import storm.trace storm.db && spool summary storm.db

import Spool
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

var goroutines = 1000
var sleepMs = 100
var pool = 0
var i = 1
let args = CommandLine.arguments
while i < args.count {
    let value = i + 1 < args.count ? Int(args[i + 1]) : nil
    switch args[i] {
    case "--goroutines": goroutines = value ?? goroutines; i += 1
    case "--sleep-ms": sleepMs = value ?? sleepMs; i += 1
    case "--pool": pool = value ?? pool; i += 1
    case "-h", "--help":
        print("usage: BlockingStorm [--goroutines N] [--sleep-ms MS] [--pool K]")
        exit(0)
    default:
        print("BlockingStorm: unknown argument \(args[i])")
        exit(2)
    }
    i += 1
}

/// When the last call returned (0: not yet); written by one goroutine, polled by main.
final class Stamp: @unchecked Sendable {
    let ns = Atomic<Int64>(0)
}

/// The process's OS thread count (`Threads:` in /proc/self/status): the Ms plus the thread
/// that called `Runtime.run` (and the trace flusher when tracing), as Go's tool counts.
func processThreads() -> Int {
    guard let f = fopen("/proc/self/status", "r") else { return -1 }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), f) != nil {
        let s = String(cString: line)
        if s.hasPrefix("Threads:") {
            return Int(s.dropFirst(8).filter { $0.isNumber }) ?? -1
        }
    }
    return -1
}

func nowNs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

do {
    try Runtime.run {
        let start = nowNs()
        let wg = WaitGroup()
        wg.add(goroutines)
        let mode = pool > 0 ? "through a pool of \(pool) workers" : "one goroutine each"
        print("BlockingStorm: \(goroutines) blocking sleeps of \(sleepMs) ms, \(mode); "
              + "maxProcs \(Runtime.maxProcs), threads \(Runtime.threadCount)")
        if pool > 0 {
            let jobs = Channel<Int>(capacity: pool)
            for _ in 0..<pool {
                go {
                    for _ in jobs {
                        Runtime.blockingSleep(for: .milliseconds(sleepMs))
                        wg.done()
                    }
                }
            }
            go {
                for j in 0..<goroutines { jobs.send(j) }
                jobs.close()
            }
        } else {
            for _ in 0..<goroutines {
                go {
                    Runtime.blockingSleep(for: .milliseconds(sleepMs))
                    wg.done()
                }
            }
        }
        let finished = WaitGroup()
        finished.add(1)
        let doneAt = Stamp()
        go {
            wg.wait()
            doneAt.ns.store(nowNs(), ordering: .relaxed)
            finished.done()
        }
        var peak = 0, peakProcess = 0
        var lastPrinted = -1, lastProcess = -1
        while true {
            let t = Runtime.threadCount
            let pt = processThreads()
            peak = max(peak, t)
            peakProcess = max(peakProcess, pt)
            let ms = (nowNs() - start) / 1_000_000
            print("t=\(ms) ms threads=\(t) process=\(pt)")
            lastPrinted = t
            lastProcess = pt
            let d = doneAt.ns.load(ordering: .relaxed)
            if d != 0, nowNs() - d >= 2_500_000_000 { break }
            Runtime.sleep(for: .milliseconds(50))
        }
        finished.wait()
        let lastMs = (doneAt.ns.load(ordering: .relaxed) - start) / 1_000_000
        print("peak threads \(peak) (process \(peakProcess)); last call returned at t=\(lastMs) ms; "
              + "threads 2.5 s later: \(lastPrinted) (process \(lastProcess)) (maxProcs \(Runtime.maxProcs))")
    }
} catch {
    print("BlockingStorm failed: \(error)")
    exit(1)
}
