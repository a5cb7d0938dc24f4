// Aligned plain-text tables, shared by `spool query` and the summary report.

/// A table of strings rendered with aligned columns.
struct TextTable {
    var headers: [String]
    var rows: [[String]] = []
    /// Per column: right-aligned (numbers) or left-aligned.
    var rightAligned: [Bool]

    init(headers: [String], rightAligned: [Bool]? = nil) {
        self.headers = headers
        self.rightAligned = rightAligned ?? Array(repeating: false, count: headers.count)
    }

    mutating func add(_ row: [String]) { rows.append(row) }

    /// The table: a header line, a rule of dashes, the rows; columns two spaces apart; no
    /// trailing spaces. `indent` prefixes every line.
    func render(indent: String = "") -> String {
        var widths = headers.map { $0.count }
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count {
                widths[i] = max(widths[i], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (i, w) in widths.enumerated() {
                let cell = i < cells.count ? cells[i] : ""
                let pad = String(repeating: " ", count: max(0, w - cell.count))
                parts.append(rightAligned[i] ? pad + cell : cell + pad)
            }
            var s = indent + parts.joined(separator: "  ")
            while s.last == " " { s.removeLast() }
            return s
        }
        var out = [line(headers), indent + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        for row in rows { out.append(line(row)) }
        return out.joined(separator: "\n") + "\n"
    }
}
