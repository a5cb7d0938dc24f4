import Testing

@Test func placeholder_SpoolAnalysisTests() {}
