import FakeProvider
import Foundation
import Testing
@testable import fleetd

/// SIGTERM while a stream outlasts `api.drainTimeoutSeconds`: the stream ends with a last `error`
/// event saying fleetd is shutting down (not a cut connection: curl's rc 18, the OpenAI SDK's
/// APIConnectionError), and the log says the drain started and the deadline cut the stream,
/// not that a client went away.
@Suite(.serialized) struct DrainDeadlineTests {
    @Test func aStreamTheDrainDeadlineCutsEndsWithAnErrorEvent() async throws {
        let gate = FakeGate()
        let fake = try await FakeProviderServer.start(script: MCPSDKTests.script(gate: gate))
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        let config = MCPSDKTests.config(baseURL: fake.baseURL)
            .replacingOccurrences(of: "api: {host: 127.0.0.1}", with: "api: {host: 127.0.0.1, drainTimeoutSeconds: 2}")
        try config.write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"))

        let body = #"{"prompt": "HOLDME and wait", "stream": true}"#
        let connection = try RawConnection(port: fleetd.port)
        try connection.send("POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n"
                            + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
        let head = try await connection.readOffPool(until: "event: chunk", timeout: .seconds(10))
        #expect(head.hasPrefix("HTTP/1.1 200"), "\(head)")

        fleetd.signal(SIGTERM)
        let rest = try await connection.readOffPool(until: "shutting down", timeout: .seconds(10))
        #expect(rest.contains("event: error") && rest.contains("TASK_CANCELLED"), "\(rest)")
        connection.close()
        #expect(await fleetd.waitForExit() == 0, "\(fleetd.logText.suffix(3_000))")
        let log = fleetd.logText
        #expect(log.contains("draining: 1 requests in flight (1 streams), up to 2s"), "\(log.suffix(3_000))")
        #expect(log.contains("drain deadline passed: 1 streams cut"), "\(log.suffix(3_000))")
        #expect(!log.contains("client went away"), "\(log.suffix(3_000))")
        gate.open()
        await fake.shutdown()
    }

    /// Each request counts once: while its handler runs, then (a stream) while its body is open.
    @Test func inFlightCountsHandledRequestsAndOpenStreams() {
        let drain = DrainDeadline()
        drain.requestStarted()
        drain.requestStarted()
        let stream = drain.register {}
        drain.requestEnded() // the stream's handler returned; its body runs on
        let during = drain.inFlight
        #expect(during.requests == 2 && during.streams == 1)
        if let stream { drain.remove(stream) }
        drain.requestEnded()
        let after = drain.inFlight
        #expect(after.requests == 0 && after.streams == 0)
    }

    /// A JSON task in flight at SIGTERM counts in the drain notice as much as a stream (before, the
    /// line counted open streams only and said "0 tasks in flight" while the task ran), and the
    /// drain lets it finish.
    @Test func aJSONTaskInFlightIsCountedAndDrained() async throws {
        let gate = FakeGate()
        guard case .bytes(let answer) = FakeResponse.openAIText(stream: false).body else {
            Issue.record("the fake's JSON answer is not plain bytes")
            return
        }
        // The answer's head goes out at once, its body when the gate opens.
        let fake = try await FakeProviderServer.start(script: FakeScript { _, _ in
            FakeResponse(headers: [("content-type", "application/json")], body: .held([], gate: gate, then: answer))
        })
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        let config = MCPSDKTests.config(baseURL: fake.baseURL)
            .replacingOccurrences(of: "api: {host: 127.0.0.1}", with: "api: {host: 127.0.0.1, drainTimeoutSeconds: 20}")
        try config.write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"))
        let base = fleetd.baseURL

        let held = Task { try await http(.POST, "\(base)/v1/tasks", body: #"{"prompt": "Say hello.", "stream": false}"#) }
        let called = await eventually(timeout: .seconds(10)) { fake.requests.count == 1 }
        #expect(called, "the task never called the provider")
        fleetd.signal(SIGTERM)
        let noticed = await eventually(timeout: .seconds(10)) { fleetd.logText.contains("draining:") }
        #expect(noticed, "\(fleetd.logText.suffix(3_000))")
        let log = fleetd.logText
        #expect(log.contains("draining: 1 requests in flight (0 streams), up to 20s"), "\(log.suffix(3_000))")

        gate.open()
        let answered = try await held.value
        #expect(answered.status == 200, "the drain let the task finish: \(answered.body)")
        #expect(await fleetd.waitForExit() == 0, "\(fleetd.logText.suffix(3_000))")
        await fake.shutdown()
    }
}
