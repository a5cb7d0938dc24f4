// Unsigned LEB128 varints, the encoding of every event field (see "Conventions" in
// schema/trace-format.md). At most 10 bytes; the 10th byte may only be 0 or 1.

public enum Varint {
    /// The most bytes a 64-bit varint can take.
    public static let maxLength = 10

    /// Number of bytes `value` takes.
    @inlinable
    public static func length(_ value: UInt64) -> Int {
        // 1 + floor(bits/7), with bits = 64 - leadingZeros (at least 1).
        let bits = 64 - (value | 1).leadingZeroBitCount
        return (bits + 6) / 7
    }

    /// Writes `value` at `p` and returns the number of bytes written.
    /// - Precondition: `p` has room for `length(value)` bytes (at most 10).
    @inlinable @inline(__always)
    public static func write(_ value: UInt64, to p: UnsafeMutablePointer<UInt8>) -> Int {
        var v = value
        var i = 0
        while v >= 0x80 {
            p[i] = UInt8(truncatingIfNeeded: v) | 0x80
            v >>= 7
            i += 1
        }
        p[i] = UInt8(truncatingIfNeeded: v)
        return i + 1
    }

    /// Appends `value` to `bytes`.
    public static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(truncatingIfNeeded: v))
    }

    /// Decodes a varint from `base[offset ..< end]`.
    /// Returns the value and the number of bytes read, or nil when the bytes end before the
    /// varint does or the value overflows 64 bits.
    @inlinable @inline(__always)
    public static func read(_ base: UnsafePointer<UInt8>, _ offset: Int, _ end: Int) -> (UInt64, Int)? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var i = offset
        while i < end {
            let byte = base[i]
            if shift == 63 && byte > 1 { return nil }
            result |= UInt64(byte & 0x7F) << shift
            i += 1
            if byte < 0x80 { return (result, i - offset) }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }
}
