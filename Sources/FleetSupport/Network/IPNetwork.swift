/// A block of IP addresses in CIDR notation (`10.0.0.0/8`, `fd00::/8`), or one address (`192.0.2.7`,
/// the same as `/32`, or `/128` for IPv6).
///
/// Bits set past the prefix are cleared (`10.1.2.3/8` is `10.0.0.0/8`), as nginx and Express read
/// them. An IPv4-mapped IPv6 block (`::ffff:10.0.0.0/104`) is its IPv4 block (`10.0.0.0/8`).
/// Encoded as its text, so a config dump shows `"10.0.0.0/8"`.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible, Codable {
    /// The first address of the block.
    public let address: IPAddress
    /// How many leading bits every address in the block shares with ``address``.
    public let prefixLength: Int

    /// `nil` when `text` is neither an address nor `address/prefix` with a prefix that fits the family.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(String(parts[0])) else { return nil }
        let bits = address.bytes.count * 8
        var prefix = bits
        if parts.count == 2 {
            let digits = parts[1]
            guard (1...3).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isWholeNumber }),
                  var value = Int(digits) else { return nil }
            // Written as IPv6 but read as IPv4 (IPv4-mapped): its prefix counts the 96 mapped bits.
            if address.family == .v4, parts[0].contains(":") {
                guard value >= 96 else { return nil }
                value -= 96
            }
            guard value <= bits else { return nil }
            prefix = value
        }
        var masked = address.bytes
        for index in masked.indices {
            masked[index] &= Self.mask(byte: index, prefixLength: prefix)
        }
        self.address = IPAddress(bytes: masked)
        self.prefixLength = prefix
    }

    /// Whether `candidate` lies in the block (never when the families differ).
    public func contains(_ candidate: IPAddress) -> Bool {
        guard candidate.bytes.count == address.bytes.count else { return false }
        for index in candidate.bytes.indices
        where candidate.bytes[index] & Self.mask(byte: index, prefixLength: prefixLength) != address.bytes[index] {
            return false
        }
        return true
    }

    /// `10.0.0.0/8`; a single address with its full prefix (`192.0.2.7/32`).
    public var description: String { "\(address)/\(prefixLength)" }

    /// The bits of byte `index` that lie within the prefix.
    private static func mask(byte index: Int, prefixLength: Int) -> UInt8 {
        let bits = Swift.max(0, Swift.min(8, prefixLength - index * 8))
        let shifted: Int = 0xff << (8 - bits)
        return UInt8(truncatingIfNeeded: shifted)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let network = IPNetwork(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not an IP address or CIDR block")
        }
        self = network
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
