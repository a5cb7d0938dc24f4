// The import pipeline, end to end: read (TraceFile.scan) → order (OrderedEvents) → track
// (SchedTracker) → store (TableWriter) → indexes. The statistics stage (`Summary`) reads the
// result back.
//
// Storage choices (measured in notes/sqlite-import.md): a fresh file, `page_size=65536` before
// the first table, `journal_mode=OFF`, `synchronous=OFF`, `locking_mode=EXCLUSIVE`, everything
// in one transaction, one INSERT step per 1024-row block (through the `spool_rows` virtual
// table, no bind per value: RowSource.swift), and indexes built after the load with SQLite's
// default (small) cache.
//
// Two threads: this one reads, orders and tracks; a store thread (`StoreThread`) inserts full
// row blocks meanwhile (see "One thread per connection" in TableWriter.swift). Rows are what
// costs: the tracker writes one `states` row per G transition and the `slices`,
// `sched_latency` and `syscalls` tables are views over it; latency percentiles are computed here
// (`latency_stats`) rather than by indexing. Rejected: an index on sched_latency(cause,
// latency_ns) (a third of the import time); separate slices/sched_latency tables (40% more
// rows for data `states` already holds).
//
// Invariant "Bad input loses nothing": a truncated or corrupt trace imports every batch before
// the problem; the problem goes into `meta` and `import_stats` and the report's warnings, with
// its byte offset. The import itself fails only when the trace header is unreadable or SQLite
// fails; then the half-written database file is removed.

import Foundation
import SpoolTraceFormat

/// Options of one import.
public struct ImportOptions {
    /// Also store every event in the `events` table (schema/events.sql). Large and slower.
    public var rawEvents: Bool
    /// Called from the importing thread about every 65,536 events, and once at the end.
    public var progress: ((ImportProgress) -> Void)?

    public init(rawEvents: Bool = false, progress: ((ImportProgress) -> Void)? = nil) {
        self.rawEvents = rawEvents
        self.progress = progress
    }
}

/// Where an import is.
public struct ImportProgress: Sendable {
    /// Events processed so far.
    public var eventsDone: Int
    /// Events in the trace's valid batches.
    public var eventsTotal: Int
    /// Seconds since the import started.
    public var elapsedSeconds: Double
    /// The stage: "scan" while the reader validates the file (before any event), "events" while
    /// tracking, "indexes" while building indexes, "done".
    public var stage: String
}

/// What an import did.
public struct ImportReport: Sendable {
    /// The database written.
    public var databasePath: String
    /// Events read from the trace (every event of every valid batch).
    public var eventCount: Int
    /// Rows written per table, in schema order (only tables the importer fills).
    public var rowsPerTable: [(table: String, rows: Int)]
    /// Rows written in total.
    public var totalRows: Int { rowsPerTable.reduce(0) { $0 + $1.rows } }
    /// Non-zero `import_stats` entries.
    public var importStats: [ImportStat]
    /// The reader's problem (truncation or corruption), when there was one.
    public var problem: TraceError?
    /// Human-readable warnings to print (truncation with its byte offset, lost events, ...).
    public var warnings: [String]
    /// Wall-clock time of the whole import, seconds.
    public var elapsedSeconds: Double
    /// Trace duration: trace end, ns since trace start.
    public var traceEndNs: Int64
    /// Most goroutines alive at once (memory used by the tracker grows with this).
    public var peakLiveGoroutines: Int
}

/// One row of `import_stats`.
public struct ImportStat: Sendable, Codable, Equatable {
    public var name: String
    public var severity: Severity
    public var value: Int64
    public var description: String
}

/// Why an import could not start.
public struct ImportError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// Imports Spool traces into SQLite databases.
public enum TraceImporter {
    /// Version string written to `meta.importer`.
    public static let version = "spool-analysis 1"

    /// Imports the trace at `path` into a new database at `dbPath`.
    /// - Throws: `TraceError` when the trace's header cannot be read, `ImportError` when
    ///   `dbPath` exists and is not empty, `SQLiteError` when SQLite fails.
    public static func importTrace(path: String, into dbPath: String,
                                   options: ImportOptions = ImportOptions()) throws -> ImportReport {
        try requireFresh(dbPath)
        let file = try TraceFile(path: path)
        return try importTrace(file: file, tracePath: path, into: dbPath, options: options)
    }

