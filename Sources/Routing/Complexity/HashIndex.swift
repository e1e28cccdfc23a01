/// A read-only open-addressing table from 64-bit keys (already well-mixed hashes) to small
/// integers. Lookups cost a multiply and a probe or two, where `Dictionary` would run SipHash on
/// every word of every prompt.
struct HashIndex: Sendable {
    private let keys: [UInt64]
    private let values: [Int32]
    private let mask: Int

    /// Builds a table at most half full. Key 0 is reserved as "empty" and stored as 1.
    init(_ entries: [UInt64: Int32]) {
        var capacity = 16
        while capacity < entries.count * 2 { capacity *= 2 }
        var keys = [UInt64](repeating: 0, count: capacity)
        var values = [Int32](repeating: -1, count: capacity)
        let mask = capacity - 1
        for (key, value) in entries.sorted(by: { $0.key < $1.key }) {
            let k = HashIndex.stored(key)
            var slot = HashIndex.slot(k, mask)
            while keys[slot] != 0 && keys[slot] != k { slot = (slot + 1) & mask }
            keys[slot] = k
            values[slot] = value
        }
        self.keys = keys
        self.values = values
        self.mask = mask
    }

    /// The value stored for `key`, if any.
    @inline(__always)
    subscript(key: UInt64) -> Int32? {
        let k = HashIndex.stored(key)
        var slot = HashIndex.slot(k, mask)
        while true {
            let found = keys[slot]
            if found == k { return values[slot] }
            if found == 0 { return nil }
            slot = (slot + 1) & mask
        }
    }

    @inline(__always)
    private static func stored(_ key: UInt64) -> UInt64 { key == 0 ? 1 : key }

    @inline(__always)
    private static func slot(_ key: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9e37_79b9_7f4a_7c15) >> 40) & mask
    }
}
