// Spool's versions of the runtime benchmarks in tools/go-bench (same workloads, same output
// line), run side by side by tools/bench-runtime.sh. Build in release:
//   swift build -c release --product SpoolBench
// Usage: SpoolBench -bench spawn|spawn-batch|pingpong|yield|sleeplateness [-procs N] [-n N]
// Tracing: set SPOOL_TRACE=FILE (the runtime's own switch).
// Prints one line: "<bench> procs=<N> ns/op=<float> ops=<N>", except sleeplateness (below).
//
// sleeplateness (tools/bench-lateness.sh, beside tools/go-bench/sleeplateness): one goroutine
// spins in a loop that makes no calls (it stores its counter to an atomic every 2^20
// iterations) while main sleeps 1 ms n times (default 500) and records each sleep's lateness
// (elapsed - 1 ms). Meant for -procs 1 (the default): each wakeup then waits for sysmon to
// preempt the spinner. Prints "sleeplateness spool n=<N> p50_ms=<f> p99_ms=<f> max_ms=<f>"
// (nearest-rank percentiles).

import Foundation
import Spool
import Synchronization

var bench = "pingpong"
var procs = 1
var nArg: Int? = nil
var args = CommandLine.arguments.dropFirst().makeIterator()
while let a = args.next() {
    switch a {
    case "-bench": bench = args.next() ?? bench
    case "-procs": procs = Int(args.next() ?? "") ?? procs
    case "-n": nArg = Int(args.next() ?? "") ?? nArg
    default:
        FileHandle.standardError.write(Data("unknown argument \(a)\n".utf8))
        exit(2)
    }
}

let n = nArg ?? (bench == "sleeplateness" ? 500 : 1_000_000)

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// The sleeplateness spinner's progress (stored every 2^20 iterations: keeps the loop alive).
let spins = Atomic<UInt64>(0)

/// Nearest-rank q-quantile of a sorted array (q in (0, 1]).
func rank(_ sorted: [UInt64], _ q: Double) -> UInt64 {
    sorted[max(Int((q * Double(sorted.count)).rounded(.up)) - 1, 0)]
}

func msString(_ ns: UInt64) -> String { String(format: "%.3f", Double(ns) / 1e6) }

var elapsed: UInt64 = 0
var resultLine: String? = nil
try Runtime.run(maxProcs: procs) {
    switch bench {
    case "spawn":
        // One goroutine at a time: spawn, let it run and exit, wait for it.
        let done = Channel<Int>()
        let start = now()
        for i in 0..<n {
            go { done.send(i) }
            _ = done.receive()
        }
        elapsed = now() - start
    case "spawn-batch":
        // Batches of 1000 goroutines joined with a WaitGroup.
        let start = now()
        let wg = WaitGroup()
        var i = 0
        while i < n {
            wg.add(1000)
            for _ in 0..<1000 { go { wg.done() } }
            wg.wait()
            i += 1000
        }
        elapsed = now() - start
    case "pingpong":
        // Unbuffered channel round trip between two goroutines.
        let ping = Channel<Int>(), pong = Channel<Int>()
        go {
            while let v = ping.receive() { pong.send(v) }
        }
        let start = now()
        for i in 0..<n {
            ping.send(i)
            _ = pong.receive()
        }
        elapsed = now() - start
        ping.close()
    case "yield":
        // Two goroutines yielding to each other; ns per yield.
        let wg = WaitGroup()
        wg.add(2)
        let start = now()
        for _ in 0..<2 {
            go {
                for _ in 0..<(n / 2) { Runtime.yield() }
                wg.done()
            }
        }
        wg.wait()
        elapsed = now() - start
    case "sleeplateness":
        go {
            var i: UInt64 = 0
            while true {
                i &+= 1
                if i & 0xFFFFF == 0 { spins.store(i, ordering: .relaxed) }
            }
        }
        var late = [UInt64]()
        late.reserveCapacity(n)
        for _ in 0..<n {
            let start = now()
            Runtime.sleep(for: .milliseconds(1))
            let d = now() - start
            late.append(d > 1_000_000 ? d - 1_000_000 : 0)
        }
        late.sort()
        resultLine = "sleeplateness spool n=\(late.count) p50_ms=\(msString(rank(late, 0.50))) "
            + "p99_ms=\(msString(rank(late, 0.99))) max_ms=\(msString(late[late.count - 1]))"
        if spins.load(ordering: .relaxed) == 0 {
            FileHandle.standardError.write(Data("sleeplateness: the spinner never ran\n".utf8))
        }
    default:
        FileHandle.standardError.write(Data("unknown bench \(bench)\n".utf8))
        exit(2)
    }
}
if let resultLine {
    print(resultLine)
} else {
    print("\(bench) procs=\(procs) ns/op=\(String(format: "%.1f", Double(elapsed) / Double(n))) ops=\(n)")
}
