#!/usr/bin/env bash
# Import throughput on generated traces, beside a baseline measured in the same run: plain
# inserts of the same number of 6-integer rows through the same SQLite wrapper and row writer
# (`spool bench-baseline`: TableWriter's block inserts, no trace reading, no tracking). Reports events/s, rows/s and peak RSS (GNU time's %M).
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
    /usr/bin/time -f '%e %M' -o "$work/time-b" "$spool" bench-baseline --rows "$rows" -o "$work/baseline-$n.db" >/dev/null
    read -r bsecs brss_kb <"$work/time-b"
    awk -v n="$n" -v bytes="$bytes" -v s="$secs" -v rss="$rss_kb" -v rows="$rows" -v bs="$bsecs" -v brss="$brss_kb" 'BEGIN {
        printf "%d events (%.1f MB trace): import %.2f s = %.2f M events/s, %.2f M rows/s (%d rows), peak RSS %.0f MB\n",
            n, bytes/1e6, s, n/s/1e6, rows/s/1e6, rows, rss/1024
        printf "    baseline: %d plain rows in %.2f s = %.2f M rows/s, peak RSS %.0f MB; import/baseline time %.2f\n",
            rows, bs, rows/bs/1e6, brss/1024, s/bs
    }'
    rm -f "$trace" "$work"/*.db
done
