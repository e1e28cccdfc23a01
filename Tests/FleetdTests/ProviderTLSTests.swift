import FakeProvider
import Foundation
import Testing

/// Providers over HTTPS, as the cloud ones are: the real `fleetd` binary against the fake provider
/// in its TLS mode (a certificate from a CA made for the test), which speaks HTTP/2 to a client
/// that offers it. fleetd trusts the CA only through `FLEETD_EXTRA_CA_CERTS`.
@Suite(.serialized) struct ProviderTLSTests {
    /// One OpenAI-format model at `baseURL`; HOLDME prompts are held open by the fake.
    static func config(baseURL: String) -> String {
        """
        fleet: {id: tls, maxAgents: 200, taskTimeout: 30000}
        agents:
          - {type: general, count: 200}
        api: {host: 127.0.0.1}
        features: {multiModelRouter: true, streaming: true}
        routing:
          enabled: true
          defaultModel: cloud
          models:
            - name: cloud
              provider: openai
              model: cloud-model-id
              credentials: {endpoint: "\(baseURL)/v1"}
              capabilities: {costPer1kTokens: {input: 0.001, output: 0.002}}
          costTracking: {enabled: true, budgetLimits: {daily: 100}}
        streaming: {enabled: true, timeoutMs: 30000, retryConfig: {maxRetries: 0, backoffMs: 10}}
        """
    }

    static let key = "sk-tls-test-secret"

    /// A TLS fake (HOLDME held until `gate` opens), its CA in a file, and a config for it.
    struct Setup {
        let fake: FakeProviderServer
        let gate: FakeGate
        let directory: URL
        let config: URL
        let caFile: URL

        static func make() async throws -> Setup {
            let tls = try FakeTLS.make()
            let gate = FakeGate()
            let script = FakeScript { request, _ in
                if String(decoding: request.body, as: UTF8.self).contains("HOLDME") { return .openAIHeld(gate: gate) }
                return .openAIText(stream: request.jsonBody?["stream"] as? Bool == true)
            }
            let fake = try await FakeProviderServer.start(script: script, tls: tls)
            let directory = try temporaryDirectory()
            let caFile = directory.appendingPathComponent("ca.pem")
            try tls.writeCA(to: caFile)
            let config = directory.appendingPathComponent("fleet.yaml")
            try ProviderTLSTests.config(baseURL: fake.baseURL).write(to: config, atomically: true, encoding: .utf8)
            return Setup(fake: fake, gate: gate, directory: directory, config: config, caFile: caFile)
        }

        func start(trusting: Bool) async throws -> FleetdProcess {
            var environment = ["OPENAI_API_KEY": ProviderTLSTests.key]
            if trusting { environment["FLEETD_EXTRA_CA_CERTS"] = caFile.path }
            return try await FleetdProcess(config: config, dataDirectory: directory.appendingPathComponent("data"), environment: environment)
        }

        /// `count` streamed tasks through `fleetd` whose provider answers hold after one chunk.
        func holdStreams(_ count: Int, through fleetd: FleetdProcess) throws -> [RawConnection] {
            let body = #"{"prompt": "HOLDME and wait", "stream": true}"#
            return try (0..<count).map { _ in
                let client = try RawConnection(port: fleetd.port)
                try client.send("POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
                return client
            }
        }

        /// Lets the provider go on and reads each held stream to its `complete` event.
        func completeStreams(_ clients: some Sequence<RawConnection>) async throws {
            gate.open()
            for client in clients {
                let text = try await client.readOffPool(until: "event: complete", timeout: .seconds(20))
                #expect(text.contains("event: complete"))
                client.close()
            }
        }

        func finish() async {
            gate.open()
            await fake.shutdown()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    @Test("with the CA trusted, JSON and streamed tasks reach the provider over HTTP/2, both on one connection")
    func trustedCAServesTasksOverHTTP2() async throws {
        let setup = try await Setup.make()
        let fleetd = try await setup.start(trusting: true)
        #expect(fleetd.logText.contains("extra CA certificates trusted for provider connections"), "\(fleetd.logText)")
        let json = try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "Say ten tokens."}"#)
        #expect(json.status == 200, "\(json.body)")
        #expect((json.json["output"] as? String)?.isEmpty == false, "\(json.body)")
        let streamed = try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "Say ten tokens.", "stream": true}"#)
        #expect(streamed.status == 200 && streamed.body.contains("event: complete"), "\(streamed.body)")
        #expect(setup.fake.requests.count == 2)
        #expect(setup.fake.requests.allSatisfy { $0.httpVersion == 2 }, "\(setup.fake.requests.map(\.httpVersion))")
        #expect(setup.fake.requests.allSatisfy { $0.header("authorization") == "Bearer \(Self.key)" })
        #expect(setup.fake.connectionsAccepted == 1, "HTTP/2 carries the second call on the first's connection: \(setup.fake.connectionsAccepted)")
        // Every event loop runs: ready, and the stall gauge says none (EventLoopWatch).
        let ready = try await http(.GET, fleetd.baseURL + "/readyz")
        #expect(ready.status == 200, "\(ready.body)")
        #expect(try await http(.GET, fleetd.baseURL + "/metrics").body.contains("fleetd_event_loops_stalled 0"))
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        #expect(!fleetd.logText.contains(Self.key))
        await setup.finish()
    }

