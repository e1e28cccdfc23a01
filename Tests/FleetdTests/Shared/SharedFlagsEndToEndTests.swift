import Foundation
import Testing

/// Runtime flag changes through one fleetd reach every fleetd on the same PostgreSQL store.
@Suite(.serialized, SharedCluster.trait) struct SharedFlagsEndToEndTests {
    static let token = "shared-admin-token"

    static func start(database: String) async throws -> FleetdProcess {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        let text = """
            fleet: {id: shared-flags, maxAgents: 2}
            api: {host: 127.0.0.1}
            features: {multiModelRouter: false, streaming: false}
            \(SharedCluster.databaseSection(database))
            """
        try text.write(to: file, atomically: true, encoding: .utf8)
        return try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"),
                                       environment: ["FLEETD_ADMIN_TOKEN": token])
    }

    static func streamingFlag(_ fleetd: FleetdProcess) async throws -> Bool {
        let flags = try await http(.GET, fleetd.baseURL + "/v1/flags").json["flags"] as? [String: [String: Any]]
        return flags?["streaming"]?["enabled"] as? Bool ?? false
    }

    @Test func aFlagChangedThroughOneInstanceReachesTheOthersWithinASecond() async throws {
        let database = try await SharedCluster.freshDatabase()
        var instances: [FleetdProcess] = []
        for _ in 0..<3 { instances.append(try await Self.start(database: database)) }
        #expect(try await Self.streamingFlag(instances[2]) == false)
        let put = try await http(.PUT, instances[0].baseURL + "/v1/flags/streaming", body: #"{"enabled": true}"#,
                                 headers: [("Authorization", "Bearer \(Self.token)")])
        #expect(put.status == 200)
        let changed = ContinuousClock.now
        let reached = try await eventually(timeout: .seconds(1)) { try await Self.streamingFlag(instances[2]) }
        #expect(reached, "instance 3's flags change within a second of the change through instance 1")
        #expect(ContinuousClock.now - changed < .seconds(1))
        #expect(try await Self.streamingFlag(instances[1]))
        // An instance started after the change loads it.
        let late = try await Self.start(database: database)
        #expect(try await Self.streamingFlag(late))
        for instance in instances + [late] {
            instance.signal(SIGTERM)
            #expect(await instance.waitForExit() == 0)
        }
    }
}
