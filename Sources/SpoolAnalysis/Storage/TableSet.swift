// The writers of every derived table, in one place: the trackers append rows here and never
// see SQL. Column lists mirror schema/tables.sql (a mismatch fails at `prepare`). `slices`,
// `sched_latency` and `syscalls` are views over `states` (schema/views.sql): no writer.

/// One `TableWriter` per derived table.
final class TableSet {
    let goroutines: TableWriter
    let threads: TableWriter
    let states: TableWriter
    let preemptions: TableWriter
    let threadCount: TableWriter
    let idleWhileRunnable: TableWriter
    let steals: TableWriter
    let lostEvents: TableWriter
    let latencyStats: TableWriter

    /// Prepares every writer; with a `store`, full blocks are inserted on the store thread.
    /// Created before the first row is put (statements are prepared on the calling thread).
    init(database db: Database, store: StoreThread? = nil) throws {
        goroutines = try TableWriter(database: db, table: "goroutines", columns: [
            "g", "parent_g", "created_ns", "ended_ns", "exec_ns", "runnable_ns", "blocked_ns",
            "syscall_ns", "slices", "max_latency_ns"], store: store)
        threads = try TableWriter(database: db, table: "threads", columns: [
            "m", "created_ns", "exited_ns", "cause", "first_seen_ns"], store: store)
        states = try TableWriter(database: db, table: "states", columns: [
            "g", "state", "start_ns", "end_ns", "p", "m", "reason"], store: store)
        preemptions = try TableWriter(database: db, table: "preemptions", columns: [
            "g", "p", "requested_ns", "delivered_ns", "delay_ns", "kind"], store: store)
        threadCount = try TableWriter(database: db, table: "thread_count", columns: [
            "ts_ns", "threads", "in_syscall"], store: store)
        idleWhileRunnable = try TableWriter(database: db, table: "idle_while_runnable", columns: [
            "start_ns", "end_ns", "idle_ps", "runnable_gs"], store: store)
        steals = try TableWriter(database: db, table: "steals", columns: [
            "ts_ns", "p", "from_p", "count"], store: store)
        lostEvents = try TableWriter(database: db, table: "lost_events", columns: [
            "ts_ns", "owner_kind", "owner_id", "count"], store: store)
        latencyStats = try TableWriter(database: db, table: "latency_stats", columns: [
            "cause", "count", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns", "total_ns"], store: store)
    }

    /// Every writer, for flushing and row counts.
    var all: [TableWriter] {
        [goroutines, threads, states, preemptions, threadCount,
         idleWhileRunnable, steals, lostEvents, latencyStats]
    }

    /// Hands on every buffered row.
    func flush() throws {
        for w in all { try w.flush() }
    }
}
