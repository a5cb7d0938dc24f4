-- Indexes, created after the load (cheaper than maintaining them during inserts; keep the cache
-- small while SQLite sorts, see notes on the import). Only what the summary and common queries
-- need: every index costs import time.

-- Percentiles and long waits per cause: one ordered scan per cause, covering.
CREATE INDEX sched_latency_by_cause ON sched_latency (cause, latency_ns);

-- Per-goroutine lookups (`WHERE g = ?`) on the small per-G table.
CREATE INDEX goroutines_by_g ON goroutines (g);
