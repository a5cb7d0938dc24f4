// TightLoop: the article's preemption program. With one P, a goroutine spins in a loop that
// makes no calls at all; the main goroutine sleeps for one second and then reports. Without
// preemption the spinner would keep the only P forever and main would never wake up; sysmon
// sees the spinner hold the P past its 10 ms quantum and interrupts it with a signal (async
// preemption, CSpool/preempt.c), so main prints after about a second.
//
//     swift run TightLoop                          # prints after ~1 s
//     SPOOL_ASYNCPREEMPT=0 swift run TightLoop     # never prints: nothing can stop the loop
//     spool record -o tight.spool --import tight.db -- .build/release/TightLoop
//     spool summary tight.db                       # the preemptions section
//
// Exits 0 after printing. Run with SPOOL_MAXPROCS unset: the program fixes maxProcs to 1.

import Spool
import Synchronization

/// How far the spinner got (written every 2^20 iterations, read by main).
let spins = Atomic<UInt64>(0)

try Runtime.run(maxProcs: 1) {
    go {
        var n: UInt64 = 0
        while true {
            n &+= 1
            if n & 0xFFFFF == 0 { spins.store(n, ordering: .relaxed) }
        }
    }
    let start = ContinuousClock.now
    Runtime.sleep(for: .seconds(1))
    let waited = ContinuousClock.now - start
    let ms = waited.components.seconds * 1000 + waited.components.attoseconds / 1_000_000_000_000_000
    print("main woke after \(ms) ms on the only P: the tight loop "
          + "(\(spins.load(ordering: .relaxed)) iterations so far) was preempted")
}
