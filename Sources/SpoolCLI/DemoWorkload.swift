import Foundation
import Spool

/// The workload `spool demo` records: a bit of everything the scheduler does, bounded to well
/// under a second on two cores.
enum DemoWorkload {
    struct Result: CustomStringConvertible {
        var jobs: Int
        var pingPongs: Int
        var sleeps: Int
        var counter: Int
        var description: String {
            "\(jobs) pool jobs, \(pingPongs) ping-pongs, \(sleeps) sleeps, \(counter) mutex increments"
        }
    }

    static func record(to path: String) throws -> Result {
        try Runtime.startTrace(path: path)
        defer { Runtime.stopTrace() }
        var result = Result(jobs: 0, pingPongs: 0, sleeps: 0, counter: 0)
        try Runtime.run(maxProcs: 2) {
            let wg = WaitGroup()

            // A worker pool: fan-out over a buffered channel, fan-in of results.
            let jobs = Channel<Int>(capacity: 16)
            let results = Channel<Int>(capacity: 16)
            let workers = 4
            let poolWG = WaitGroup()
            poolWG.add(workers)
            for _ in 0..<workers {
                go {
                    while let n = jobs.receive() {
                        var h: UInt64 = 1469598103934665603
                        for i in 0..<(2_000 + n % 7 * 500) { h = (h ^ UInt64(i)) &* 1099511628211 }
                        results.send(Int(h & 1))
                    }
                    poolWG.done()
                }
            }
            go {
                for n in 0..<2_000 { jobs.send(n) }
                jobs.close()
                poolWG.wait()
                results.close()
            }
            wg.add(1)
            go {
                var count = 0
                while results.receive() != nil { count += 1 }
                result.jobs = count
                wg.done()
            }

            // Ping-pong over unbuffered channels.
            let ping = Channel<Int>(), pong = Channel<Int>()
            wg.add(1)
            go {
                while let v = ping.receive() { pong.send(v + 1) }
            }
            go {
                var n = 0
                for i in 0..<5_000 {
                    ping.send(i)
                    if pong.receive() != nil { n += 1 }
                }
                ping.close()
                result.pingPongs = n
                wg.done()
            }

            // Sleepers on timers; the channel holds every report, so no sender waits on main.
            let sleepers = 20, sleepsEach = 5
            let sleepCount = Channel<Int>(capacity: sleepers * sleepsEach)
            for s in 0..<sleepers {
                wg.add(1)
                go {
                    for k in 0..<sleepsEach {
                        Runtime.sleep(for: .milliseconds(1 + (s + k) % 4))
                        sleepCount.send(1)
                    }
                    wg.done()
                }
            }

            // A contended goroutine-aware mutex.
            let mutex = GoMutex()
            var counter = 0
            for _ in 0..<8 {
                wg.add(1)
                go {
                    for _ in 0..<500 {
                        mutex.lock()
                        counter += 1
                        if counter % 50 == 0 { Runtime.yield() }
                        mutex.unlock()
                    }
                    wg.done()
                }
            }

            wg.wait()
            sleepCount.close()
            var sleeps = 0
            while sleepCount.receive() != nil { sleeps += 1 }
            result.sleeps = sleeps
            result.counter = counter
        }
        return result
    }
}
