import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// `api.trustedProxies` end to end: the per-address rate limit and the request log behind a
/// reverse proxy. The test client connects from loopback, so "a proxy" is a loopback peer.
@Suite("HTTP API: clients behind a reverse proxy", .timeLimit(.minutes(1)))
struct TrustedProxyAPITests {
    /// Two requests per minute per client; `proxies` is the YAML list of trusted proxies.
    static func config(trusting proxies: String) -> String {
        """
        fleet: {id: proxy-test}
        api: {host: 127.0.0.1, port: 0, rateLimit: {windowMs: 60000, max: 2}, trustedProxies: \(proxies)}
        """
    }

    static func forwardedFor(_ value: String) -> HTTPFields {
        [HTTPField.Name("X-Forwarded-For")!: value]
    }

    @Test("two clients behind a trusted proxy get their own rate-limit windows")
    func clientsBehindATrustedProxyAreCountedApart() async throws {
        try await withFleetd(Self.config(trusting: #"[127.0.0.1/32, "::1/128"]"#), setup: .live) { client, _ in
            var first: [HTTPResponse.Status] = []
            for _ in 0..<3 {
                first.append(try await client.send(.get, "/v1/flags", headers: Self.forwardedFor("203.0.113.7")).status)
            }
            #expect(first == [.ok, .ok, .tooManyRequests])

            // Another client through the same proxy (which wrote itself into the chain) is counted apart.
            for _ in 0..<2 {
                let other = try await client.send(.get, "/v1/flags", headers: Self.forwardedFor("198.51.100.20, 127.0.0.1"))
                #expect(other.status == .ok, "\(other.text)")
            }
            // The first client written another way (with its port) is still the first client.
            let again = try await client.send(.get, "/v1/flags", headers: Self.forwardedFor("203.0.113.7:5123"))
            #expect(again.status == .tooManyRequests)
            #expect((again.apiError["message"] as? String)?.contains("from 203.0.113.7") == true, "\(again.text)")
            // RFC 7239's header names a third client; a request the proxy makes itself is a fourth.
            let forwarded = try await client.send(.get, "/v1/flags", headers: [HTTPField.Name("Forwarded")!: #"for="[2001:db8::7]:4711";proto=http"#])
            #expect(forwarded.status == .ok, "\(forwarded.text)")
            #expect(try await client.send(.get, "/v1/flags").status == .ok)
        }
    }

    @Test("the same header from a peer that is not a trusted proxy is ignored", arguments: ["[10.0.0.0/8]", "[]"])
    func aHeaderFromAnUntrustedPeerIsIgnored(proxies: String) async throws {
        try await withFleetd(Self.config(trusting: proxies), setup: .live) { client, _ in
            var statuses: [HTTPResponse.Status] = []
            for address in ["203.0.113.7", "198.51.100.20", "192.0.2.99"] {
                statuses.append(try await client.send(.get, "/v1/flags", headers: Self.forwardedFor(address)).status)
            }
            #expect(statuses == [.ok, .ok, .tooManyRequests], "trustedProxies: \(proxies)")
            let forwarded = try await client.send(.get, "/v1/flags", headers: [HTTPField.Name("Forwarded")!: "for=192.0.2.100"])
            #expect(forwarded.status == .tooManyRequests)
            #expect((forwarded.apiError["message"] as? String)?.contains("203.0.113.7") == false, "\(forwarded.text)")
        }
    }

    @Test("the request log names the forwarded client and the proxy")
    func theRequestLogNamesTheClient() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try "fleet: {id: proxied}\napi: {host: 127.0.0.1, trustedProxies: [127.0.0.1/32]}\n".write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"))
        let result = try await http(.GET, "\(fleetd.baseURL)/v1/flags", headers: [("X-Forwarded-For", "198.51.100.9, 203.0.113.7")])
        #expect(result.status == 200, "\(result.body)")
        #expect(await eventually { fleetd.logText.contains(#""client":"203.0.113.7""#) }, "\(fleetd.logText.suffix(2_000))")
        #expect(fleetd.logText.contains(#""proxy":"127.0.0.1""#))
        #expect(!fleetd.logText.contains(#""client":"198.51.100.9""#))
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
    }
}