    /// Imports an opened trace into a new database at `dbPath` (`tracePath` is only recorded
    /// in `meta`).
    public static func importTrace(file: TraceFile, tracePath: String? = nil, into dbPath: String,
                                   options: ImportOptions = ImportOptions()) throws -> ImportReport {
        let started = Date()
        try requireFresh(dbPath)  // before the scan, which reads the whole trace
        options.progress?(ImportProgress(eventsDone: 0, eventsTotal: 0, elapsedSeconds: 0, stage: "scan"))
        let scan = file.scan()
        var ordered = OrderedEvents(file: file, scan: scan)
        let endNs = file.header.nanoseconds(max(scan.end?.endTicks ?? 0, scan.maxTicks))
        var report = try importEvents(
            header: file.header, into: dbPath, options: options, eventsTotal: scan.eventCount,
            endNs: endNs, started: started, next: { ordered.next() },
            extra: { db, stats in
                stats.append(("seq_mismatch", .warning, Int64(ordered.seqMismatches),
                              "events taken although their seq did not follow their goroutine's last seq"))
                stats.append(("order_skew", .info, Int64(ordered.orderSkews),
                              "events taken before an earlier-timestamped event because their seq said so"))
                stats.append(("batches_missing", .error, Int64(ordered.batchesMissing),
                              "gaps in owners' batch sequence numbers (whole batches lost)"))
                if scan.batchCountMismatch, let end = scan.end {
                    stats.append(("batch_count_mismatch", .error, Int64(end.batchCount) - Int64(scan.batches.count),
                                  "the end frame's batch count minus the batches read"))
                }
                if let problem = scan.problem {
                    stats.append(("trace_problem_offset", .error, Int64(problem.offset),
                                  "byte offset of the first invalid or missing data: \(problem.message)"))
                    stats.append(("bytes_not_imported", .error, Int64(file.size - scan.validBytes),
                                  "bytes from the problem to the end of the file"))
                }
                var meta: [(String, String)] = [
                    ("trace_bytes", String(file.size)),
                    ("finalized", scan.end != nil ? "1" : "0"),
                ]
                if let tracePath { meta.append(("trace_path", tracePath)) }
                if let problem = scan.problem {
                    meta.append(("problem", problem.description))
                    meta.append(("problem_offset", String(problem.offset)))
                }
                try insertMeta(db, meta)
            })
        report.problem = scan.problem
        if let problem = scan.problem {
            report.warnings.insert(
                "trace \(problem.kind == .truncated ? "truncated" : "damaged") at byte \(problem.offset) "
                + "(\(problem.message)); imported the \(scan.batches.count) complete batches before it", at: 0)
        } else if scan.end == nil {
            report.warnings.insert("trace has no end frame: it was not finalized", at: 0)
        }
        if ordered.batchesMissing > 0 {
            report.warnings.append("\(ordered.batchesMissing) batches missing (gaps in batch sequence numbers)")
        }
        report.elapsedSeconds = Date().timeIntervalSince(started)
        return report
    }

    /// Imports a stream of already ordered events (`next` returns nil at the end) into a new
    /// database. The tests feed hand-built events through this; `importTrace` feeds the reader.
    /// `endNs` is the trace end (raised to the last event's time if earlier).
    static func importEvents(
        header: TraceHeader, into dbPath: String, options: ImportOptions, eventsTotal: Int,
        endNs: Int64, started: Date = Date(), next: () -> TraceEvent?,
        extra: (Database, inout [(String, Severity, Int64, String)]) throws -> Void = { _, _ in }
    ) throws -> ImportReport {
        try requireFresh(dbPath)
        do {
            return try load(header: header, into: dbPath, options: options, eventsTotal: eventsTotal,
                            endNs: endNs, started: started, next: next, extra: extra)
        } catch {
            // Never leave a half-written database behind ("Bad input loses nothing" is about the
            // trace; a failed import keeps nothing).
            try? FileManager.default.removeItem(atPath: dbPath)
            throw error
        }
    }

