// Bulk appends of integer rows: the store stage of the import pipeline.
//
// Every derived table the importer writes has only integer columns (kinds, reasons and causes
// are integer codes; their names live in small lookup tables). A `TableWriter` collects rows in
// blocks of `Int64` and inserts a whole block with one step of one prepared
// `INSERT INTO t (...) SELECT c0, ... FROM spool_rows(?)`: the `spool_rows` virtual table
// (RowSource.swift) hands SQLite the block's values in place, with no bind per value.
// Rejected: 32-row `INSERT ... VALUES (?,..),(?,..),...` statements with one
// `sqlite3_bind_int64` per value (twice the rate of one row per step, notes/sqlite-import.md,
// but binding cost the store thread a third more than the virtual table does).
//
// Two ways to run:
// - Synchronous (no `StoreThread`): a block is inserted as soon as it is full, on the caller's
//   thread. The insert baseline and small imports of tests use it.
// - Pipelined (with a `StoreThread`): full blocks go to the store thread, which owns the
//   connection during the load, while the importing thread keeps reading, ordering and
//   tracking. SQLite's inserts are about half of an import's CPU time (the other half is decoding
//   and tracking), so on two cores the two halves overlap.
//
// Invariant "One thread per connection": while a `StoreThread` runs, only it touches the
// database and the writers' statements; the importing thread touches only blocks it owns (taken
// from the free list, not yet submitted). `StoreThread.finish()` joins before anyone else uses
// the connection again.
//
// Invariant "No allocation per row": `put` writes into a preallocated block; blocks are
// recycled through the store thread's free list (bounded: memory does not grow with the trace).
//
// NULL is written as the sentinel `TableWriter.null` (`Int64.min`), which no real value uses
// (times are ≥ 0, ids are unsigned values below 2⁶³).

import CSQLite
import Foundation

/// A block of rows of one table, row-major.
final class RowBlock {
    /// Rows per block (one INSERT step each).
    static let rows = 1024
    /// Most columns of any table the importer writes.
    static let maxColumns = 10

    // SAFETY: `rows * maxColumns` Int64s owned by this block, freed in deinit.
    let values: UnsafeMutablePointer<Int64>
    /// Values filled.
    var count = 0
    /// The writer whose rows these are (set when submitted).
    unowned(unsafe) var writer: TableWriter? = nil

    init() { values = .allocate(capacity: Self.rows * Self.maxColumns) }
    deinit { values.deallocate() }
}

/// Buffers integer rows for one table and inserts them a block per step.
final class TableWriter {
    /// The value `put` takes for SQL NULL.
    static let null = Int64.min

    /// The table name.
    let table: String
    /// Columns per row.
    let columns: Int
    /// Rows put so far (written or still buffered).
    var rowCount: Int { cursor.pointee.rowCount }

    /// `INSERT INTO t (...) SELECT c0, ... FROM spool_rows(?)`: one step inserts one block.
    private let insertBlock: Statement
    private let store: StoreThread?
    /// The block being filled (the cursor writes into it).
    private var block: RowBlock
    /// Values per full block.
    private let blockCapacity: Int

    /// Where the next value goes. Kept behind a pointer held in a `let`: writing through it needs
    /// no dynamic exclusivity check, unlike a stored `var` of a class (measured: those checks
    /// were several percent of an import).
    private struct Cursor {
        var values: UnsafeMutablePointer<Int64>
        var count: Int
        var rowCount: Int
    }
    // SAFETY: allocated in init, freed in deinit; `values` points into `block`.
    private let cursor: UnsafeMutablePointer<Cursor>

    /// Prepares the inserts for `table` with the given column names (all integers). With a
    /// `store`, full blocks are inserted by the store thread (see "One thread per connection").
    init(database: Database, table: String, columns names: [String], store: StoreThread? = nil) throws {
        precondition(names.count <= RowBlock.maxColumns, "TableWriter: \(table) has more than \(RowBlock.maxColumns) columns")
        self.table = table
        self.columns = names.count
        try database.registerRowSource()
        insertBlock = try database.prepare(
            "INSERT INTO \(table) (\(names.joined(separator: ", "))) SELECT \(RowSourceTable.columns(names.count)) FROM \(RowSourceTable.name)(?)")
        self.store = store
        let block = try store?.freeBlock() ?? RowBlock()
        self.block = block
        self.blockCapacity = RowBlock.rows * names.count
        cursor = .allocate(capacity: 1)
        cursor.initialize(to: Cursor(values: block.values, count: 0, rowCount: 0))
    }

    deinit {
        cursor.deallocate()
    }

