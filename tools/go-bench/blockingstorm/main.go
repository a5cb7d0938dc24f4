// blockingstorm: Go's side of examples/BlockingStorm (not built by CI).
//
//	cd tools/go-bench && go run ./blockingstorm [-goroutines N] [-sleep-ms MS] [-pool K]
//
// N goroutines each make one blocking syscall.Nanosleep (the thread blocks; Go's sysmon hands
// its P to another thread). The thread count (Threads: in /proc/self/status) is printed every
// 50 ms until 2.5 s after the last sleep returned. Go never lets those threads exit, so the
// count stays at its peak. -pool K runs the sleeps through K worker goroutines.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func threads() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "Threads:") {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "Threads:")))
			return n
		}
	}
	return -1
}

func main() {
	goroutines := flag.Int("goroutines", 1000, "goroutines, each making one blocking sleep")
	sleepMs := flag.Int("sleep-ms", 100, "length of each sleep")
	pool := flag.Int("pool", 0, "run the sleeps through this many workers (0: one goroutine each)")
	flag.Parse()

	sleep := func() {
		ts := syscall.NsecToTimespec(int64(*sleepMs) * int64(time.Millisecond))
		for {
			var rem syscall.Timespec
			if err := syscall.Nanosleep(&ts, &rem); err == syscall.EINTR {
				ts = rem
				continue
			}
			return
		}
	}

	start := time.Now()
	mode := "one goroutine each"
	if *pool > 0 {
		mode = fmt.Sprintf("through a pool of %d workers", *pool)
	}
	fmt.Printf("blockingstorm (Go): %d blocking sleeps of %d ms, %s; GOMAXPROCS %d, threads %d\n",
		*goroutines, *sleepMs, mode, runtime.GOMAXPROCS(0), threads())
	var wg sync.WaitGroup
	wg.Add(*goroutines)
	if *pool > 0 {
		jobs := make(chan int, *pool)
		for w := 0; w < *pool; w++ {
			go func() {
				for range jobs {
					sleep()
					wg.Done()
				}
			}()
		}
		go func() {
			for j := 0; j < *goroutines; j++ {
				jobs <- j
			}
			close(jobs)
		}()
	} else {
		for g := 0; g < *goroutines; g++ {
			go func() {
				sleep()
				wg.Done()
			}()
		}
	}
	var doneAt atomic.Int64
	go func() {
		wg.Wait()
		doneAt.Store(int64(time.Since(start)))
	}()
	peak, last := 0, 0
	for {
		t := threads()
		if t > peak {
			peak = t
		}
		last = t
		fmt.Printf("t=%d ms threads=%d\n", time.Since(start).Milliseconds(), t)
		if d := doneAt.Load(); d != 0 && time.Since(start) >= time.Duration(d)+2500*time.Millisecond {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Printf("peak threads %d; last call returned at t=%d ms; threads 2.5 s later: %d (GOMAXPROCS %d)\n",
		peak, time.Duration(doneAt.Load()).Milliseconds(), last, runtime.GOMAXPROCS(0))
}
