// `spool_rows`: an eponymous virtual table that shows SQLite a block of `Int64` rows in place,
// so a whole `RowBlock` goes in with one `INSERT INTO t (...) SELECT c0, c1, ... FROM
// spool_rows(?)` step instead of one `sqlite3_bind_int64` per value.
//
// Why: binding was most of the store thread's cost that was not SQLite's B-tree work. Each bind
// checks the statement, enters and leaves the connection's mutex, releases the old value and
// stores the new one; the VDBE then copies every bound value into a register (OP_Variable). A
// virtual table column is one indirect call that sets the register directly (OP_VColumn,
// `sqlite3_result_int64`). Measured with the system SQLite 3.40 on 7-column rows, one
// transaction, 64 KiB pages: 32-row multi-row INSERTs with binds 2.4-3.3M rows/s, this table
// with 1024-row blocks 3.9-4.0M rows/s (C, same machine, same minute).
//
// How the rows get in: the statement binds one pointer (`sqlite3_bind_pointer`, type
// `"spool_rows"`) to the hidden column `source`; `xBestIndex` demands an equality constraint on
// it and `xFilter` reads it back with `sqlite3_value_pointer`, which only returns pointers bound
// with the same type string (SQLite's pointer-passing interface: SQL text cannot forge one).
// The pointer is a `RowSource` on the binding thread's stack, valid for the one step that reads
// it (see `TableWriter.insert`). NULLs are the writer's sentinel (`TableWriter.null`): `xColumn`
// returns no result for them, which SQLite reads as NULL.
//
// Rejected: the `carray` extension (not compiled into Debian's libsqlite3); a virtual table
// reading a writer-global "current block" (global mutable state; the pointer interface keeps
// each statement's rows its own).

import CSQLite

/// The rows one `spool_rows` scan returns: `rows` rows of `columns` values, row-major.
struct RowSource {
    var values: UnsafePointer<Int64>
    var rows: Int
    var columns: Int
}

enum RowSourceTable {
    /// The table's name (eponymous: usable without `CREATE VIRTUAL TABLE`).
    static let name = "spool_rows"
    /// Value columns `c0 ... c<maxColumns-1>`; the hidden `source` column comes after them.
    static let maxColumns = RowBlock.maxColumns
    /// Index of the hidden `source` column.
    static let sourceColumn = Int32(maxColumns)

    /// `SELECT` list over the first `count` value columns: `c0, c1, ...`.
    static func columns(_ count: Int) -> String {
        precondition(count <= maxColumns, "spool_rows has \(maxColumns) value columns; asked for \(count)")
        return (0..<count).map { "c\($0)" }.joined(separator: ", ")
    }

    /// Registers the module on `db`'s connection (once per connection; `Database` remembers).
    static func register(on db: OpaquePointer) -> Int32 {
        sqlite3_create_module_v2(db, name, module, nil, nil)
    }

    /// Binds `source` to parameter `index` of `stmt`.
    /// - Precondition: `source` stays valid until the statement's next reset.
    static func bind(_ source: UnsafeMutablePointer<RowSource>, to stmt: OpaquePointer, at index: Int32) -> Int32 {
        sqlite3_bind_pointer(stmt, index, UnsafeMutableRawPointer(source), pointerType, nil)
    }

