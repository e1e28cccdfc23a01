import Foundation

/// An IPv4 or IPv6 address, read from its text form.
///
/// Strict on purpose, because the text may come from a request header: IPv4 is four decimal
/// parts without leading zeros (`010` means 8 to `inet_aton`, so ambiguous forms are refused),
/// IPv6 is RFC 4291's text (with `::` and a trailing dotted IPv4 part), without a zone (`%eth0`).
/// An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, how a dual-stack socket shows an IPv4 peer)
/// is that IPv4 address, so `127.0.0.1/32` covers it too.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Family: Sendable, Hashable {
        case v4, v6
    }

    /// The address in network order: 4 bytes for IPv4, 16 for IPv6.
    public let bytes: [UInt8]

    public var family: Family { bytes.count == 4 ? .v4 : .v6 }

    /// `nil` when `text` is not an address (names are never resolved).
    public init?(_ text: String) {
        let text = Substring(text)
        if let v4 = Self.parseIPv4(text) {
            bytes = v4
            return
        }
        guard let v6 = Self.parseIPv6(text) else { return nil }
        if v6[0..<10].allSatisfy({ $0 == 0 }), v6[10] == 0xff, v6[11] == 0xff {
            bytes = Array(v6[12..<16])
        } else {
            bytes = v6
        }
    }

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// `192.0.2.1`, or IPv6 as RFC 5952 writes it (lower case, the longest run of zero groups as `::`).
    public var description: String {
        if bytes.count == 4 { return bytes.map { String($0) }.joined(separator: ".") }
        let groups: [UInt16] = stride(from: 0, to: 16, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
        var bestStart = 0, bestLength = 0, index = 0
        while index < 8 {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < 8, groups[end] == 0 { end += 1 }
            if end - index > bestLength {
                bestStart = index
                bestLength = end - index
            }
            index = end
        }
        let hex = groups.map { String($0, radix: 16) }
        guard bestLength >= 2 else { return hex.joined(separator: ":") }
        return hex[..<bestStart].joined(separator: ":") + "::" + hex[(bestStart + bestLength)...].joined(separator: ":")
    }

    private static func isDecimalDigit(_ character: Character) -> Bool {
        ("0"..."9").contains(character)
    }

    private static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(isDecimalDigit),
                  part.count == 1 || part.first != "0", let value = UInt8(part) else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    /// One side of a `::`: colon-separated groups of 1–4 hex digits (none when empty).
    private static func hexGroups(_ text: Substring) -> [UInt16]? {
        if text.isEmpty { return [] }
        var groups: [UInt16] = []
        for group in text.split(separator: ":", omittingEmptySubsequences: false) {
            guard (1...4).contains(group.count), group.allSatisfy({ $0.isASCII && $0.isHexDigit }),
                  let value = UInt16(group, radix: 16) else { return nil }
            groups.append(value)
        }
        return groups
    }

    private static func parseIPv6(_ text: Substring) -> [UInt8]? {
        guard text.contains(":") else { return nil }
        var text = String(text)
        // A trailing dotted IPv4 part (`::ffff:192.0.2.1`) becomes its two hex groups.
        if let lastColon = text.lastIndex(of: ":"), text[text.index(after: lastColon)...].contains(".") {
            guard let v4 = parseIPv4(text[text.index(after: lastColon)...]) else { return nil }
            let high = UInt16(v4[0]) << 8 | UInt16(v4[1]), low = UInt16(v4[2]) << 8 | UInt16(v4[3])
            text = String(text[...lastColon]) + String(high, radix: 16) + ":" + String(low, radix: 16)
        }
        let groups: [UInt16]
        if let gap = text.range(of: "::") {
            guard let head = hexGroups(text[..<gap.lowerBound]), let tail = hexGroups(text[gap.upperBound...]),
                  head.count + tail.count <= 7 else { return nil }
            groups = head + Array(repeating: UInt16(0), count: 8 - head.count - tail.count) + tail
        } else {
            guard let all = hexGroups(text[...]), all.count == 8 else { return nil }
            groups = all
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for group in groups {
            bytes.append(UInt8(group >> 8))
            bytes.append(UInt8(group & 0xff))
        }
        return bytes
    }
}
