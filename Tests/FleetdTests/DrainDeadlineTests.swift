import FakeProvider
import Foundation
import Testing

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
        #expect(log.contains("draining: 1 tasks in flight, up to 2s"), "\(log.suffix(3_000))")
        #expect(log.contains("drain deadline passed: 1 streams cut"), "\(log.suffix(3_000))")
        #expect(!log.contains("client went away"), "\(log.suffix(3_000))")
        gate.open()
        await fake.shutdown()
    }
}
