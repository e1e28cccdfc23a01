import AsyncHTTPClient
import FakeProvider
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

    /// Over real HTTP/2 (the fake provider's TLS mode): calls fill lanes of two, and every way a
    /// call ends gives its place back (a leak would make fleetd open connections without end).
    @Test("over HTTP/2, a finished, a dropped and a refused call each give their place back")
    func callsEndingAnyWayAreUncounted() async throws {
        let tls = try FakeTLS.make()
        let gate = FakeGate()
        let server = try await FakeProviderServer.start(script: FakeScript { request, _ in
            let body = String(decoding: request.body, as: UTF8.self)
            if body.contains("REFUSE") { return .status(500, body: #"{"error": {"message": "no"}}"#) }
            return body.contains("HOLD") ? .openAIHeld(gate: gate) : .openAIText(stream: true)
        }, tls: tls)
        let trust = try tls.providerTrust()
        let clients = ProviderHTTPClients(primary: ProviderClientFactory.makeHTTPClient(trust: trust), streamsPerConnection: 2) {
            ProviderClientFactory.makeHTTPClient(trust: trust)
        }
        let factory = ProviderClientFactory(httpClients: clients, credentials: ProviderCredentials(environment: ["OPENAI_API_KEY": "k"]))
        let client = try factory.makeClient(for: endpoint(.openai, server))

        var held: [ProviderEventStream.AsyncIterator] = []
        for _ in 0..<3 {
            var iterator = try await client.stream(ProviderRequest(model: "m", prompt: "HOLD")).makeAsyncIterator()
            _ = try await iterator.next()
            held.append(iterator)
        }
        #expect(clients.callsInFlight == 3 && clients.clientCount == 2)
        #expect(server.openHTTP2Streams == 3 && server.openConnections == 2, "\(server.openHTTP2Streams) streams, \(server.openConnections) connections")
        // One read to its end: uncounted when its body ends, though its iterator is still held.
        var finished = try await client.stream(ProviderRequest(model: "m", prompt: "hi")).makeAsyncIterator()
        while try await finished.next() != nil {}
        #expect(clients.callsInFlight == 3)
        // A refused call (HTTP 500) never counts past its error.
        await #expect(throws: ProviderError.self) { _ = try await client.stream(ProviderRequest(model: "m", prompt: "REFUSE")) }
        #expect(clients.callsInFlight == 3)
        // One dropped mid-stream (its reader went away): uncounted, and its HTTP/2 stream ended.
        held.removeLast()
        #expect(clients.callsInFlight == 2)
        #expect(await waitFor { server.openHTTP2Streams == 2 }, "the dropped call's stream is still open: \(server.openHTTP2Streams)")
        // The rest end when the provider finishes.
        gate.open()
        for index in held.indices { while try await held[index].next() != nil {} }
        #expect(clients.callsInFlight == 0)
        held.removeAll()
        withExtendedLifetime(finished) {}
        try await clients.shutdown()
        await server.shutdown()
    }

    func waitFor(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<250 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    @Test("the pool key is host and port", arguments: [
        ("https://api.anthropic.com/v1/messages", "api.anthropic.com"),
        ("https://gw.example:8443/v1/chat/completions?x=1", "gw.example:8443"),
        ("https://gw.example?x", "gw.example"),
        ("HTTPS://API.Example.com:443/v1", "api.example.com"),
        ("https://user:pw@gw.example:8443/v1", "gw.example:8443"),
    ])
    func hostKey(url: String, host: String) {
        #expect(ProviderHTTPClients.host(of: url) == host)
    }
}
