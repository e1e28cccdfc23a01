import AsyncHTTPClient
import FakeProvider
import FleetSupport
import Foundation
import NIOCore
import Synchronization
import Testing

/// More concurrent streams to one provider host than a connection pool of 1,024 allowed: fleetd's
/// provider client used to fail the 1,025th with `getConnectionFromPoolTimeout`. Runs in the
/// one-at-a-time phase of `scripts/test` (about 2,400 sockets in this process).
@Suite(.serialized) struct ManyStreamsTests {
    /// Streams that got their first chunk, and what went wrong with the others.
    final class StreamCounts: Sendable {
        private let state = Mutex((opened: 0, failures: [String]()))
        func open() { state.withLock { $0.opened += 1 } }
        func fail(_ problem: String) { state.withLock { $0.failures.append(problem) } }
        var opened: Int { state.withLock { $0.opened } }
        var failures: [String] { state.withLock { $0.failures } }
        var done: Int { state.withLock { $0.opened + $0.failures.count } }
    }

    @Test func moreThan1024StreamsToOneProviderHostAreHeldOpenAtOnce() async throws {
        let count = 1_100
        let files = OpenFileLimit.raiseToHardLimit()
        try #require((files?.soft ?? 0) >= UInt64(2 * count + 512),
                     "the open file limit (\(files.map { "\($0.soft)" } ?? "unknown")) is too low for \(count) streams here")
        let gate = FakeGate()
        let fake = try await FakeProviderServer.start(script: .always(.openAIHeld(gate: gate)), recordsRequests: false)
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try """
        fleet: {id: many, maxAgents: \(count + 10), taskTimeout: 120000}
        agents: [{type: general, count: \(count + 10)}]
        api: {host: 127.0.0.1, maxQueuedTasks: 10000}
        logging: {level: notice}
        features: {multiModelRouter: false, streaming: true}
        routing:
          enabled: true
          defaultModel: held
          models:
            - {name: held, provider: openai, model: held, credentials: {endpoint: "\(fake.baseURL)/v1"}}
        streaming: {enabled: true, timeoutMs: 120000, firstChunkTimeoutMs: 60000, idleTimeoutMs: 120000, retryConfig: {maxRetries: 0}}
        """.write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"),
                                             environment: ["OPENAI_API_KEY": "sk-many"])
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = count + 64
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let counts = StreamCounts()
        try await withThrowingTaskGroup(of: Void.self) { group in
            // In waves, as clients arrive, not all in one instant (the listen backlog is not the subject).
            for first in stride(from: 0, to: count, by: 250) {
                for index in first..<min(count, first + 250) {
                    group.addTask {
                        do {
                            var request = HTTPClientRequest(url: fleetd.baseURL + "/v1/tasks")
                            request.method = .POST
                            request.headers.add(name: "content-type", value: "application/json")
                            request.body = .bytes(ByteBuffer(string: #"{"prompt": "hold \#(index)", "stream": true}"#))
                            let response = try await client.execute(request, timeout: .seconds(120))
                            var text = ""
                            var counted = false
                            for try await part in response.body {
                                text += String(buffer: part)
                                if !counted, text.contains("event: chunk") {
                                    counted = true
                                    counts.open()
                                }
                                if text.contains("event: error") { counts.fail(String(text.suffix(300))) }
                            }
                        } catch {
                            counts.fail("\(error)")
                        }
                    }
                }
                _ = await eventually(timeout: .seconds(60)) {
                    counts.done >= min(count, first + 250)
                }
            }
            let allOpen = await eventually(timeout: .seconds(60)) { counts.done >= count }
            #expect(allOpen)
            #expect(counts.opened == count, "\(counts.failures.prefix(3))")
            #expect(fake.requestCount == count, "each stream has its own call to the one provider host")
            gate.open()
            try await group.waitForAll()
        }
        #expect(counts.failures.count == 0, "\(counts.failures.prefix(3))")
        try await client.shutdown()
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }
}
