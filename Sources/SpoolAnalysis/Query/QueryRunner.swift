// `spool query`: runs SQL against an imported database and formats the rows.
//
// A script may hold several statements; all run in order, and the rows of the last statement
// that returns columns are printed (so `CREATE TEMP VIEW v AS ...; SELECT * FROM v` works).
// Errors are SQLite's own messages (`SQLiteError.description`).

import Foundation

/// Output formats of `spool query`.
public enum QueryFormat: String, CaseIterable, Sendable {
    /// Aligned columns with a header and a rule (the default).
    case table
    /// RFC 4180 CSV with a header row; NULL is an empty field.
    case csv
    /// A JSON array of objects, one per row, keys in column order; NULL is `null`.
    case json
}

/// Runs SQL against a database file.
public enum QueryRunner {
    /// The result of one query: column names and rows.
    public struct Result: Sendable, Equatable {
        public var columns: [String]
        public var rows: [[SQLValue]]
    }

    /// Runs `sql` against the database at `dbPath` (which must exist) and formats the result.
    /// - Throws: `SQLiteError` with SQLite's message for bad SQL or an unreadable database.
    public static func run(dbPath: String, sql: String, format: QueryFormat = .table) throws -> String {
        guard FileManager.default.fileExists(atPath: dbPath) else {
            throw SQLiteError(code: 14, message: "unable to open database file: \(dbPath) does not exist")
        }
        let db = try Database(path: dbPath, mode: .readWrite)
        return render(try execute(db, sql: sql), format: format)
    }

    /// Runs every statement of `sql`; returns the rows of the last one that has columns.
    public static func execute(_ db: Database, sql: String) throws -> Result {
        var result = Result(columns: [], rows: [])
        var statements = 0
        try db.forEachStatement(sql) { stmt in
            statements += 1
            let n = stmt.columnCount
            var rows: [[SQLValue]] = []
            while try stmt.step() {
                var row: [SQLValue] = []
                row.reserveCapacity(Int(n))
                for i in 0..<n { row.append(stmt.value(i)) }
                rows.append(row)
            }
            if n > 0 {
                result = Result(columns: (0..<n).map { stmt.columnName($0) }, rows: rows)
            }
        }
        guard statements > 0 else {
            throw SQLiteError(code: 1, message: "no SQL statement to run", sql: sql)
        }
        return result
    }

    /// Formats a result.
    public static func render(_ result: Result, format: QueryFormat) -> String {
        switch format {
        case .table:
            var t = TextTable(headers: result.columns)
            if let first = result.rows.first {
                t.rightAligned = first.map {
                    if case .integer = $0 { return true }
                    if case .real = $0 { return true }
                    return false
                }
            }
            for row in result.rows { t.add(row.map { $0.description }) }
            let rowsNote = "(\(result.rows.count) row\(result.rows.count == 1 ? "" : "s"))\n"
            return result.columns.isEmpty ? rowsNote : t.render() + rowsNote
        case .csv:
            var out = result.columns.map(csvField).joined(separator: ",") + "\r\n"
            for row in result.rows {
                out += row.map { $0 == .null ? "" : csvField($0.description) }.joined(separator: ",") + "\r\n"
            }
            return out
        case .json:
            var out = "["
            for (r, row) in result.rows.enumerated() {
                out += r == 0 ? "\n  {" : ",\n  {"
                for (i, v) in row.enumerated() {
                    out += (i == 0 ? "" : ", ") + jsonString(result.columns[i]) + ": " + jsonValue(v)
                }
                out += "}"
            }
            return out + (result.rows.isEmpty ? "]\n" : "\n]\n")
        }
    }

    static func csvField(_ s: String) -> String {
        if s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return s
    }

    static func jsonValue(_ v: SQLValue) -> String {
        switch v {
        case .null: return "null"
        case .integer(let i): return String(i)
        case .real(let d): return d.isFinite ? String(d) : "null"
        case .text(let s): return jsonString(s)
        case .blob: return jsonString(v.description)
        }
    }

    /// A JSON string literal (RFC 8259 escaping).
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