    /// The pointer type tag. SQLite keeps the pointer and compares the string later, so it must
    /// live forever (a Swift string literal passed to C is only valid during the call).
    private static let pointerType: UnsafePointer<CChar> = {
        let tag = "spool_rows"
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: tag.utf8.count + 1)
        tag.withCString { p.initialize(from: $0, count: tag.utf8.count + 1) }
        return UnsafePointer(p)
    }()

    /// A cursor: SQLite's base struct at offset 0 (SQLite reads only that), then our state.
    private struct CursorState {
        var values: UnsafePointer<Int64>?
        var row: Int
        var rows: Int
        var columns: Int
    }
    private static let stateOffset = (MemoryLayout<sqlite3_vtab_cursor>.stride + MemoryLayout<CursorState>.alignment - 1)
        / MemoryLayout<CursorState>.alignment * MemoryLayout<CursorState>.alignment
    private static let cursorSize = stateOffset + MemoryLayout<CursorState>.stride

    @inline(__always)
    private static func state(_ cursor: UnsafeMutablePointer<sqlite3_vtab_cursor>?) -> UnsafeMutablePointer<CursorState> {
        // SAFETY: every cursor of this module was allocated by xOpen with the state at stateOffset.
        (UnsafeMutableRawPointer(cursor!) + stateOffset).assumingMemoryBound(to: CursorState.self)
    }

    /// The module. Lives forever: connections keep a pointer to it.
    private static let module: UnsafeMutablePointer<sqlite3_module> = {
        var m = sqlite3_module()
        m.iVersion = 1
        // xCreate nil: eponymous-only (no CREATE VIRTUAL TABLE, nothing stored in the schema).
        m.xCreate = nil
        m.xConnect = { db, _, _, _, vtabOut, _ in
            let columns = (0..<RowSourceTable.maxColumns).map { "c\($0)" }.joined(separator: ", ")
            let rc = sqlite3_declare_vtab(db, "CREATE TABLE x(\(columns), source HIDDEN)")
            if rc != SQLITE_OK { return rc }
            let vtab = UnsafeMutablePointer<sqlite3_vtab>.allocate(capacity: 1)
            vtab.initialize(to: sqlite3_vtab())
            vtabOut!.pointee = vtab
            return SQLITE_OK
        }
        m.xBestIndex = { _, info in
            // Only plan with the source pointer given (`spool_rows(?)`).
            let info = info!
            for i in 0..<Int(info.pointee.nConstraint) {
                let c = info.pointee.aConstraint[i]
                if c.iColumn == RowSourceTable.sourceColumn && c.usable != 0
                    && c.op == UInt8(SQLITE_INDEX_CONSTRAINT_EQ) {
                    info.pointee.aConstraintUsage[i].argvIndex = 1
                    info.pointee.aConstraintUsage[i].omit = 1
                    info.pointee.estimatedCost = 1
                    info.pointee.estimatedRows = Int64(RowBlock.rows)
                    return SQLITE_OK
                }
            }
            return SQLITE_CONSTRAINT
        }
        m.xDisconnect = { vtab in
            vtab?.deinitialize(count: 1)
            vtab?.deallocate()
            return SQLITE_OK
        }
        m.xDestroy = m.xDisconnect
        m.xOpen = { vtab, cursorOut in
            let raw = UnsafeMutableRawPointer.allocate(byteCount: RowSourceTable.cursorSize,
                                                       alignment: MemoryLayout<CursorState>.alignment)
            let cursor = raw.bindMemory(to: sqlite3_vtab_cursor.self, capacity: 1)
            cursor.initialize(to: sqlite3_vtab_cursor(pVtab: vtab))
            (raw + RowSourceTable.stateOffset).bindMemory(to: CursorState.self, capacity: 1)
                .initialize(to: CursorState(values: nil, row: 0, rows: 0, columns: 0))
            cursorOut!.pointee = cursor
            return SQLITE_OK
        }
        m.xClose = { cursor in
            UnsafeMutableRawPointer(cursor!).deallocate()
            return SQLITE_OK
        }
        m.xFilter = { cursor, _, _, argc, argv in
            let s = RowSourceTable.state(cursor)
            s.pointee = CursorState(values: nil, row: 0, rows: 0, columns: 0)
            guard argc >= 1, let raw = sqlite3_value_pointer(argv![0], RowSourceTable.pointerType) else {
                return SQLITE_OK  // no rows (a NULL or foreign value: nothing to read)
            }
            // SAFETY: bound by `RowSourceTable.bind` from a RowSource valid for this step.
            let source = raw.assumingMemoryBound(to: RowSource.self).pointee
            s.pointee = CursorState(values: source.values, row: 0, rows: source.rows, columns: source.columns)
            return SQLITE_OK
        }
        m.xNext = { cursor in
            RowSourceTable.state(cursor).pointee.row += 1
            return SQLITE_OK
        }
        m.xEof = { cursor in
            let s = RowSourceTable.state(cursor)
            return s.pointee.row >= s.pointee.rows ? 1 : 0
        }
        m.xColumn = { cursor, context, i in
            let s = RowSourceTable.state(cursor)
            let column = Int(i)
            guard column < s.pointee.columns, let values = s.pointee.values else { return SQLITE_OK }
            let v = values[s.pointee.row * s.pointee.columns + column]
            if v != TableWriter.null { sqlite3_result_int64(context, v) }
            return SQLITE_OK
        }
        m.xRowid = { cursor, rowid in
            rowid!.pointee = sqlite3_int64(RowSourceTable.state(cursor).pointee.row)
            return SQLITE_OK
        }
        let p = UnsafeMutablePointer<sqlite3_module>.allocate(capacity: 1)
        p.initialize(to: m)
        return p
    }()
}
