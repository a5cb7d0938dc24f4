// The one event table exists three times: `EventKind` (Swift), the prose table in
// schema/trace-format.md, and the `event_kinds` rows in schema/tables.sql. This test fails when
// they disagree on any code, name, argument list, owner kinds or enum value.

import Testing
import SpoolTraceFormat

@Suite struct EventSpecSyncTests {
    /// The package root, from this file's path (Tests/SpoolTraceFormatTests/<file>).
    static let root: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    static func read(_ relative: String) throws -> String {
        let path = root + "/" + relative
        let f = fopenForRead(path)
        guard let f else { throw SpecError(message: "cannot read \(path)") }
        defer { fcloseForTest(f) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBufferPointer { freadForTest($0, f) }
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    struct SpecError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// Cells of the markdown table rows of `section` (between its heading and the next heading)
    /// whose first cell satisfies `first`.
    static func tableRows(_ text: String, section: String, where first: (String) -> Bool) -> [[String]] {
        var inSection = false
        var rows: [[String]] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("#") {
                inSection = line.trimmingSpaces().hasSuffix(section)
                continue
            }
            guard inSection, line.hasPrefix("|") else { continue }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { String($0).trimmingSpaces() }
            if let c = cells.first, first(c) { rows.append(cells) }
        }
        return rows
    }

    @Test func proseEventTableMatchesEventKind() throws {
        let text = try Self.read("schema/trace-format.md")
        let rows = Self.tableRows(text, section: "Event table") { UInt8($0) != nil }
        #expect(rows.count == EventKind.allCases.count, "rows in trace-format.md: \(rows.count)")
        var seen = Set<UInt8>()
        for row in rows {
            #expect(row.count == 5, "\(row)")
            guard row.count == 5, let code = UInt8(row[0]) else { continue }
            seen.insert(code)
            guard let kind = EventKind(rawValue: code) else {
                Issue.record("trace-format.md has code \(code) (\(row[1])) that EventKind lacks")
                continue
            }
            #expect(kind.name == row[1], "code \(code)")
            let args = row[2].split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
            #expect(kind.argNames == args, "\(kind.name) args")
            #expect(kind.argCount == args.count, "\(kind.name) arg count")
            let owners = Set(row[3].split(separator: ",").map { String($0).trimmingSpaces() })
            #expect(owners == Set((kind.allowedIn.contains(.p) ? ["P"] : []) + (kind.allowedIn.contains(.m) ? ["M"] : [])),
                    "\(kind.name) batch owners")
            // The prose names the seq argument where the Swift table has one.
            #expect((kind.seqArgIndex != nil) == args.contains("seq"), "\(kind.name) seq")
            if let i = kind.seqArgIndex { #expect(args[i] == "seq") }
        }
        #expect(seen == Set(EventKind.allCases.map(\.rawValue)))
        #expect(EventKind.allCases.map(\.argCount).max() == EventKind.maxArgs)
    }

    @Test func proseEnumTableMatchesTraceEnum() throws {
        let text = try Self.read("schema/trace-format.md")
        let rows = Self.tableRows(text, section: "Enums") { TraceEnum(rawValue: $0) != nil }
        var prose: [String: [Int: String]] = [:]
        for row in rows where row.count == 3 {
            guard let v = Int(row[1]) else { Issue.record("bad enum value in \(row)"); continue }
            #expect(prose[row[0], default: [:]][v] == nil, "duplicate \(row)")
            prose[row[0], default: [:]][v] = row[2]
        }
        #expect(Set(prose.keys) == Set(TraceEnum.allCases.map(\.rawValue)))
        for e in TraceEnum.allCases {
            let values = prose[e.rawValue] ?? [:]
            #expect(values.keys.sorted() == Array(0..<e.names.count), "\(e.rawValue) values")
            #expect((0..<e.names.count).map { values[$0] } == e.names.map { Optional($0) }, "\(e.rawValue) names")
        }
        // Every enum the event table names as an argument type is one of these.
        let events = Self.tableRows(text, section: "Event table") { UInt8($0) != nil }
        for row in events where row.count == 5 {
            guard let kind = EventKind(rawValue: UInt8(row[0])!) else { continue }
            for (_, type) in kind.enumArgs {
                #expect(row[4].contains(type.rawValue), "\(kind.name) meaning should name \(type.rawValue)")
            }
        }
    }

    /// `INSERT INTO <table> (...) VALUES (...), (...);` rows as cell arrays (quotes stripped).
    static func sqlRows(_ sql: String, table: String) -> [[String]]? {
        let chars = Array(sql)
        func find(_ needle: String, from: Int) -> Int? {
            let n = Array(needle)
            guard chars.count >= n.count else { return nil }
            var i = from
            while i + n.count <= chars.count {
                if Array(chars[i..<i + n.count]) == n { return i }
                i += 1
            }
            return nil
        }
        guard let start = find("INSERT INTO \(table) ", from: 0),
              let values = find("VALUES", from: start), let end = find(";", from: values) else { return nil }
        let body = chars[(values + 6)..<end]
        var rows: [[String]] = []
        var current = ""
        var depth = 0
        var inQuote = false
        for ch in body {
            if ch == "'" { inQuote.toggle(); continue }
            if !inQuote && ch == "(" { depth += 1; current = ""; continue }
            if !inQuote && ch == ")" {
                depth -= 1
                rows.append(current.split(separator: ",").map { String($0).trimmingSpaces() })
                continue
            }
            if depth > 0 { current.append(ch) }
        }
        return rows
    }

    @Test func sqlEventKindsMatchEventKind() throws {
        let sql = try Self.read("schema/tables.sql")
        guard let rows = Self.sqlRows(sql, table: "event_kinds") else {
            Issue.record("schema/tables.sql has no INSERT INTO event_kinds")
            return
        }
        #expect(rows.count == EventKind.allCases.count)
        for row in rows {
            #expect(row.count == 3, "\(row)")
            guard row.count == 3, let code = UInt8(row[0]), let argc = Int(row[2]) else { continue }
            guard let kind = EventKind(rawValue: code) else {
                Issue.record("event_kinds has code \(code) that EventKind lacks")
                continue
            }
            #expect(kind.name == row[1], "code \(code)")
            #expect(kind.argCount == argc, "\(kind.name) arg_count")
        }
        #expect(Set(rows.compactMap { $0.first.flatMap { UInt8($0) } }) == Set(EventKind.allCases.map(\.rawValue)))
    }

    /// The SQL lookup tables that mirror a wire enum hold exactly its values and names.
    @Test(arguments: [("block_reasons", TraceEnum.blockReason), ("thread_causes", .threadCause), ("preempt_kinds", .preemptKind)])
    func sqlLookupTableMatchesEnum(table: String, e: TraceEnum) throws {
        let sql = try Self.read("schema/tables.sql")
        guard let rows = Self.sqlRows(sql, table: table) else {
            Issue.record("schema/tables.sql has no INSERT INTO \(table)")
            return
        }
        #expect(rows.map { $0.first.flatMap { Int($0) } } == (0..<e.names.count).map { Optional($0) }, "\(table) codes")
        #expect(rows.map { $0.count > 1 ? $0[1] : "" } == e.names, "\(table) names")
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "`" || c == "\r" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "`" || c == "\r" { s.removeLast() }
        return String(s)
    }
}
