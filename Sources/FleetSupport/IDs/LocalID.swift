import Synchronization

/// Unique ids for tasks, streams and reservations without a system call each.
///
/// Why not `UUID()` or `randomElement()`: on Linux each of those reads the kernel's random
/// source (`UUID()` opens `/dev/urandom`; every `SystemRandomNumberGenerator` call is a
/// `getrandom(2)`), and a task made about ten such calls. Here one random seed per process is
/// mixed with a counter by SplitMix64's finaliser, a bijection on 64-bit values: ids never repeat
/// within a process and do not follow a visible sequence. They are names, not secrets.
public enum LocalID {
    private static let seed = UInt64.random(in: .min ... .max)
    private static let counter = Atomic<UInt64>(0)

    /// The next 64-bit id of this process.
    public static func next() -> UInt64 {
        var z = seed &+ counter.wrappingAdd(1, ordering: .relaxed).newValue &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `length` lower-case letters and digits (base 36) of the next id; at most 12, which keep
    /// 62 bits of it.
    public static func text(length: Int = 8) -> String {
        let digits = Array("0123456789abcdefghijklmnopqrstuvwxyz".utf8)
        var value = next()
        var bytes = [UInt8](repeating: 0, count: min(max(1, length), 12))
        for index in bytes.indices {
            bytes[index] = digits[Int(value % 36)]
            value /= 36
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
