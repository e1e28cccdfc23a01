import FakeProvider
import Foundation
import Testing

/// A rate limit seen through one fleetd holds the model out on every fleetd on the same store.
@Suite(.serialized, SharedCluster.trait) struct SharedBreakersEndToEndTests {
    static func firstBreaker(_ fleetd: FleetdProcess) async throws -> String? {
        let models = try await http(.GET, "\(fleetd.baseURL)/v1/models")
        let statuses = (models.json["models"] as? [[String: Any]])?.compactMap { $0["status"] as? [String: Any] }
        let first = statuses?.first { $0["name"] as? String == "first" }
        return (first?["breaker"] as? [String: Any])?["state"] as? String
    }

    @Test func a429ThroughOneInstanceMakesTheOthersRouteAroundTheModelWithinASecond() async throws {
        let database = try await SharedCluster.freshDatabase()
        let limited = try await FakeProviderServer.start(script: .always(.status(429, headers: [("retry-after", "30")])))
        let healthy = try await FakeProviderServer.start(script: ProviderFailoverTests.answers)
        let text = ProviderFailoverTests.config(first: limited.baseURL, second: healthy.baseURL, router: true)
            + "\n" + SharedCluster.databaseSection(database)
        var instances: [FleetdProcess] = []
        for _ in 0..<3 {
            let directory = try temporaryDirectory()
            let file = directory.appendingPathComponent("fleet.yaml")
            try text.write(to: file, atomically: true, encoding: .utf8)
            instances.append(try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data")))
        }
        let answer = try await http(.POST, "\(instances[1].baseURL)/v1/tasks", body: #"{"prompt": "hello"}"#)
        #expect(answer.status == 200 && answer.json["model"] as? String == "second", "\(answer.body)")
        #expect(limited.requests.count == 1)
        let seen = ContinuousClock.now
        for other in [instances[0], instances[2]] {
            let open = try await eventually(timeout: .seconds(1)) { try await Self.firstBreaker(other) == "open" }
            #expect(open, "the model is held out on the other instances")
        }
        #expect(ContinuousClock.now - seen < .seconds(1))
        for (index, other) in [instances[0], instances[2], instances[0], instances[2]].enumerated() {
            let response = try await http(.POST, "\(other.baseURL)/v1/tasks", body: #"{"prompt": "hello \#(index)"}"#)
            #expect(response.status == 200 && response.json["model"] as? String == "second", "\(response.body)")
        }
        #expect(limited.requests.count == 1, "instances 1 and 3 never called the rate-limited model")
        for instance in instances {
            instance.signal(SIGTERM)
            #expect(await instance.waitForExit() == 0)
        }
        await limited.shutdown()
        await healthy.shutdown()
    }
}
