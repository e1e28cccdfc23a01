import Foundation
import Testing

/// `fleetd feedback` and `fleetd route --data-dir` on a PostgreSQL config work on the shared
/// store, where every `fleetd serve` of the fleet learns and routes: before, both opened the data
/// directory's SQLite file, so an import reached no server.
@Suite(.serialized, SharedCluster.trait) struct SharedLearningCommandsTests {
    @Test func feedbackAndRouteUseTheSharedStore() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try await SharedCluster.freshDatabase()
        let config = directory.appendingPathComponent("fleet.yaml")
        try (FeedbackAPITests.config(predictive: true) + "\n" + SharedCluster.databaseSection(database))
            .write(to: config, atomically: true, encoding: .utf8)
        let prompt = "Say hello to the team"
        let outcomes = directory.appendingPathComponent("outcomes.jsonl")
        try (1...4).map { _ in #"{"prompt": "\#(prompt)", "model": "quick", "score": 1}"# }.joined(separator: "\n")
            .write(to: outcomes, atomically: true, encoding: .utf8)

        let importing = directory.appendingPathComponent("import-data")
        let imported = try await FleetdProcess.run(["feedback", "--config", config.path, "--jsonl", outcomes.path, "--data-dir", importing.path])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("imported 4 outcomes into PostgreSQL at"), "\(imported.stdout)")
        let shared = try await SharedCluster.number(database, "SELECT count(*) FROM memory_entries WHERE partition = 'routing/learning'")
        #expect(shared > 0, "the learned cells are in the shared store")

        // Another directory (another instance's machine) routes with the import: it came from the shared store.
        let elsewhere = directory.appendingPathComponent("other-data")
        let routed = try await FleetdProcess.run(["route", "--config", config.path, "--data-dir", elsewhere.path, "--json", prompt])
        #expect(routed.status == 0, "\(routed.stderr)")
        let selection = try #require(try JSONSerialization.jsonObject(with: Data(routed.stdout.utf8)) as? [String: Any], "\(routed.stdout)")
        let candidates = jsonValue(selection, "trace.candidates") as? [[String: Any]] ?? []
        let prediction = candidates.first { $0["modelName"] as? String == "quick" }?["prediction"] as? [String: Any]
        let seen = prediction?["outcomes"] as? Double ?? 0
        #expect(seen >= 4, "fleetd route saw \(seen) outcomes for quick: \(routed.stdout.prefix(2000))")

        // An unreachable server is a clear error, not a silent local file.
        let unreachable = directory.appendingPathComponent("down.yaml")
        try (FeedbackAPITests.config(predictive: true)
            + "\ndatabase: {type: postgres, host: 127.0.0.1, port: 1, database: x, username: fleetd, tls: disable, timeoutSeconds: 2}")
            .write(to: unreachable, atomically: true, encoding: .utf8)
        let refused = try await FleetdProcess.run(["feedback", "--config", unreachable.path, "--jsonl", outcomes.path, "--data-dir", importing.path])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("cannot reach PostgreSQL at 127.0.0.1:1"), "\(refused.stderr)")
    }
}
