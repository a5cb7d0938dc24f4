// CRC-32C (Castagnoli), the checksum of the header payload and of every frame
// (schema/trace-format.md, "Frames"). Slice-by-8 table lookup: about 1-2 GB/s in release, which
// is off every hot path (the runtime checksums a batch on the flusher thread, once per buffer).

public enum CRC32C {
    /// Reflected polynomial 0x1EDC6F41.
    public static let polynomial: UInt32 = 0x82F6_3B78

    // tables[k][b]: CRC contribution of byte b at distance k from the end of an 8-byte block.
    private static let tables: [[UInt32]] = {
        var t = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for b in 0..<256 {
            var c = UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ polynomial : c >> 1 }
            t[0][b] = c
        }
        for b in 0..<256 {
            for k in 1..<8 { t[k][b] = (t[k - 1][b] >> 8) ^ t[0][Int(t[k - 1][b] & 0xFF)] }
        }
        return t
    }()

    /// Continues a CRC over `count` bytes at `p`. Start with `0` and pass the previous result to
    /// checksum data in pieces; the result is the finished CRC of everything so far.
    public static func update(_ crc: UInt32, _ p: UnsafeRawPointer, _ count: Int) -> UInt32 {
        var c = ~crc
        var i = 0
        let b = p.assumingMemoryBound(to: UInt8.self)
        tables[0].withUnsafeBufferPointer { t0 in
        tables[1].withUnsafeBufferPointer { t1 in
        tables[2].withUnsafeBufferPointer { t2 in
        tables[3].withUnsafeBufferPointer { t3 in
        tables[4].withUnsafeBufferPointer { t4 in
        tables[5].withUnsafeBufferPointer { t5 in
        tables[6].withUnsafeBufferPointer { t6 in
        tables[7].withUnsafeBufferPointer { t7 in
            while i + 8 <= count {
                let lo = c ^ (UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24)
                c = t7[Int(lo & 0xFF)] ^ t6[Int((lo >> 8) & 0xFF)] ^ t5[Int((lo >> 16) & 0xFF)]
                    ^ t4[Int(lo >> 24)] ^ t3[Int(b[i + 4])] ^ t2[Int(b[i + 5])] ^ t1[Int(b[i + 6])]
                    ^ t0[Int(b[i + 7])]
                i += 8
            }
            while i < count {
                c = (c >> 8) ^ t0[Int((c ^ UInt32(b[i])) & 0xFF)]
                i += 1
            }
        }}}}}}}}
        return ~c
    }

    /// CRC-32C of a byte array.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { update(0, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, $0.count) }
    }
}
