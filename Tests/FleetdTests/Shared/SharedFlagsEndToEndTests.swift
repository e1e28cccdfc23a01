import FakeProvider
import Foundation
import Testing

/// Runtime flag changes through one fleetd reach every fleetd on the same PostgreSQL store, and
/// change what the other instances' next tasks do.
@Suite(.serialized, SharedCluster.trait) struct SharedFlagsEndToEndTests {
    static let token = "shared-admin-token"

    /// Two models on one fake provider: the default (`dear`) is the dearer one, so a task routed by
    /// the cost strategy goes to `cheap` and an unrouted one to `dear`.
    static func start(database: String, provider: String) async throws -> FleetdProcess {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        let text = """
            fleet: {id: shared-flags, maxAgents: 4, taskTimeout: 20000}
            agents:
              - {type: general, count: 4}
            api: {host: 127.0.0.1}
            features: {multiModelRouter: false, streaming: false}
            routing:
              enabled: true
              defaultModel: dear
              strategy: cost
              models:
                - name: cheap
                  provider: anthropic
                  model: cheap-model-id
                  credentials: {endpoint: "\(provider)"}
                  capabilities: {costPer1kTokens: {input: 0.001, output: 0.002}}
                  complexityRange: {min: 0.0, max: 1.0}
                - name: dear
                  provider: anthropic
                  model: dear-model-id
                  credentials: {endpoint: "\(provider)"}
                  capabilities: {costPer1kTokens: {input: 0.01, output: 0.03}}
                  complexityRange: {min: 0.0, max: 1.0}
            \(SharedCluster.databaseSection(database))
            """
        try text.write(to: file, atomically: true, encoding: .utf8)
        return try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"),
                                       environment: ["FLEETD_ADMIN_TOKEN": token])
    }

    static func routerFlag(_ fleetd: FleetdProcess) async throws -> Bool {
        let flags = try await http(.GET, fleetd.baseURL + "/v1/flags").json["flags"] as? [String: [String: Any]]
        return flags?["multiModelRouter"]?["enabled"] as? Bool ?? false
    }

    /// One task on `fleetd`: whether the router chose its model, and which model answered.
    static func task(_ fleetd: FleetdProcess, _ n: Int) async throws -> (routed: Bool, model: String?) {
        let response = try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "hello \#(n)"}"#)
        #expect(response.status == 200, "\(response.body)")
        let selection = response.json["selection"] as? [String: Any]
        return (selection?["routed"] as? Bool ?? false, response.json["model"] as? String)
    }

    @Test func aFlagChangedThroughOneInstanceChangesTheNextTaskOfAnotherWithinASecond() async throws {
        let database = try await SharedCluster.freshDatabase()
        let provider = try await FakeProviderServer.start(script: ProviderFailoverTests.answers)
        var instances: [FleetdProcess] = []
        for _ in 0..<3 { instances.append(try await Self.start(database: database, provider: provider.baseURL)) }
        #expect(try await Self.routerFlag(instances[2]) == false)
        let before = try await Self.task(instances[2], 0)
        #expect(!before.routed && before.model == "dear", "router off: the default model, unrouted")
        let put = try await http(.PUT, instances[0].baseURL + "/v1/flags/multiModelRouter", body: #"{"enabled": true}"#,
                                 headers: [("Authorization", "Bearer \(Self.token)")])
        #expect(put.status == 200)
        let changed = ContinuousClock.now
        var n = 0
        // Instance 3's next tasks, until one is routed: the first must come within a second.
        let reached = try await eventually(timeout: .seconds(1)) {
            n += 1
            let after = try await Self.task(instances[2], n)
            return after.routed && after.model == "cheap"
        }
        let elapsed = ContinuousClock.now - changed
        #expect(reached, "instance 3's tasks are routed within a second of the change through instance 1")
        #expect(elapsed < .seconds(1), "took \(elapsed)")
        #expect(try await Self.routerFlag(instances[2]))
        #expect(try await Self.routerFlag(instances[1]))
        let second = try await Self.task(instances[1], 100)
        #expect(second.routed && second.model == "cheap")
        // An instance started after the change loads it, and so routes its first task.
        let late = try await Self.start(database: database, provider: provider.baseURL)
        #expect(try await Self.routerFlag(late))
        let first = try await Self.task(late, 200)
        #expect(first.routed && first.model == "cheap")
        for instance in instances + [late] {
            instance.signal(SIGTERM)
            #expect(await instance.waitForExit() == 0)
        }
        await provider.shutdown()
    }
}
