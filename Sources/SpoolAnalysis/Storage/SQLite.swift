// A small SQLite wrapper, modelled on GRDB's `Database` and `Statement`.
//
// What it keeps:
// - A `Statement` owns its `sqlite3_stmt` and finalizes it in `deinit`; it holds a strong
//   reference to its `Database`, so a connection is never closed under a live statement
//   ("Statement outlives nothing").
// - Binding a parameter can only fail when the index or the value is wrong, which is our bug:
//   bind failures trap with SQLite's message. Stepping can fail for reasons outside our control
//   (bad SQL typed by a user, a full disk, a locked file): every step failure goes through one
//   path, `Database.error(code:sql:)`, which captures SQLite's own message.
// - No global state, no threads: a `Database` is used from one thread at a time.
//
// Rejected: GRDB itself (a large dependency for the handful of calls the importer needs, and its
// value-binding layer boxes every value — the importer binds tens of millions of integers);
// `sqlite3_exec` callbacks for queries (no typed columns, a C callback per row).

import CSQLite

/// An error reported by SQLite: its result code, its message, and the SQL that failed.
public struct SQLiteError: Error, CustomStringConvertible, Equatable, Sendable {
    /// SQLite's (extended) result code, e.g. 1 (`SQLITE_ERROR`).
    public var code: Int32
    /// SQLite's message (`sqlite3_errmsg`), e.g. `no such table: foo`.
    public var message: String
    /// The statement that failed, when there is one.
    public var sql: String?

    public init(code: Int32, message: String, sql: String? = nil) {
        self.code = code
        self.message = message
        self.sql = sql
    }

    /// SQLite's message, as `spool query` prints it.
    public var description: String { message }
}

/// One SQLite connection.
public final class Database {
    /// The raw connection handle.
    // SAFETY: valid from `init` until `deinit`; statements keep `self` alive (see the file
    // essay, "Statement outlives nothing").
    let handle: OpaquePointer
    /// The path the database was opened at.
    public let path: String

    /// How to open a database file.
    public enum Mode: Sendable {
        /// Read only; the file must exist.
        case readOnly
        /// Read and write; the file must exist.
        case readWrite
        /// Read and write; the file is created if missing.
        case create
    }

