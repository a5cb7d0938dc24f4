// Spool's versions of the runtime benchmarks in tools/go-bench (same workloads, same output
// line), run side by side by tools/bench-runtime.sh. Build in release:
//   swift build -c release --product SpoolBench
// Usage: SpoolBench -bench spawn|spawn-batch|pingpong|yield [-procs N] [-n N]
// Tracing: set SPOOL_TRACE=FILE (the runtime's own switch).
// Prints one line: "<bench> procs=<N> ns/op=<float> ops=<N>".

import Foundation
import Spool

var bench = "pingpong"
var procs = 1
var n = 1_000_000
var args = CommandLine.arguments.dropFirst().makeIterator()
while let a = args.next() {
    switch a {
    case "-bench": bench = args.next() ?? bench
    case "-procs": procs = Int(args.next() ?? "") ?? procs
    case "-n": n = Int(args.next() ?? "") ?? n
    default:
        FileHandle.standardError.write(Data("unknown argument \(a)\n".utf8))
        exit(2)
    }
}

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

var elapsed: UInt64 = 0
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
    default:
        FileHandle.standardError.write(Data("unknown bench \(bench)\n".utf8))
        exit(2)
    }
}
print("\(bench) procs=\(procs) ns/op=\(String(format: "%.1f", Double(elapsed) / Double(n))) ops=\(n)")
