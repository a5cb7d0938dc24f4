// WorkerPool: fan-out/fan-in over channels.
//
//     swift run WorkerPool [jobs] [workers]
//
// A producer sends job numbers into a buffered `jobs` channel; `workers` goroutines each
// receive jobs until the channel is closed, compute a result, and send it to `results`; a
// WaitGroup closes `results` when every worker is done; the main goroutine sums the results
// and checks them against the closed form.

import Spool
#if canImport(Glibc)
import Glibc
#endif

let args = CommandLine.arguments
let jobCount = args.count > 1 ? Int(args[1]) ?? 10_000 : 10_000
let workerCount = args.count > 2 ? Int(args[2]) ?? 8 : 8

/// A little CPU work per job: the sum of the digits of n², plus n.
func work(_ n: Int) -> Int {
    var x = n * n, digits = 0
    while x > 0 { digits += x % 10; x /= 10 }
    return n + digits
}

do {
    try Runtime.run {
        let jobs = Channel<Int>(capacity: 64)
        let results = Channel<(worker: Int, value: Int)>(capacity: 64)
        let wg = WaitGroup()
        var perWorker = [Int](repeating: 0, count: workerCount)

        for w in 0..<workerCount {
            wg.add(1)
            go {
                for n in jobs { results.send((w, work(n))) }
                wg.done()
            }
        }
        go {
            for n in 0..<jobCount { jobs.send(n) }
            jobs.close()
        }
        go {
            wg.wait()
            results.close()
        }
        var sum = 0
        for r in results {
            sum += r.value
            perWorker[r.worker] += 1
        }
        let expected = (0..<jobCount).reduce(0) { $0 + work($1) }
        print("worker pool: \(jobCount) jobs over \(workerCount) workers, sum \(sum) "
              + (sum == expected ? "(correct)" : "(WRONG, expected \(expected))")
              + ", jobs per worker \(perWorker), maxProcs \(Runtime.maxProcs), threads \(Runtime.threadCount)")
        if sum != expected { exit(1) }
    }
} catch {
    print("WorkerPool failed: \(error)")
    exit(1)
}