    /// Opens (or creates) the database at `path`. `":memory:"` opens a private in-memory one.
    public init(path: String, mode: Mode = .create) throws {
        var flags: Int32
        switch mode {
        case .readOnly: flags = SQLITE_OPEN_READONLY
        case .readWrite: flags = SQLITE_OPEN_READWRITE
        case .create: flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        }
        flags |= SQLITE_OPEN_NOMUTEX
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open \(path)"
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: rc, message: "\(message) (\(path))")
        }
        sqlite3_extended_result_codes(db, 1)
        self.handle = db
        self.path = path
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    /// The error for result code `code`, with SQLite's current message for this connection.
    func error(code: Int32, sql: String?) -> SQLiteError {
        SQLiteError(code: code, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    /// Runs one or more statements that return no rows we need (DDL, pragmas, inserts).
    public func execute(_ sql: String) throws {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        if rc != SQLITE_OK { throw error(code: rc, sql: sql) }
    }

    /// Compiles one statement. Text after the first statement is an error (use `execute` or
    /// `prepareAll` for scripts).
    public func prepare(_ sql: String) throws -> Statement {
        var stmts = try prepareAll(sql)
        guard stmts.count == 1 else {
            throw SQLiteError(code: SQLITE_ERROR,
                              message: stmts.isEmpty ? "no SQL statement" : "more than one SQL statement",
                              sql: sql)
        }
        return stmts.removeFirst()
    }

    /// Compiles every statement of `sql`, in order (empty statements and comments are skipped).
    /// Statements that depend on earlier ones (a table created by the first) need
    /// `forEachStatement`, which compiles each one only after the previous one ran.
    public func prepareAll(_ sql: String) throws -> [Statement] {
        var result: [Statement] = []
        try forEachStatement(sql) { result.append($0) }
        return result
    }

    /// Compiles the statements of `sql` one at a time, calling `body` with each before the next
    /// is compiled (so `body` can run it first).
    public func forEachStatement(_ sql: String, _ body: (Statement) throws -> Void) throws {
        try sql.withCString { start in
            var cursor: UnsafePointer<CChar>? = start
            while let current = cursor, current.pointee != 0 {
                var stmt: OpaquePointer?
                var tail: UnsafePointer<CChar>?
                let rc = sqlite3_prepare_v2(handle, current, -1, &stmt, &tail)
                if rc != SQLITE_OK {
                    if let stmt { sqlite3_finalize(stmt) }
                    // SAFETY: `current` points into the NUL-terminated copy of `sql`.
                    throw error(code: rc, sql: String(cString: current))
                }
                if let stmt { try body(Statement(database: self, handle: stmt)) }
                cursor = tail
            }
        }
    }

    /// Sets a pragma: `PRAGMA name = value`.
    public func pragma(_ name: String, _ value: String) throws {
        // Some pragmas (journal_mode) return a row; step through it.
        let stmt = try prepare("PRAGMA \(name) = \(value)")
        while try stmt.step() {}
    }

    /// The first column of the first row of `sql`, as an integer (nil: no row or NULL).
    public func scalarInt(_ sql: String) throws -> Int64? {
        let stmt = try prepare(sql)
        guard try stmt.step(), !stmt.isNull(0) else { return nil }
        return stmt.int64(0)
    }

    /// Runs `body` inside one transaction: committed when it returns, rolled back when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Rows changed by the last INSERT/UPDATE/DELETE.
    public var changes: Int { Int(sqlite3_changes(handle)) }

    /// Whether `spool_rows` (RowSource.swift) is registered on this connection.
    private var rowSourceRegistered = false

    /// Registers the `spool_rows` virtual table on this connection, once.
    func registerRowSource() throws {
        if rowSourceRegistered { return }
        let rc = RowSourceTable.register(on: handle)
        if rc != SQLITE_OK { throw error(code: rc, sql: nil) }
        rowSourceRegistered = true
    }
}

/// The storage class of a column value.
public enum SQLValue: Equatable, Sendable, CustomStringConvertible {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    public var description: String {
        switch self {
        case .null: return "NULL"
        case .integer(let v): return String(v)
        case .real(let v): return String(v)
        case .text(let s): return s
        case .blob(let b): return "x'" + b.map { hex2($0) }.joined() + "'"
        }
    }
}

func hex2(_ b: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
}

/// A compiled statement. Owns its handle; finalized in `deinit`.
public final class Statement {
    // SAFETY: valid until `deinit`; `database` keeps the connection open meanwhile.
    let handle: OpaquePointer
    /// The connection; kept alive by this reference.
    public let database: Database

    init(database: Database, handle: OpaquePointer) {
        self.database = database
        self.handle = handle
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// The statement's SQL text.
    public var sql: String { String(cString: sqlite3_sql(handle)) }

    /// Number of `?` parameters.
    public var parameterCount: Int32 { sqlite3_bind_parameter_count(handle) }

    // MARK: Binding (1-based parameter indexes; a failure is our bug and traps)

    @inline(__always)
    func checkBind(_ rc: Int32, _ index: Int32) {
        if rc != SQLITE_OK {
            fatalError("SQLite bind of parameter \(index) failed (\(rc)): \(String(cString: sqlite3_errmsg(database.handle))) in \(sql)")
        }
    }

    /// Binds an integer to parameter `index` (1-based).
    @inline(__always)
    public func bind(_ value: Int64, at index: Int32) {
        checkBind(sqlite3_bind_int64(handle, index, value), index)
    }

    /// Binds NULL to parameter `index`.
    @inline(__always)
    public func bindNull(at index: Int32) {
        checkBind(sqlite3_bind_null(handle, index), index)
    }

    /// Binds an optional integer (nil: NULL).
    public func bind(_ value: Int64?, at index: Int32) {
        if let value { bind(value, at: index) } else { bindNull(at: index) }
    }

    /// Binds a double.
    public func bind(_ value: Double, at index: Int32) {
        checkBind(sqlite3_bind_double(handle, index, value), index)
    }

    /// Binds text (copied by SQLite).
    public func bind(_ value: String?, at index: Int32) {
        guard let value else { return bindNull(at: index) }
        let rc = value.withCString { sqlite3_bind_text(handle, index, $0, -1, spool_sqlite_transient()) }
        checkBind(rc, index)
    }

    // MARK: Stepping (failures are `SQLiteError`s)

    /// Advances to the next row: `true` when a row is available, `false` when done.
    @inline(__always)
    @discardableResult
    public func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        let err = database.error(code: rc, sql: sql)
        sqlite3_reset(handle)
        throw err
    }

    /// Resets the statement to run again; bindings are kept.
    @inline(__always)
    public func reset() {
        // The result of reset repeats the last step's error, already reported by `step`.
        sqlite3_reset(handle)
    }

    /// Runs the statement to completion and resets it (inserts, DDL).
    public func run() throws {
        defer { reset() }
        while try step() {}
    }

    // MARK: Columns of the current row (0-based)

    /// Number of result columns.
    public var columnCount: Int32 { sqlite3_column_count(handle) }

    /// Name of result column `i`.
    public func columnName(_ i: Int32) -> String { String(cString: sqlite3_column_name(handle, i)) }

    /// Whether column `i` of the current row is NULL.
    public func isNull(_ i: Int32) -> Bool { sqlite3_column_type(handle, i) == SQLITE_NULL }

    /// Column `i` as an integer (NULL reads as 0).
    public func int64(_ i: Int32) -> Int64 { sqlite3_column_int64(handle, i) }

    /// Column `i` as an optional integer.
    public func optionalInt64(_ i: Int32) -> Int64? { isNull(i) ? nil : int64(i) }

    /// Column `i` as a double.
    public func double(_ i: Int32) -> Double { sqlite3_column_double(handle, i) }

    /// Column `i` as text (NULL reads as "").
    public func text(_ i: Int32) -> String {
        guard let p = sqlite3_column_text(handle, i) else { return "" }
        return String(cString: p)
    }

    /// Column `i` with its storage class.
    public func value(_ i: Int32) -> SQLValue {
        switch sqlite3_column_type(handle, i) {
        case SQLITE_INTEGER: return .integer(int64(i))
        case SQLITE_FLOAT: return .real(double(i))
        case SQLITE_TEXT: return .text(text(i))
        case SQLITE_BLOB:
            let n = Int(sqlite3_column_bytes(handle, i))
            guard n > 0, let p = sqlite3_column_blob(handle, i) else { return .blob([]) }
            // SAFETY: SQLite guarantees `n` readable bytes at `p` until the next step/reset.
            return .blob(Array(UnsafeRawBufferPointer(start: p, count: n)))
        default: return .null
        }
    }
}