    private static func load(
        header: TraceHeader, into dbPath: String, options: ImportOptions, eventsTotal: Int,
        endNs: Int64, started: Date, next: () -> TraceEvent?,
        extra: (Database, inout [(String, Severity, Int64, String)]) throws -> Void
    ) throws -> ImportReport {
        let db = try openForBulkLoad(dbPath)
        try db.execute(SchemaSQL.tables)
        if options.rawEvents { try db.execute(SchemaSQL.events) }
        try db.execute(SchemaSQL.views)

        var eventCount = 0
        var anomalies = AnomalyCounts()
        var peakLiveGs = 0
        var traceEnd: Int64 = 0
        var stats: [(String, Severity, Int64, String)] = []
        var rowsPerTable: [(String, Int)] = []
        try db.transaction {
            // From here until `store.finish()`, the store thread owns the connection.
            let store = StoreThread()
            let tables: TableSet
            let raw: TableWriter?
            do {
                tables = try TableSet(database: db, store: store)
                raw = options.rawEvents
                    ? try TableWriter(database: db, table: "events", columns: [
                        "ts_ns", "kind", "owner_kind", "owner_id", "a0", "a1", "a2"], store: store)
                    : nil
            } catch {
                try? store.finish()
                throw error
            }
            do {
                // A local struct: see the note on `SchedTracker`.
                var tracker = SchedTracker(header: header, tables: tables)
                eventCount = try track(next: next, tracker: &tracker, raw: raw, header: header,
                                       options: options, eventsTotal: eventsTotal, started: started)
                traceEnd = try tracker.finish(endNs: endNs)
                anomalies = tracker.anomalies
                peakLiveGs = tracker.peakLiveGs
                try raw?.flush()
                try store.finish()
            } catch {
                try? store.finish()
                throw error
            }
            for w in tables.all { rowsPerTable.append((w.table, w.rowCount)) }
            if let raw { rowsPerTable.append((raw.table, raw.rowCount)) }

            for a in Anomaly.allCases {
                stats.append((a.name, a.severity, anomalies[a], a.description))
            }
            stats.append(("events_imported", .info, Int64(eventCount), "events read and tracked"))
            for (table, rows) in rowsPerTable {
                stats.append(("rows_" + table, .info, Int64(rows), "rows written to \(table)"))
            }
            try extra(db, &stats)
            try insertStats(db, stats)
            try insertMeta(db, headerMeta(header, eventsTotal: eventsTotal, events: eventCount,
                                          traceEndNs: traceEnd, rawEvents: options.rawEvents))
        }
        options.progress?(ImportProgress(eventsDone: eventCount, eventsTotal: eventsTotal,
                                         elapsedSeconds: Date().timeIntervalSince(started),
                                         stage: "indexes"))
        try db.execute(SchemaSQL.indexes)
        let elapsed = Date().timeIntervalSince(started)
        options.progress?(ImportProgress(eventsDone: eventCount, eventsTotal: eventsTotal,
                                         elapsedSeconds: elapsed, stage: "done"))
        let nonZero = stats.filter { $0.2 != 0 }.map {
            ImportStat(name: $0.0, severity: $0.1, value: $0.2, description: $0.3)
        }
        var warnings: [String] = []
        let lost = anomalies[.eventsLost]
        if lost > 0 { warnings.append("the runtime dropped \(lost) events (TraceLost)") }
        return ImportReport(
            databasePath: dbPath, eventCount: eventCount,
            rowsPerTable: rowsPerTable.map { (table: $0.0, rows: $0.1) },
            importStats: nonZero, problem: nil, warnings: warnings, elapsedSeconds: elapsed,
            traceEndNs: traceEnd, peakLiveGoroutines: peakLiveGs)
    }

