import AsyncHTTPClient
import Foundation
import Synchronization
import Testing
@testable import Providers

/// The lanes past AsyncHTTPClient's one HTTP/2 connection per host: which client a call gets.
/// (End to end, over real HTTP/2: `ProviderTLSTests` in FleetdTests.)
@Suite struct ProviderHTTPClientsTests {
    /// Clients made so far, so the test can shut them down.
    final class Made: Sendable {
        let clients = Mutex<[HTTPClient]>([])
        func make() -> HTTPClient {
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            clients.withLock { $0.append(client) }
            return client
        }
    }

    @Test("an HTTPS host's calls fill one client to the limit before the next is made; a freed place is reused")
    func lanesFillInOrder() async throws {
        let made = Made()
        let clients = ProviderHTTPClients(primary: HTTPClient(eventLoopGroupProvider: .singleton), streamsPerConnection: 2) { made.make() }
        var leases: [ProviderHTTPLease?] = []
        var picked: [ObjectIdentifier] = []
        for _ in 0..<5 {
            let (client, lease) = clients.lease(url: "https://api.example.com/v1/messages")
            #expect(lease != nil)
            leases.append(lease)
            picked.append(ObjectIdentifier(client))
        }
        let primary = ObjectIdentifier(clients.primary)
        let second = made.clients.withLock { ObjectIdentifier($0[0]) }
        #expect(picked[0] == primary && picked[1] == primary)
        #expect(picked[2] == second && picked[3] == second)
        #expect(clients.clientCount == 3)
        // Another host starts on the primary again.
        let (other, otherLease) = clients.lease(url: "https://api.other.example:8443/x")
        #expect(ObjectIdentifier(other) == primary && otherLease != nil)
        // A call on the primary ends: the next call takes its place rather than a new client.
        leases[0] = nil
        let (again, _) = clients.lease(url: "https://api.example.com/v1/messages")
        #expect(ObjectIdentifier(again) == primary)
        #expect(clients.clientCount == 3)
        try await clients.shutdown()
    }

    @Test("plain HTTP and a single-client set stay on the primary and count nothing")
    func plainHTTPStaysOnThePrimary() async throws {
        let clients = ProviderHTTPClients(primary: HTTPClient(eventLoopGroupProvider: .singleton), streamsPerConnection: 1) {
            HTTPClient(eventLoopGroupProvider: .singleton)
        }
        for _ in 0..<3 {
            let (client, lease) = clients.lease(url: "http://127.0.0.1:11434/api/chat")
            #expect(ObjectIdentifier(client) == ObjectIdentifier(clients.primary) && lease == nil)
        }
        #expect(clients.clientCount == 1)
        try await clients.shutdown()
        let single = ProviderHTTPClients(primary: HTTPClient(eventLoopGroupProvider: .singleton), streamsPerConnection: 1)
        let (_, lease) = single.lease(url: "https://api.example.com/v1")
        #expect(lease == nil)
        try await single.shutdown()
    }

    @Test("the pool key is host and port", arguments: [
        ("https://api.anthropic.com/v1/messages", "api.anthropic.com"),
        ("https://gw.example:8443/v1/chat/completions?x=1", "gw.example:8443"),
        ("https://gw.example?x", "gw.example"),
    ])
    func hostKey(url: String, host: String) {
        #expect(ProviderHTTPClients.host(of: url) == host[...])
    }
}
