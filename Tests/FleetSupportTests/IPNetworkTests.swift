import Foundation
import Testing
@testable import FleetSupport

/// Addresses and CIDR blocks as `api.trustedProxies` and the forwarded headers write them.
@Suite("IP addresses and networks")
struct IPNetworkTests {
    @Test(arguments: [
        ("192.0.2.1", "192.0.2.1"),
        ("0.0.0.0", "0.0.0.0"),
        ("255.255.255.255", "255.255.255.255"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("2001:db8::", "2001:db8::"),
        ("::", "::"),
        ("::1", "::1"),
        // One zero group is not compressed; of two runs the longer one is.
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
        // IPv4-mapped (a dual-stack socket's IPv4 peer) is the IPv4 address.
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("::FFFF:c000:201", "192.0.2.1"),
        ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
    ])
    func addressesAreReadAndWrittenCanonically(text: String, canonical: String) throws {
        let address = try #require(IPAddress(text))
        #expect(address.description == canonical)
        #expect(IPAddress(canonical) == address)
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "+1.2.3.4", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4:80",
        "localhost", "unknown", "_hidden", ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7",
        "1:2:3:4:5:6:7::8", "fe80::1%eth0", "::ffff:1.2.3", "g::1", "::1/128", "[::1]", "+1::",
    ])
    func notAddresses(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func familiesAreTold() {
        #expect(IPAddress("10.0.0.1")?.family == .v4)
        #expect(IPAddress("::ffff:10.0.0.1")?.family == .v4)
        #expect(IPAddress("fd00::1")?.family == .v6)
    }

    @Test func blocksHoldTheirAddressesOnly() throws {
        let ten = try #require(IPNetwork("10.0.0.0/8"))
        #expect(ten.has("10.0.0.0") && ten.has("10.255.1.2") && ten.has("::ffff:10.0.0.1"))
        #expect(!ten.has("11.0.0.1") && !ten.has("9.255.255.255") && !ten.has("::ffff:11.0.0.1"))
        // Families never mix: the IPv4-compatible form of 10.0.0.1 is an IPv6 address.
        #expect(!ten.has("::a00:1"))

        let odd = try #require(IPNetwork("192.168.4.0/22"))
        #expect(odd.has("192.168.4.0") && odd.has("192.168.7.255"))
        #expect(!odd.has("192.168.8.0") && !odd.has("192.168.3.255"))

        let v6 = try #require(IPNetwork("2001:db8:abcd::/48"))
        #expect(v6.has("2001:db8:abcd:ffff::1") && v6.has("2001:DB8:ABCD::"))
        #expect(!v6.has("2001:db8:abce::1") && !v6.has("10.0.0.1"))

        let one = try #require(IPNetwork("192.0.2.7"))
        #expect(one.prefixLength == 32 && one.has("192.0.2.7") && !one.has("192.0.2.8"))
        let loopback6 = try #require(IPNetwork("::1"))
        #expect(loopback6.prefixLength == 128 && loopback6.has("::1") && !loopback6.has("::2"))

        let everyIPv4 = try #require(IPNetwork("0.0.0.0/0"))
        #expect(everyIPv4.has("203.0.113.1") && !everyIPv4.has("::1"))
    }

    @Test func bitsPastThePrefixAreCleared() {
        #expect(IPNetwork("10.1.2.3/8")?.description == "10.0.0.0/8")
        #expect(IPNetwork("192.168.5.77/22")?.description == "192.168.4.0/22")
        #expect(IPNetwork("2001:db8::1/32")?.description == "2001:db8::/32")
        #expect(IPNetwork("::ffff:10.0.0.0/104")?.description == "10.0.0.0/8")
        #expect(IPNetwork("FD00::/8")?.description == "fd00::/8")
        #expect(IPNetwork("127.0.0.1")?.description == "127.0.0.1/32")
        #expect(IPNetwork("10.1.2.3/8") == IPNetwork("10.0.0.0/8"))
    }

    @Test(arguments: [
        "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8/8", "/8", "10.0.0.0/ 8",
        "10.0.0.0 /8", "::ffff:10.0.0.0/95", "10.0.0.0/1000", "proxy.internal", "*", "",
    ])
    func notBlocks(text: String) {
        #expect(IPNetwork(text) == nil)
    }

    @Test func blocksAreCodedAsTheirText() throws {
        let decoded = try JSONDecoder().decode([IPNetwork].self, from: Data(#"["10.0.0.0/8", "::1", "FD00::/8"]"#.utf8))
        #expect(decoded.map(\.description) == ["10.0.0.0/8", "::1/128", "fd00::/8"])
        let again = try JSONDecoder().decode([IPNetwork].self, from: JSONEncoder().encode(decoded))
        #expect(again == decoded)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([IPNetwork].self, from: Data(#"["10.0.0.0/33"]"#.utf8)) }
    }
}

private extension IPNetwork {
    /// Whether the block holds the address `text` names (false when it names none).
    func has(_ text: String) -> Bool {
        guard let address = IPAddress(text) else { return false }
        return contains(address)
    }
}
