/// MurmurHash3, x86 32-bit variant: the hash Unleash uses for sticky rollout buckets.
///
/// Hand-written because it is 30 lines and no maintained Swift package for it is available
/// here; checked against Unleash's client-specification cases in the tests.
enum Murmur3 {
    static func hash32<Bytes: Sequence>(_ bytes: Bytes, seed: UInt32 = 0) -> UInt32 where Bytes.Element == UInt8 {
        let c1: UInt32 = 0xcc9e_2d51
        let c2: UInt32 = 0x1b87_3593
        var h = seed
        var length: UInt32 = 0
        var block: UInt32 = 0
        var filled = 0
        for byte in bytes {
            block |= UInt32(byte) << (8 * UInt32(filled))
            filled += 1
            length &+= 1
            if filled == 4 {
                var k = block &* c1
                k = (k << 15) | (k >> 17)
                k = k &* c2
                h ^= k
                h = (h << 13) | (h >> 19)
                h = h &* 5 &+ 0xe654_6b64
                block = 0
                filled = 0
            }
        }
        if filled > 0 {
            var k = block &* c1
            k = (k << 15) | (k >> 17)
            k = k &* c2
            h ^= k
        }
        h ^= length
        h ^= h >> 16
        h = h &* 0x85eb_ca6b
        h ^= h >> 13
        h = h &* 0xc2b2_ae35
        h ^= h >> 16
        return h
    }
}

/// Unleash's sticky bucket: `murmur3_x86_32(utf8("groupId:id"), seed) % normalizer + 1`.
public enum RolloutBucket {
    /// The seed Unleash uses for strategy rollout.
    public static let strategySeed: UInt32 = 0
    /// The seed Unleash uses for variant selection.
    public static let variantSeed: UInt32 = 86_028_157

    /// A bucket in `1...normalizer` for this identifier in this group.
    public static func normalized(id: String, groupId: String, normalizer: UInt32 = 100, seed: UInt32 = strategySeed) -> Int {
        let hash = Murmur3.hash32("\(groupId):\(id)".utf8, seed: seed)
        return Int(hash % normalizer) + 1
    }
}
