-- Indexes, created after the load (cheaper than maintaining them during inserts; keep the cache
-- small while SQLite sorts, see notes on the import). Only what the summary and common queries
-- need: every index costs import time. sched_latency has none on purpose: an index on
-- (cause, latency_ns) cost about a third of an import; the percentiles it served are computed
-- in the import pass instead (table latency_stats).

-- Per-goroutine lookups (`WHERE g = ?`) on the small per-G table.
CREATE INDEX goroutines_by_g ON goroutines (g);