    /// Appends the next column value of the current row (`TableWriter.null` for NULL). After
    /// the last column of a row, call `endRow()`.
    @inline(__always)
    func put(_ value: Int64) {
        assert(cursor.pointee.count < blockCapacity, "TableWriter(\(table)).put: row longer than \(columns) columns")
        cursor.pointee.values[cursor.pointee.count] = value
        cursor.pointee.count &+= 1
    }

    /// Appends an optional value (nil: NULL).
    @inline(__always)
    func put(_ value: Int64?) { put(value ?? Self.null) }

    /// Ends the current row; hands the block on when it is full.
    @inline(__always)
    func endRow() throws {
        assert(cursor.pointee.count % columns == 0, "TableWriter(\(table)).endRow: \(cursor.pointee.count % columns) columns in the row, want \(columns)")
        cursor.pointee.rowCount &+= 1
        if cursor.pointee.count == blockCapacity { try handOff() }
    }

    /// Hands the buffered rows on (to the store thread, or inserts them now).
    func flush() throws {
        if cursor.pointee.count > 0 { try handOff() }
    }

    private func handOff() throws {
        block.count = cursor.pointee.count
        if let store {
            block.writer = self
            try store.submit(block)
            block = try store.freeBlock()
            cursor.pointee.values = block.values
        } else {
            try insert(block)
        }
        block.count = 0
        cursor.pointee.count = 0
    }

    /// Inserts the rows of `block` in one step. Runs on the thread that owns the connection
    /// (see "One thread per connection").
    func insert(_ block: RowBlock) throws {
        assert(block.count % columns == 0, "TableWriter(\(table)).insert: partial row in block")
        if block.count == 0 { return }
        var source = RowSource(values: block.values, rows: block.count / columns, columns: columns)
        try withUnsafeMutablePointer(to: &source) { p in
            // SAFETY: `p` is read by spool_rows' xFilter during this step only; the reset below
            // ends the scan before `source` goes away.
            insertBlock.checkBind(RowSourceTable.bind(p, to: insertBlock.handle, at: 1), 1)
            defer { insertBlock.reset() }
            try insertBlock.step()
        }
    }
}

/// The thread that inserts full row blocks while the importing thread tracks (see "One thread
/// per connection"). Blocks travel through a bounded queue; inserted blocks come back through a
/// free list, so at most `maxBlocks` blocks ever exist.
final class StoreThread {
    /// Blocks in existence at most (queued, being inserted, free, or being filled).
    static let maxBlocks = 48

    private let lock = NSCondition()
    private var queue: [RowBlock] = []
    private var free: [RowBlock] = []
    private var allocated = 0
    private var closed = false
    private var failure: Error? = nil
    private let done = DispatchSemaphore(value: 0)
    private var finished = false

    init() {
        queue.reserveCapacity(Self.maxBlocks)
        free.reserveCapacity(Self.maxBlocks)
        // The thread keeps `self` alive until `finish()` lets it end.
        let thread = Thread { [self] in self.run() }
        thread.name = "spool-store"
        thread.start()
    }

    /// An empty block for the importing thread; waits while every block is in use.
    /// - Throws: the store thread's error, if it failed.
    func freeBlock() throws -> RowBlock {
        lock.lock()
        defer { lock.unlock() }
        while true {
            if let failure { throw failure }
            if let b = free.popLast() {
                b.count = 0
                return b
            }
            if allocated < Self.maxBlocks {
                allocated += 1
                return RowBlock()
            }
            lock.wait()
        }
    }

    /// Queues a full block for insertion (never blocks: blocks are bounded by `freeBlock`).
    /// - Throws: the store thread's error, if it failed.
    func submit(_ block: RowBlock) throws {
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
        queue.append(block)
        lock.broadcast()
    }

    /// Waits until every queued block is inserted and stops the thread. Call it exactly on
    /// every path (later calls only rethrow).
    /// - Throws: the first insert error.
    func finish() throws {
        lock.lock()
        closed = true
        lock.broadcast()
        lock.unlock()
        if !finished {
            done.wait()
            finished = true
        }
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
    }

    private func run() {
        var head = 0
        while true {
            lock.lock()
            while head >= queue.count && !closed { lock.wait() }
            if head >= queue.count && closed {
                lock.unlock()
                break
            }
            let block = queue[head]
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            }
            let failed = failure != nil
            lock.unlock()

            var error: Error? = nil
            if !failed, let writer = block.writer {
                do { try writer.insert(block) } catch let e { error = e }
            }

            lock.lock()
            if let error, failure == nil { failure = error }
            block.writer = nil
            free.append(block)
            lock.broadcast()
            lock.unlock()
        }
        done.signal()
    }
}
