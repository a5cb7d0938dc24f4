-- Spool trace analysis: views over schema/tables.sql (source of truth, loaded by the importer).
-- Views cannot take parameters: thresholds are fixed here (10 ms, the default of
-- `spool summary --threshold`); use the tables directly for other values. Percentiles are not
-- computed here (nearest-rank percentiles in SQL need a sort per query): `spool summary`
-- reads them from latency_stats (computed by the importer).

-- What ran on each P: one continuous run of one G on one P and M (a `running` interval).
CREATE VIEW slices AS
SELECT
    p,                      -- processor
    m,                      -- thread holding the P (NULL if no ProcStart was seen)
    g,                      -- goroutine
    start_ns,               -- GoStart / GoSyscallEnd / GoStatus(running) time, ns
    end_ns,                 -- time the G left the P, ns
    reason AS end_reason    -- slice_end_reasons.code
FROM states
WHERE state = 1;

-- Scheduling latency: one row per runnable interval that ended in a GoStart.
CREATE VIEW sched_latency AS
SELECT
    g,                                -- goroutine
    start_ns AS ready_ns,             -- when it became runnable, ns
    end_ns AS start_ns,               -- when it started running (GoStart), ns
    end_ns - start_ns AS latency_ns,  -- start_ns - ready_ns, ns
    reason AS cause,                  -- what made it runnable: latency_causes.code
    p                                 -- the P it started on
FROM states
WHERE state = 0 AND p IS NOT NULL;

-- One row per blocking system call (GoSyscallBegin).
CREATE VIEW syscalls AS
SELECT
    g,                  -- goroutine
    m,                  -- thread that made the call (NULL if unknown)
    p,                  -- P held when the call began
    start_ns,           -- GoSyscallBegin time, ns
    end_ns,             -- GoSyscallEnd / GoSyscallEndBlocked time (trace_end_ns if still in the call), ns
    reason AS handoff   -- 1 when the P was handed off (ProcHandoff) during the call, else 0
FROM states
WHERE state = 3;

-- Scheduling latency by cause, with the cause's name.
CREATE VIEW latency_by_cause AS
SELECT
    c.code                    AS cause,       -- latency_causes.code
    c.name                    AS cause_name,  -- latency_causes.name
    count(l.latency_ns)       AS count,       -- runnable intervals that ended in a GoStart
    coalesce(sum(l.latency_ns), 0) AS total_ns, -- summed latency, ns
    avg(l.latency_ns)         AS avg_ns,      -- mean latency, ns (NULL if none)
    max(l.latency_ns)         AS max_ns       -- longest latency, ns (NULL if none)
FROM latency_causes AS c
LEFT JOIN sched_latency AS l ON l.cause = c.code
GROUP BY c.code
ORDER BY c.code;

-- Goroutines that waited at least 10 ms in a run queue at least once (starvation, long waits).
CREATE VIEW starved_goroutines AS
SELECT
    g,                                  -- goroutine
    count(*)        AS long_waits,      -- runnable waits >= 10 ms
    max(latency_ns) AS max_wait_ns,     -- the longest, ns
    sum(latency_ns) AS total_wait_ns    -- their sum, ns
FROM sched_latency
WHERE latency_ns >= 10000000
GROUP BY g
ORDER BY max_wait_ns DESC;

-- Running slices longer than 10 ms (the default preemption quantum), with the slice's end.
CREATE VIEW long_slices AS
SELECT
    s.p, s.m, s.g, s.start_ns, s.end_ns,        -- as in slices
    s.end_ns - s.start_ns AS duration_ns,       -- slice length, ns
    r.name                AS end_reason_name    -- slice_end_reasons.name
FROM slices AS s
JOIN slice_end_reasons AS r ON r.code = s.end_reason
WHERE s.end_ns - s.start_ns > 10000000
ORDER BY duration_ns DESC;

-- Thread growth: every thread in order of appearance, why it was created, and how many
-- threads were alive right after it appeared.
CREATE VIEW thread_growth AS
SELECT
    t.m,                                           -- thread id
    coalesce(t.created_ns, t.first_seen_ns) AS appeared_ns, -- creation (or first sighting), ns
    t.created_ns,                                  -- ThreadCreate time, ns (NULL: existed before)
    t.exited_ns,                                   -- ThreadExit time, ns (NULL: alive at end)
    coalesce(c.name, 'unknown') AS cause_name,     -- thread_causes.name
    (SELECT tc.threads FROM thread_count AS tc
      WHERE tc.ts_ns <= coalesce(t.created_ns, t.first_seen_ns)
      ORDER BY tc.ts_ns DESC LIMIT 1) AS threads_after -- live threads then
FROM threads AS t
LEFT JOIN thread_causes AS c ON c.code = t.cause
ORDER BY appeared_ns, t.m;

-- States with names: the state, and the reason's name (block reason or latency cause).
CREATE VIEW states_named AS
SELECT
    s.g, s.start_ns, s.end_ns, s.p, s.m,       -- as in states
    s.end_ns - s.start_ns AS duration_ns,      -- interval length, ns
    st.name AS state_name,                     -- g_states.name
    CASE s.state WHEN 2 THEN br.name WHEN 0 THEN lc.name END AS reason_name -- block reason / latency cause
FROM states AS s
JOIN g_states AS st ON st.code = s.state
LEFT JOIN block_reasons AS br ON s.state = 2 AND br.code = s.reason
LEFT JOIN latency_causes AS lc ON s.state = 0 AND lc.code = s.reason;

-- Blocked time per goroutine and reason (Go's goroutine analysis splits blocking the same way:
-- sync, network, sleep...). One row per (g, reason) with any blocked time.
CREATE VIEW goroutine_blocking AS
SELECT
    s.g,                                       -- goroutine
    s.reason             AS reason,            -- block_reasons.code
    br.name              AS reason_name,       -- block_reasons.name
    count(*)             AS times,             -- blocked intervals
    sum(s.end_ns - s.start_ns) AS blocked_ns   -- total blocked time for this reason, ns
FROM states AS s
LEFT JOIN block_reasons AS br ON br.code = s.reason
WHERE s.state = 2
GROUP BY s.g, s.reason
ORDER BY s.g, blocked_ns DESC;

-- How busy each P was: time running goroutines and in syscalls with the P held.
CREATE VIEW proc_utilization AS
SELECT
    p,                                                            -- processor
    sum(CASE state WHEN 1 THEN end_ns - start_ns ELSE 0 END) AS running_ns,  -- running Gs, ns
    sum(CASE state WHEN 3 THEN end_ns - start_ns ELSE 0 END) AS syscall_ns,  -- Gs in syscalls entered on it, ns
    sum(state = 1)                                           AS slices       -- slices run on it
FROM states
WHERE state IN (1, 3) AND p IS NOT NULL
GROUP BY p
ORDER BY p;
