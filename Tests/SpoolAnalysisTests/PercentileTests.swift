// Nearest-rank percentiles exactly as schema/analysis.md defines them.

import Testing
@testable import SpoolAnalysis

@Test func ranksAreCeilingOfPTimesN() {
    // n = 1: every percentile is the only value.
    #expect(Percentile.allCases.map { $0.rank(of: 1) } == [1, 1, 1, 1])
    // n = 10: ceil(5) = 5, ceil(9) = 9, ceil(9.9) = 10, ceil(9.99) = 10.
    #expect(Percentile.allCases.map { $0.rank(of: 10) } == [5, 9, 10, 10])
    // n = 1000: p99.9 is exactly rank 999 (a float 0.999 × 1000 would be 998.99...).
    #expect(Percentile.allCases.map { $0.rank(of: 1000) } == [500, 900, 990, 999])
    // n = 1001: ceil(500.5) = 501, ceil(900.9) = 901, ceil(990.99) = 991, ceil(999.999) = 1000.
    #expect(Percentile.allCases.map { $0.rank(of: 1001) } == [501, 901, 991, 1000])
    // n = 3: ceil(1.5) = 2, ceil(2.7) = 3.
    #expect(Percentile.allCases.map { $0.rank(of: 3) } == [2, 3, 3, 3])
}

@Test func statsOfValuesPickTheRankedValues() {
    let values = (1...100).map { Int64($0 * 10) }.shuffled()
    let s = DurationStats(values: values)
    #expect(s.count == 100)
    #expect(s.p50Ns == 500)
    #expect(s.p90Ns == 900)
    #expect(s.p99Ns == 990)
    #expect(s.p999Ns == 1000)
    #expect(s.maxNs == 1000)
    #expect(s.totalNs == 50500)
}

@Test func emptyAndTiedValues() {
    let empty = DurationStats(values: [])
    #expect(empty.count == 0)
    #expect(empty.p50Ns == nil && empty.maxNs == nil)
    let tied = DurationStats(values: [7, 7, 7, 3])
    #expect(tied.p50Ns == 7)  // sorted 3 7 7 7, rank 2
    #expect(tied.maxNs == 7)
    let two = DurationStats(values: [5, 1])
    #expect(two.p50Ns == 1)   // rank ceil(1) = 1
    #expect(two.p90Ns == 5)   // rank ceil(1.8) = 2
}

@Test func rankPickerStreamsInConstantMemory() {
    var picker = RankPicker(count: 2000)
    for v in 1...2000 { picker.add(Int64(v)) }
    let s = picker.stats
    #expect([s.p50Ns, s.p90Ns, s.p99Ns, s.p999Ns, s.maxNs] == [1000, 1800, 1980, 1998, 2000])
}
