import Testing

@Test func placeholder_SpoolTests() {}
