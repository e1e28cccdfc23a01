import Foundation
import Testing

/// Every log line of a request carries its id as `requestId`: the client's `X-Request-Id` when it
/// sends a sane one, else fleetd's own, which the response returns.
@Suite("HTTP API: the request id in the log", .timeLimit(.minutes(1)))
struct RequestIDLogTests {
    @Test("the client's id, or fleetd's own, is the log line's requestId and the response's X-Request-Id")
    func theLogNamesTheRequest() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("fleet.yaml")
        try "fleet: {id: ids}\napi: {host: 127.0.0.1}\n".write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"))
        let given = try await http(.GET, "\(fleetd.baseURL)/v1/flags", headers: [("X-Request-Id", "req-given-42")])
        #expect(given.status == 200 && given.headers["x-request-id"].first == "req-given-42", "\(given.headers)")
        let own = try await http(.GET, "\(fleetd.baseURL)/v1/flags?own=1")
        let ownID = try #require(own.headers["x-request-id"].first)
        #expect(ownID != "req-given-42" && !ownID.isEmpty)
        let insane = try await http(.GET, "\(fleetd.baseURL)/v1/flags?insane=1", headers: [("X-Request-Id", "has space")])
        let replaced = try #require(insane.headers["x-request-id"].first)
        #expect(replaced != "has space")

        #expect(await eventually { fleetd.logText.contains(#""requestId":"\#(replaced)""#) }, "\(fleetd.logText.suffix(2_000))")
        let lines = fleetd.logText.split(separator: "\n").filter { $0.contains(#""msg":"request""#) }
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.contains { $0.contains(#""requestId":"req-given-42""#) && $0.contains(#""path":"/v1/flags""#) })
        #expect(lines.contains { $0.contains(#""requestId":"\#(ownID)""#) })
        #expect(!fleetd.logText.contains("hb.request.id"), "Hummingbird's key is written as requestId")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
    }
}
