// sleeplateness: Go's side of `SpoolBench -bench sleeplateness` (tools/bench-lateness.sh).
// Go is a comparison reference only, never a build or test dependency of Spool.
//
//	cd tools/go-bench && go run ./sleeplateness [-n 500] [-procs 1]
//
// With GOMAXPROCS 1, one goroutine spins in a loop that makes no calls (it stores its counter
// to an atomic every 2^20 iterations, so the compiler keeps the loop), while main sleeps 1 ms
// n times and records each sleep's lateness (elapsed - 1 ms). The spinner holds the only P, so
// each wakeup waits for sysmon to preempt it. Prints one line:
// "sleeplateness go n=<N> p50_ms=<f> p99_ms=<f> max_ms=<f>" (nearest-rank percentiles).
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"sync/atomic"
	"time"
)

var spins atomic.Uint64

func spin() {
	var n uint64
	for {
		n++
		if n&0xFFFFF == 0 {
			spins.Store(n)
		}
	}
}

// rank returns the nearest-rank q-quantile of sorted (q in (0, 1]).
func rank(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	if i < 0 {
		i = 0
	}
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func main() {
	n := flag.Int("n", 500, "number of 1 ms sleeps")
	procs := flag.Int("procs", 1, "GOMAXPROCS")
	flag.Parse()
	runtime.GOMAXPROCS(*procs)

	go spin()
	late := make([]time.Duration, 0, *n)
	for i := 0; i < *n; i++ {
		start := time.Now()
		time.Sleep(time.Millisecond)
		late = append(late, time.Since(start)-time.Millisecond)
	}
	sort.Slice(late, func(a, b int) bool { return late[a] < late[b] })
	fmt.Printf("sleeplateness go n=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
		len(late), ms(rank(late, 0.50)), ms(rank(late, 0.99)), ms(late[len(late)-1]))
	if spins.Load() == 0 {
		fmt.Fprintln(os.Stderr, "sleeplateness: the spinner never ran")
	}
}
