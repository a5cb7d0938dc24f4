// A map from trace ids (G or M ids, UInt64) to small slot numbers, for the tracker's per-event
// lookups. Swift's Dictionary hashes with SipHash (a few percent of an import in profiles);
// trace ids are not attacker-chosen keys that need it, so this is open addressing with linear
// probing and a multiplicative (Fibonacci) hash, deletion by backward shift (no tombstones, so
// lookups stay short however many Gs come and go).
//
// Invariant "No gap in a probe run": every key sits at or after its home bucket with no empty
// bucket between; `remove` keeps it by shifting later entries of the run back.

/// An open-addressing map UInt64 → Int32. Key 0 marks empty buckets, so its value (a trace
/// may name G 0 by mistake) is kept aside.
struct IDMap {
    private var keys: [UInt64]
    private var zeroValue: Int32? = nil
    private var values: [Int32]
    private var mask: Int
    private var shift: UInt64
    /// Number of entries.
    private(set) var count = 0

    init(capacity: Int = 64) {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        keys = Array(repeating: 0, count: n)
        values = Array(repeating: 0, count: n)
        mask = n - 1
        shift = UInt64(64 - n.trailingZeroBitCount)
    }

    @inline(__always)
    private func home(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// The value for `key`, or nil.
    @inline(__always)
    subscript(key: UInt64) -> Int32? {
        if key == 0 { return zeroValue }
        var i = home(key)
        while true {
            let k = keys[i]
            if k == key { return values[i] }
            if k == 0 { return nil }
            i = (i + 1) & mask
        }
    }

    /// Sets `key` to `value` (inserting or replacing).
    mutating func set(_ key: UInt64, _ value: Int32) {
        if key == 0 {
            if zeroValue == nil { count += 1 }
            zeroValue = value
            return
        }
        if (count + 1) * 2 > keys.count { grow() }
        var i = home(key)
        while true {
            let k = keys[i]
            if k == key { values[i] = value; return }
            if k == 0 {
                keys[i] = key
                values[i] = value
                count += 1
                return
            }
            i = (i + 1) & mask
        }
    }

    /// Removes `key` if present (see "No gap in a probe run").
    mutating func remove(_ key: UInt64) {
        if key == 0 {
            if zeroValue != nil { count -= 1 }
            zeroValue = nil
            return
        }
        var i = home(key)
        while true {
            let k = keys[i]
            if k == 0 { return }
            if k == key { break }
            i = (i + 1) & mask
        }
        // Backward-shift: move later entries of the run into the hole when their home allows.
        var hole = i
        var j = (i + 1) & mask
        while keys[j] != 0 {
            let h = home(keys[j])
            // Entry j may move to `hole` if its home is not in the cyclic range (hole, j].
            let inRange = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j)
            if !inRange {
                keys[hole] = keys[j]
                values[hole] = values[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        keys[hole] = 0
        count -= 1
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values
        let n = keys.count * 2
        keys = Array(repeating: 0, count: n)
        values = Array(repeating: 0, count: n)
        mask = n - 1
        shift = UInt64(64 - n.trailingZeroBitCount)
        count = zeroValue == nil ? 0 : 1
        for (k, v) in zip(oldKeys, oldValues) where k != 0 { set(k, v) }
    }
}
