// Go's versions of Spool's runtime benchmarks, for side-by-side ratios (tools/bench-runtime.sh).
// Go is a comparison reference only, never a build or test dependency of Spool.
//
// Usage: go run . -bench spawn|spawn-batch|pingpong|yield [-procs N] [-n N] [-trace FILE]
// Prints one line: "<bench> procs=<N> ns/op=<float> ops=<N>".
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/trace"
	"sync"
	"time"
)

func main() {
	bench := flag.String("bench", "pingpong", "spawn | spawn-batch | pingpong | yield")
	procs := flag.Int("procs", 1, "GOMAXPROCS")
	n := flag.Int("n", 1_000_000, "operations")
	traceFile := flag.String("trace", "", "write a Go execution trace here")
	flag.Parse()
	runtime.GOMAXPROCS(*procs)

	if *traceFile != "" {
		f, err := os.Create(*traceFile)
		if err != nil {
			panic(err)
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			panic(err)
		}
		defer trace.Stop()
	}

	var elapsed time.Duration
	switch *bench {
	case "spawn":
		// One goroutine at a time: spawn, let it run and exit, wait for it.
		done := make(chan struct{})
		start := time.Now()
		for i := 0; i < *n; i++ {
			go func() { done <- struct{}{} }()
			<-done
		}
		elapsed = time.Since(start)
	case "spawn-batch":
		// Batches of 1000 goroutines joined with a WaitGroup.
		start := time.Now()
		var wg sync.WaitGroup
		for i := 0; i < *n; i += 1000 {
			wg.Add(1000)
			for j := 0; j < 1000; j++ {
				go func() { wg.Done() }()
			}
			wg.Wait()
		}
		elapsed = time.Since(start)
	case "pingpong":
		// Unbuffered channel round trip between two goroutines.
		ping, pong := make(chan int), make(chan int)
		go func() {
			for v := range ping {
				pong <- v
			}
		}()
		start := time.Now()
		for i := 0; i < *n; i++ {
			ping <- i
			<-pong
		}
		elapsed = time.Since(start)
		close(ping)
	case "yield":
		// Two goroutines yielding to each other; ns per yield.
		var wg sync.WaitGroup
		wg.Add(2)
		start := time.Now()
		for k := 0; k < 2; k++ {
			go func() {
				for i := 0; i < *n/2; i++ {
					runtime.Gosched()
				}
				wg.Done()
			}()
		}
		wg.Wait()
		elapsed = time.Since(start)
	default:
		fmt.Fprintln(os.Stderr, "unknown bench", *bench)
		os.Exit(2)
	}
	fmt.Printf("%s procs=%d ns/op=%.1f ops=%d\n", *bench, *procs, float64(elapsed.Nanoseconds())/float64(*n), *n)
}