    /// The hot loop: every event through the raw-events writer (if any) and the tracker.
    /// Returns the number of events.
    private static func track(next: () -> TraceEvent?, tracker: inout SchedTracker, raw: TableWriter?,
                              header: TraceHeader, options: ImportOptions, eventsTotal: Int,
                              started: Date) throws -> Int {
        var eventCount = 0
        while let e = next() {
            if let raw {
                raw.put(header.nanoseconds(e.ticks))
                raw.put(Int64(e.kind.rawValue))
                raw.put(Int64(e.owner.kind.rawValue))
                raw.put(Int64(e.owner.id))
                let n = e.kind.argCount
                raw.put(n > 0 ? Int64(bitPattern: e.a0) : TableWriter.null)
                raw.put(n > 1 ? Int64(bitPattern: e.a1) : TableWriter.null)
                raw.put(n > 2 ? Int64(bitPattern: e.a2) : TableWriter.null)
                try raw.endRow()
            }
            try tracker.handle(e)
            eventCount += 1
            if eventCount & 0xFFFF == 0, let progress = options.progress {
                progress(ImportProgress(eventsDone: eventCount, eventsTotal: eventsTotal,
                                        elapsedSeconds: Date().timeIntervalSince(started),
                                        stage: "events"))
            }
        }
        return eventCount
    }

    /// Creates the database at `dbPath` with the bulk-load pragmas (notes/sqlite-import.md):
    /// 64 KiB pages (before the first table), no journal, no fsync, exclusive lock. The cache
    /// stays at SQLite's small default: index builds after the load sort faster with it.
    static func openForBulkLoad(_ dbPath: String) throws -> Database {
        let db = try Database(path: dbPath, mode: .create)
        try db.pragma("page_size", "65536")
        try db.pragma("journal_mode", "OFF")
        try db.pragma("synchronous", "OFF")
        try db.pragma("locking_mode", "EXCLUSIVE")
        return db
    }

    /// Refuses an existing non-empty file (the CLI decides about `--force` and removes it).
    static func requireFresh(_ dbPath: String) throws {
        var st = stat()
        if stat(dbPath, &st) == 0 {
            if (st.st_mode & S_IFMT) != S_IFREG {
                throw ImportError(message: "\(dbPath) exists and is not a regular file")
            }
            if st.st_size > 0 {
                throw ImportError(message: "\(dbPath) already exists; not overwriting it")
            }
            // An empty file (e.g. from mktemp) is fine: SQLite initializes it.
        }
    }

    static func headerMeta(_ h: TraceHeader, eventsTotal: Int, events: Int, traceEndNs: Int64,
                           rawEvents: Bool) -> [(String, String)] {
        var meta: [(String, String)] = [
            ("format_version", String(traceFormatVersion)),
            ("ticks_per_second", String(h.ticksPerSecond)),
            ("max_procs", String(h.maxProcs)),
            ("wall_clock_start_ns", String(h.wallClockStartNs)),
            ("pid", String(h.pid)),
            ("program", h.program),
            ("arguments", h.arguments.joined(separator: " ")),
            ("trace_end_ns", String(traceEndNs)),
            ("event_count", String(eventsTotal)),
            ("events_imported", String(events)),
            ("importer", version),
            ("raw_events", rawEvents ? "1" : "0"),
        ]
        let reserved = Set(meta.map(\.0) + ["trace_path", "trace_bytes", "finalized", "problem", "problem_offset"])
        for kv in h.meta {
            meta.append((reserved.contains(kv.key) ? "header." + kv.key : kv.key, kv.value))
        }
        return meta
    }

    static func insertMeta(_ db: Database, _ pairs: [(String, String)]) throws {
        let stmt = try db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)")
        for (k, v) in pairs {
            stmt.bind(k, at: 1)
            stmt.bind(v, at: 2)
            try stmt.run()
        }
    }

    static func insertStats(_ db: Database, _ stats: [(String, Severity, Int64, String)]) throws {
        let stmt = try db.prepare("INSERT INTO import_stats (name, severity, value, description) VALUES (?, ?, ?, ?)")
        for (name, severity, value, description) in stats where value != 0 {
            stmt.bind(name, at: 1)
            stmt.bind(severity.rawValue, at: 2)
            stmt.bind(value, at: 3)
            stmt.bind(description, at: 4)
            try stmt.run()
        }
    }
}
