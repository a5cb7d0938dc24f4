// Load generator for echo servers (tools/bench-echo.sh): C connections, each sending a 64-byte
// request and waiting for the full echo before the next, for a fixed time. Prints requests/s
// and p50/p99/max round-trip latency. Loopback only; bounded in time. With -lat FILE it also
// appends every round trip to FILE as a histogram, one "microseconds count" line per non-empty
// whole microsecond, so that a script can pool the percentiles of many runs.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "server address (loopback)")
	conns := flag.Int("c", 16, "connections")
	dur := flag.Duration("d", 5*time.Second, "duration")
	size := flag.Int("size", 64, "request bytes")
	latFile := flag.String("lat", "", "append a latency histogram (microseconds count) to this file")
	flag.Parse()

	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	deadline := time.Now().Add(*dur)
	errs := 0
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", *addr)
			if err != nil {
				mu.Lock()
				errs++
				mu.Unlock()
				return
			}
			defer c.Close()
			req := make([]byte, *size)
			resp := make([]byte, *size)
			var local []time.Duration
			for time.Now().Before(deadline) {
				t := time.Now()
				if _, err := c.Write(req); err != nil {
					break
				}
				if _, err := io.ReadFull(c, resp); err != nil {
					break
				}
				local = append(local, time.Since(t))
			}
			mu.Lock()
			all = append(all, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if errs > 0 || len(all) == 0 {
		fmt.Fprintf(os.Stderr, "echoload: %d connections failed, %d requests\n", errs, len(all))
		os.Exit(1)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) time.Duration {
		k := int(p/100*float64(len(all))+0.999999) - 1
		if k < 0 {
			k = 0
		}
		return all[k]
	}
	if *latFile != "" {
		if err := appendHistogram(*latFile, all); err != nil {
			fmt.Fprintf(os.Stderr, "echoload: %v\n", err)
			os.Exit(1)
		}
	}
	fmt.Printf("c=%d req/s=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f\n", *conns,
		float64(len(all))/dur.Seconds(), float64(pct(50).Nanoseconds())/1e3,
		float64(pct(99).Nanoseconds())/1e3, float64(all[len(all)-1].Nanoseconds())/1e3)
}

// appendHistogram appends sorted round trips to path as "microseconds count" lines.
func appendHistogram(path string, sorted []time.Duration) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := 0; i < len(sorted); {
		us := sorted[i].Microseconds()
		j := i
		for j < len(sorted) && sorted[j].Microseconds() == us {
			j++
		}
		fmt.Fprintf(w, "%d %d\n", us, j-i)
		i = j
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