    @Test("concurrent streams share a connection; one whose client leaves ends its HTTP/2 stream, not the connection")
    func streamsAreMultiplexedAndAClientLeavingEndsOnlyItsStream() async throws {
        let setup = try await Setup.make()
        let fleetd = try await setup.start(trusting: true)
        let clients = try setup.holdStreams(30, through: fleetd)
        #expect(await eventually(timeout: .seconds(15)) { setup.fake.openHTTP2Streams == 30 }, "held upstream streams: \(setup.fake.openHTTP2Streams)")
        // Far fewer connections than streams: AsyncHTTPClient keeps at most one HTTP/2 connection
        // per event loop for a host until the server's stream limit (100 here).
        #expect(setup.fake.openConnections <= ProcessInfo.processInfo.activeProcessorCount, "connections for 30 streams: \(setup.fake.openConnections)")
        let connections = setup.fake.openConnections
        for client in clients.prefix(10) { client.close() }
        #expect(await eventually(timeout: .seconds(10)) { setup.fake.openHTTP2Streams == 20 },
                "the left clients' upstream streams were not ended: \(setup.fake.openHTTP2Streams) open")
        #expect(setup.fake.openConnections == connections, "a client leaving closed the shared connection")
        // The rest finish normally once the provider goes on.
        try await setup.completeStreams(clients.dropFirst(10))
        #expect(await eventually(timeout: .seconds(5)) { setup.fake.openHTTP2Streams == 0 })
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await setup.finish()
    }

    /// AsyncHTTPClient keeps one HTTP/2 connection per host and queues requests past the server's
    /// `MAX_CONCURRENT_STREAMS` (100 here, NIO's default; a common value at the providers' edges):
    /// without fleetd's own lanes, the 101st concurrent stream to a provider waited for one of the
    /// first hundred to end (async-http-client issue #567).
    @Test("more concurrent streams than the provider allows per connection all reach it, over more connections")
    func streamsPastTheServersStreamLimitOpenMoreConnections() async throws {
        let setup = try await Setup.make()
        let fleetd = try await setup.start(trusting: true)
        let clients = try setup.holdStreams(150, through: fleetd)
        #expect(await eventually(timeout: .seconds(20)) { setup.fake.openHTTP2Streams == 150 },
                "streams that reached the provider: \(setup.fake.openHTTP2Streams) of 150, over \(setup.fake.openConnections) connections")
        #expect(setup.fake.openConnections >= 2 && setup.fake.openConnections <= 2 * ProcessInfo.processInfo.activeProcessorCount,
                "connections: \(setup.fake.openConnections)")
        try await setup.completeStreams(clients)
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await setup.finish()
    }

    @Test("without the CA the call is refused at the handshake, the task fails with an error, and nothing reaches the provider")
    func untrustedCertificateFailsTheCall() async throws {
        let setup = try await Setup.make()
        let fleetd = try await setup.start(trusting: false)
        let result = try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "Say ten tokens."}"#)
        #expect(result.status >= 400, "\(result.body)")
        #expect(result.body.lowercased().contains("certificate") || result.body.lowercased().contains("tls") || result.body.lowercased().contains("handshake"),
                "the error does not say why: \(result.body)")
        #expect(!result.body.contains(Self.key))
        #expect(setup.fake.requests.isEmpty, "a request got through an untrusted handshake")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        #expect(!fleetd.logText.contains(Self.key))
        await setup.finish()
    }

    @Test("a CA file that is missing or not PEM stops fleetd at start with one line naming the variable", arguments: ["missing", "garbage"])
    func unusableCAFileStopsFleetd(kind: String) async throws {
        let setup = try await Setup.make()
        let file = setup.directory.appendingPathComponent("bad.pem")
        if kind == "garbage" { try "not a certificate\n".write(to: file, atomically: true, encoding: .utf8) }
        let run = try await FleetdProcess.run(["serve", "--config", setup.config.path, "--port", "0", "--data-dir", setup.directory.appendingPathComponent("data").path],
                                        environment: ["FLEETD_EXTRA_CA_CERTS": file.path])
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.stderr.contains("FLEETD_EXTRA_CA_CERTS names \(file.path)"), "\(run.stderr)")
        // `fleetd validate` finds it before a deploy does.
        let validate = try await FleetdProcess.run(["validate", "--config", setup.config.path], environment: ["FLEETD_EXTRA_CA_CERTS": file.path])
        #expect(validate.status == 1 && validate.stderr.contains("FLEETD_EXTRA_CA_CERTS names \(file.path)"), "\(validate.stderr)")
        let good = try await FleetdProcess.run(["validate", "--config", setup.config.path], environment: ["FLEETD_EXTRA_CA_CERTS": setup.caFile.path])
        #expect(good.status == 0 && good.stdout.contains("FLEETD_EXTRA_CA_CERTS: 1 CA certificate from"), "\(good.stdout) \(good.stderr)")
        await setup.finish()
    }
}
