// tracegen writes a Go execution trace of a scheduling-heavy program (ping-pong between
// goroutine pairs over unbuffered channels, on GOMAXPROCS 2), so that Go's own trace analysis
// (`go tool trace -pprof=sched`) can be timed beside `spool import` in the same run
// (tools/bench-import.sh). Benchmark input only.
//
// Usage: tracegen -o trace.out -roundtrips N
package main

import (
	"flag"
	"log"
	"os"
	"runtime/trace"
	"sync"
)

func main() {
	out := flag.String("o", "trace.out", "trace file to write")
	roundTrips := flag.Int("roundtrips", 1_000_000, "ping-pong round trips in total")
	pairs := flag.Int("pairs", 4, "ping-pong goroutine pairs")
	flag.Parse()
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	if err := trace.Start(f); err != nil {
		log.Fatal(err)
	}
	var wg sync.WaitGroup
	per := *roundTrips / *pairs
	for p := 0; p < *pairs; p++ {
		ping, pong := make(chan int), make(chan int)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for v := range ping {
				pong <- v
			}
			close(pong)
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				ping <- i
				<-pong
			}
			close(ping)
		}()
	}
	wg.Wait()
	trace.Stop()
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
