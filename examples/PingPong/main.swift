// PingPong: two goroutines bounce a counter over a pair of unbuffered channels.
//
//     swift run PingPong [rounds]          (SPOOL_TRACE=pp.trace to record a trace)
//
// Each round trip is two channel handoffs, each of which parks one goroutine and readies the
// other: the cheapest scheduling-heavy workload there is.

import Spool
#if canImport(Glibc)
import Glibc
#endif

let rounds = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 100_000 : 100_000

do {
    try Runtime.run {
        let ping = Channel<Int>()
        let pong = Channel<Int>()
        let done = Channel<Int>()
        go {
            var last = 0
            while let v = ping.receive() {
                last = v
                pong.send(v + 1)
            }
            done.send(last)
        }
        var t0 = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t0)
        var v = 0
        for _ in 0..<rounds {
            ping.send(v)
            v = pong.receive()!
        }
        var t1 = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t1)
        ping.close()
        let last = done.receive()!
        let ns = Double(t1.tv_sec - t0.tv_sec) * 1e9 + Double(t1.tv_nsec - t0.tv_nsec)
        print("ping-pong: \(rounds) round trips, final value \(v) (pinger saw \(last)), "
              + "\(Int(ns / Double(max(rounds, 1)))) ns per round trip, "
              + "maxProcs \(Runtime.maxProcs), threads \(Runtime.threadCount)")
    }
} catch {
    print("PingPong failed: \(error)")
    exit(1)
}
