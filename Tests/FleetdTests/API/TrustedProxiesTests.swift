import FleetSupport
import HTTPTypes
import Testing
@testable import fleetd

/// Which client a request is from (`api.trustedProxies`): the TCP peer, or, from a trusted proxy,
/// the rightmost forwarded address that is not itself a trusted proxy.
@Suite("Client addresses behind trusted proxies")
struct TrustedProxiesTests {
    let proxies = TrustedProxies(["127.0.0.1/32", "10.0.0.0/8", "fd00::/8"].compactMap { IPNetwork($0) })

    func client(_ peer: String?, xff: [String] = [], forwarded: [String] = []) -> String? {
        proxies.clientAddress(peer: peer, forwardedFor: xff, forwarded: forwarded)
    }

    @Test func withNoTrustedProxyTheHeadersAreIgnored() {
        let none = TrustedProxies([])
        let headers: HTTPFields = [TrustedProxies.forwardedForHeader: "203.0.113.7", TrustedProxies.forwardedHeader: "for=198.51.100.1"]
        #expect(none.clientAddress(peer: "127.0.0.1", headers: headers) == "127.0.0.1")
        #expect(none.clientAddress(peer: nil, headers: headers) == nil)
    }

    @Test func aSpoofedHeaderFromAnUntrustedPeerIsIgnored() {
        #expect(client("203.0.113.50", xff: ["198.51.100.1"]) == "203.0.113.50")
        #expect(client("203.0.113.50", xff: ["10.0.0.1, 127.0.0.1"]) == "203.0.113.50", "naming a trusted proxy buys nothing")
        #expect(client("203.0.113.50", forwarded: ["for=198.51.100.1"]) == "203.0.113.50")
        #expect(client("2001:db8::50", xff: ["198.51.100.1"]) == "2001:db8::50")
        #expect(client("11.0.0.1", xff: ["198.51.100.1"]) == "11.0.0.1", "just outside 10.0.0.0/8")
        #expect(client(nil, xff: ["198.51.100.1"]) == nil, "an unknown peer is not trusted")
    }

    @Test func oneTrustedProxy() {
        #expect(client("127.0.0.1", xff: ["203.0.113.7"]) == "203.0.113.7")
        #expect(client("127.0.0.1") == "127.0.0.1", "a trusted peer that forwards nothing is the client")
        let headers: HTTPFields = [TrustedProxies.forwardedForHeader: "203.0.113.7"]
        #expect(proxies.clientAddress(peer: "127.0.0.1", headers: headers) == "203.0.113.7")
    }

    @Test func chainsAreWalkedFromTheRightPastTrustedProxies() {
        // The client wrote 198.51.100.9 itself; the edge proxy appended the peer it saw.
        #expect(client("10.0.0.2", xff: ["198.51.100.9, 203.0.113.7, 10.0.0.5"]) == "203.0.113.7")
        #expect(client("10.0.0.2", xff: ["198.51.100.9,203.0.113.7,10.0.0.5,127.0.0.1"]) == "203.0.113.7")
        // Several header lines are one list, in order.
        #expect(client("127.0.0.1", xff: ["198.51.100.9", "203.0.113.7, 10.1.1.1"]) == "203.0.113.7")
        var headers = HTTPFields()
        headers.append(HTTPField(name: TrustedProxies.forwardedForHeader, value: "198.51.100.9"))
        headers.append(HTTPField(name: TrustedProxies.forwardedForHeader, value: "203.0.113.7"))
        #expect(proxies.clientAddress(peer: "127.0.0.1", headers: headers) == "203.0.113.7")
        // Every address trusted: the leftmost is the client.
        #expect(client("127.0.0.1", xff: ["10.0.0.9, 10.0.0.5"]) == "10.0.0.9")
    }

    @Test func ipv6AndPorts() {
        #expect(client("fd00::1", xff: ["2001:DB8:0::7"]) == "2001:db8::7")
        #expect(client("fd00::1", xff: ["2001:db8::7, fd00::2"]) == "2001:db8::7")
        #expect(client("::ffff:127.0.0.1", xff: ["203.0.113.7"]) == "203.0.113.7", "a dual-stack socket's IPv4 peer")
        #expect(client("127.0.0.1", xff: ["::ffff:203.0.113.7"]) == "203.0.113.7")
        #expect(client("127.0.0.1", xff: ["203.0.113.7:4711"]) == "203.0.113.7")
        #expect(client("127.0.0.1", xff: ["[2001:db8::7]:4711"]) == "2001:db8::7")
        #expect(client("127.0.0.1", xff: ["[2001:db8::7]"]) == "2001:db8::7")
    }

    @Test func forwardedIsReadWhenThereIsNoXForwardedFor() {
        #expect(client("127.0.0.1", forwarded: ["for=192.0.2.60;proto=http;by=203.0.113.43"]) == "192.0.2.60")
        #expect(client("127.0.0.1", forwarded: [#"For="[2001:db8:cafe::17]:4711""#]) == "2001:db8:cafe::17")
        #expect(client("127.0.0.1", forwarded: ["proto=https; for=192.0.2.61"]) == "192.0.2.61")
        #expect(client("127.0.0.1", forwarded: ["for=198.51.100.1, for=203.0.113.7", "for=10.0.0.3"]) == "203.0.113.7")
        #expect(client("127.0.0.1", xff: ["203.0.113.7"], forwarded: ["for=198.51.100.1"]) == "203.0.113.7",
                "X-Forwarded-For wins when both are sent")
    }

    @Test func aMalformedEntryEndsTheWalkAtTheLastTrustedHop() {
        #expect(client("127.0.0.1", xff: ["garbage"]) == "127.0.0.1")
        #expect(client("127.0.0.1", xff: [""]) == "127.0.0.1")
        #expect(client("127.0.0.1", xff: ["203.0.113.7,,"]) == "127.0.0.1")
        #expect(client("127.0.0.1", xff: ["203.0.113.7, unknown, 10.0.0.5"]) == "10.0.0.5")
        #expect(client("127.0.0.1", xff: ["010.0.0.1"]) == "127.0.0.1", "an octal-looking address is refused")
        #expect(client("127.0.0.1", xff: ["203.0.113.7:http"]) == "127.0.0.1")
        #expect(client("127.0.0.1", xff: ["[203.0.113.7]"]) == "127.0.0.1", "brackets hold IPv6 only")
        #expect(client("127.0.0.1", xff: ["[2001:db8::7"]) == "127.0.0.1")
        #expect(client("127.0.0.1", xff: ["fe80::1%eth0"]) == "127.0.0.1")
        #expect(client("127.0.0.1", forwarded: ["for=_hidden"]) == "127.0.0.1")
        #expect(client("127.0.0.1", forwarded: ["for=unknown"]) == "127.0.0.1")
        #expect(client("127.0.0.1", forwarded: ["proto=https"]) == "127.0.0.1")
        // Garbage to the left of a real client changes nothing.
        #expect(client("127.0.0.1", xff: ["garbage, 203.0.113.7"]) == "203.0.113.7")
    }
}
