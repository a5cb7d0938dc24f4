import Testing

@Test func placeholder_SpoolTraceFormatTests() {}
