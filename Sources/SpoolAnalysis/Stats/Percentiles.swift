// Nearest-rank percentiles (schema/analysis.md, "Percentiles"): for n sorted values
// v[1] <= ... <= v[n], the p-th percentile is v[ceil(p/100 × n)], and v[1] when that rank is 0.
//
// Ranks are computed in exact integer arithmetic on tenths of a percent (p99.9 = 999 per mille),
// so no floating-point rounding can move a rank (0.999 × 1000 is 998.999... in binary).

/// The percentiles every summary reports, in tenths of a percent.
public enum Percentile: Int, CaseIterable, Sendable {
    case p50 = 500, p90 = 900, p99 = 990, p999 = 999

    /// The label used in reports: `p50`, `p90`, `p99`, `p99.9`.
    public var label: String {
        switch self {
        case .p50: return "p50"
        case .p90: return "p90"
        case .p99: return "p99"
        case .p999: return "p99.9"
        }
    }

    /// The 1-based nearest rank of this percentile among `n` values (`n >= 1`).
    public func rank(of n: Int) -> Int {
        precondition(n >= 1, "percentile of an empty set")
        // ceil(perMille × n / 1000), exactly.
        let r = (rawValue * n + 999) / 1000
        return max(1, r)
    }
}

/// Count, nearest-rank percentiles and maximum of a set of durations (ns).
public struct DurationStats: Sendable, Codable, Equatable {
    /// Number of values.
    public var count: Int
    /// Nearest-rank percentiles, ns (nil when count is 0).
    public var p50Ns: Int64?
    public var p90Ns: Int64?
    public var p99Ns: Int64?
    public var p999Ns: Int64?
    /// Largest value, ns (nil when count is 0).
    public var maxNs: Int64?
    /// Sum of the values, ns.
    public var totalNs: Int64

    public init(count: Int = 0, p50Ns: Int64? = nil, p90Ns: Int64? = nil, p99Ns: Int64? = nil,
                p999Ns: Int64? = nil, maxNs: Int64? = nil, totalNs: Int64 = 0) {
        self.count = count
        self.p50Ns = p50Ns
        self.p90Ns = p90Ns
        self.p99Ns = p99Ns
        self.p999Ns = p999Ns
        self.maxNs = maxNs
        self.totalNs = totalNs
    }

    /// The value of percentile `p`.
    public func value(_ p: Percentile) -> Int64? {
        switch p {
        case .p50: return p50Ns
        case .p90: return p90Ns
        case .p99: return p99Ns
        case .p999: return p999Ns
        }
    }

    /// Stats of `values` (any order).
    public init(values: [Int64]) {
        var picker = RankPicker(count: values.count)
        for v in values.sorted() { picker.add(v) }
        self = picker.stats
    }
}

/// Picks nearest-rank percentiles from values fed in ascending order, in O(1) memory: the
/// summary streams sorted latencies out of an index through one of these.
public struct RankPicker: Sendable {
    /// Number of values that will be fed.
    public let count: Int
    private var seen = 0
    private var ranks: [Int]
    private var picked: [Int64?]
    private var last: Int64? = nil
    private var total: Int64 = 0

    /// Prepares to pick from `count` values.
    public init(count: Int) {
        self.count = count
        self.ranks = count > 0 ? Percentile.allCases.map { $0.rank(of: count) } : []
        self.picked = Array(repeating: nil, count: Percentile.allCases.count)
    }

    /// Feeds the next value; values must come in ascending order.
    public mutating func add(_ v: Int64) {
        assert(last == nil || v >= last!, "RankPicker.add: values out of order")
        seen += 1
        total &+= v
        last = v
        for (i, r) in ranks.enumerated() where r == seen { picked[i] = v }
    }

    /// The stats so far (complete once `count` values were fed).
    public var stats: DurationStats {
        DurationStats(count: seen, p50Ns: picked[0], p90Ns: picked[1], p99Ns: picked[2],
                      p999Ns: picked[3], maxNs: last, totalNs: total)
    }
}
