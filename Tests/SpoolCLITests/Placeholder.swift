import Testing

@Test func placeholder_SpoolCLITests() {}
