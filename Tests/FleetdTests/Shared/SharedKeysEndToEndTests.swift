import FakeProvider
import Foundation
import Testing

/// Virtual keys on one PostgreSQL database: made through one fleetd (or `fleetd keys`), they work
/// on every fleetd; revoked through another, they stop working on all.
@Suite(.serialized, SharedCluster.trait) struct SharedKeysEndToEndTests {
    static let admin = "shared-keys-admin"

    @Test func aKeyMadeThroughOneInstanceWorksOnTheOthersAndARevocationStopsItEverywhere() async throws {
        let database = try await SharedCluster.freshDatabase()
        let provider = try await FakeProviderServer.start(script: ProviderFailoverTests.answers)
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        let text = ProviderFailoverTests.config(first: provider.baseURL, second: provider.baseURL, router: false)
            + "\n" + SharedCluster.databaseSection(database)
        try text.write(to: file, atomically: true, encoding: .utf8)
        var instances: [FleetdProcess] = []
        for n in 0..<3 {
            instances.append(try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data\(n)"),
                                                     environment: ["FLEETD_ADMIN_TOKEN": Self.admin]))
        }
        let task = #"{"prompt": "hello"}"#
        // No key anywhere yet: loopback serves without a credential.
        #expect(try await http(.POST, instances[2].baseURL + "/v1/tasks", body: task).status == 200)

        let (key, id) = try await AuthFixture.makeKey(instances[0], admin: Self.admin, #"{"tenant": "acme", "rpm": 100}"#)
        // Instance 3 learns that keys exist (within a second) and takes the key made through instance 1.
        let closed = try await eventually(timeout: .seconds(2)) {
            try await http(.POST, instances[2].baseURL + "/v1/tasks", body: task).status == 401
        }
        #expect(closed, "a credential is required on every instance once a key exists")
        let withKey = try await http(.POST, instances[2].baseURL + "/v1/tasks", body: task, headers: AuthFixture.bearer(key))
        #expect(withKey.status == 200, "\(withKey.body)")

        // The command line writes to the same table.
        let made = try await FleetdProcess.run(["keys", "create", "--config", file.path, "--tenant", "cli", "--json"])
        #expect(made.status == 0, "\(made.stderr)")
        let cliKey = (try JSONSerialization.jsonObject(with: Data(made.stdout.utf8)) as? [String: Any])?["key"] as? String
        let viaCLI = try await http(.POST, instances[1].baseURL + "/v1/tasks", body: task, headers: AuthFixture.bearer(cliKey ?? "missing"))
        #expect(viaCLI.status == 200, "\(viaCLI.body)")

        // A key's requests per minute are counted fleet-wide: 4 a minute, 9 requests over three instances.
        let (limited, _) = try await AuthFixture.makeKey(instances[0], admin: Self.admin, #"{"tenant": "acme", "rpm": 4}"#)
        // Windows are fixed minutes: keep the nine requests inside one.
        let intoMinute = Int(Date().timeIntervalSince1970) % 60
        if intoMinute >= 55 { try await Task.sleep(for: .seconds(61 - intoMinute)) }
        var statuses: [Int] = []
        for n in 0..<9 {
            statuses.append(try await http(.POST, instances[n % 3].baseURL + "/v1/tasks", body: task, headers: AuthFixture.bearer(limited)).status)
        }
        #expect(statuses.filter { $0 == 200 }.count == 4 && statuses.filter { $0 == 429 }.count == 5, "\(statuses)")

        // Revoked through instance 2: refused by instance 3 from its next request.
        #expect(try await http(.DELETE, instances[1].baseURL + "/v1/admin/keys/\(id)", headers: AuthFixture.bearer(Self.admin)).status == 200)
        let refused = try await http(.POST, instances[2].baseURL + "/v1/tasks", body: task, headers: AuthFixture.bearer(key))
        #expect(refused.status == 401 && refused.body.contains("revoked"), "\(refused.body)")
        let listed = try await FleetdProcess.run(["keys", "list", "--config", file.path, "--json"])
        let states = ((try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any])?["keys"] as? [[String: Any]])?
            .compactMap { $0["state"] as? String }.sorted()
        #expect(states == ["active", "active", "revoked"], "\(listed.stdout) \(listed.stderr)")
        // Every instance lists the same keys.
        let keys = try await http(.GET, instances[0].baseURL + "/v1/admin/keys", headers: AuthFixture.bearer(Self.admin))
        #expect((keys.json["keys"] as? [[String: Any]])?.count == 3)
        for instance in instances {
            instance.signal(SIGTERM)
            #expect(await instance.waitForExit() == 0)
        }
        await provider.shutdown()
    }
}
