// Bulk appends of integer rows: the store stage of the import pipeline.
//
// Every derived table the importer writes has only integer columns (kinds, reasons and causes
// are integer codes; their names live in small lookup tables). A `TableWriter` buffers rows in
// a fixed array of `Int64` and writes them 32 at a time through one prepared
// `INSERT ... VALUES (?,..),(?,..),...` statement: measured at about twice the rate of one row
// per step (`notes/sqlite-import.md`). The tail (fewer than 32 rows) goes through a one-row
// statement at `flush()`.
//
// Invariant "No allocation per row": `put` writes into preallocated memory; binding reads it
// back. The only allocation happens in `init`.
//
// NULL is written as the sentinel `TableWriter.null` (`Int64.min`), which no real value uses
// (times are ≥ 0, ids are unsigned values below 2⁶³).

import CSQLite

/// Buffers integer rows for one table and inserts them in multi-row steps.
final class TableWriter {
    /// The value `put` takes for SQL NULL.
    static let null = Int64.min
    /// Rows per multi-row INSERT step.
    static let rowsPerStep = 32

    /// The table name.
    let table: String
    /// Columns per row.
    let columns: Int
    /// Rows written to SQLite so far (excluding buffered ones).
    private(set) var rowsWritten = 0

    private let multi: Statement
    private let single: Statement
    // SAFETY: `columns * rowsPerStep` Int64s, owned by this writer, freed in deinit.
    private let buffer: UnsafeMutablePointer<Int64>
    /// Values put so far in the buffer (row-major).
    private var filled = 0

    /// Prepares the inserts for `table` with the given column names (all integers).
    init(database: Database, table: String, columns names: [String]) throws {
        self.table = table
        self.columns = names.count
        let row = "(" + Array(repeating: "?", count: names.count).joined(separator: ",") + ")"
        let head = "INSERT INTO \(table) (\(names.joined(separator: ", "))) VALUES "
        multi = try database.prepare(head + Array(repeating: row, count: Self.rowsPerStep).joined(separator: ","))
        single = try database.prepare(head + row)
        buffer = .allocate(capacity: names.count * Self.rowsPerStep)
    }

    deinit { buffer.deallocate() }

    /// Rows written plus rows still buffered.
    var rowCount: Int { rowsWritten + filled / columns }

    /// Appends the next column value of the current row (`TableWriter.null` for NULL). After
    /// the last column of a row, call `endRow()`.
    @inline(__always)
    func put(_ value: Int64) {
        assert(filled < columns * Self.rowsPerStep, "TableWriter.put: row longer than \(columns) columns")
        buffer[filled] = value
        filled &+= 1
    }

    /// Appends an optional value (nil: NULL).
    @inline(__always)
    func put(_ value: Int64?) { put(value ?? Self.null) }

    /// Ends the current row; writes a step when 32 rows are buffered.
    @inline(__always)
    func endRow() throws {
        assert(filled % columns == 0, "TableWriter(\(table)).endRow: \(filled % columns) columns in the row, want \(columns)")
        if filled == columns * Self.rowsPerStep {
            try write(multi, count: filled)
            filled = 0
        }
    }

    /// Writes the buffered rows (fewer than 32) one by one.
    func flush() throws {
        assert(filled % columns == 0)
        var i = 0
        while i < filled {
            bindValues(single, from: i, count: columns)
            try single.step()
            single.reset()
            rowsWritten += 1
            i += columns
        }
        filled = 0
    }

    @inline(__always)
    private func write(_ stmt: Statement, count: Int) throws {
        bindValues(stmt, from: 0, count: count)
        try stmt.step()
        stmt.reset()
        rowsWritten += count / columns
    }

    @inline(__always)
    private func bindValues(_ stmt: Statement, from start: Int, count: Int) {
        for i in 0..<count {
            let v = buffer[start + i]
            if v == Self.null {
                stmt.bindNull(at: Int32(i + 1))
            } else {
                stmt.bind(v, at: Int32(i + 1))
            }
        }
    }
}
