import Agents
import Fleet
import Foundation
import HummingbirdTesting
import Routing
import Store
import Testing
@testable import fleetd

/// `fleetd feedback --jsonl` into the data directory of a running fleetd on SQLite. Before, the
/// import went into the file while the server kept its own cells in memory: it never routed with
/// the import, and the next outcome it wrote back for a cell replaced the imported counts.
@Suite("Predictive routing: several processes on one SQLite file", .timeLimit(.minutes(1)))
struct LearningSyncTests {
    /// Polls `check` for up to `seconds` (the server syncs every second).
    static func eventually(within seconds: Double = 10, _ check: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await check() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await check()
    }

    @Test("an import beside a running fleetd: the server routes with it within seconds, and what it learns next is added, not written over it")
    func importBesideARunningServer() async throws {
        let yaml = FeedbackAPITests.config(predictive: true)
        let prompt = "Say hello to the team"
        try await withFleetd(yaml) { client, directory in
            let task = try await client.send(.post, "/v1/tasks", json: #"{"id": "srv-1", "prompt": "\#(prompt)"}"#)
            #expect(task.status == .ok, "\(task.text)")
            let model = try #require(task.object["model"] as? String)
            let given = try await client.send(.post, "/v1/tasks/srv-1/feedback", json: #"{"score": 1}"#)
            #expect(given.status == .ok, "\(given.text)")

            /// The server's outcomes for the model on this prompt's cell.
            func outcomes() async throws -> Double? {
                let route = try await client.send(.post, "/v1/route", json: #"{"prompt": "\#(prompt)"}"#)
                let candidates = jsonValue(route.object, "trace.candidates") as? [[String: Any]] ?? []
                let prediction = candidates.first { $0["modelName"] as? String == model }?["prediction"] as? [String: Any]
                return prediction?["outcomes"] as? Double
            }
            #expect(try await outcomes() == 1.5)

            // The operator imports four outcomes into the same data directory while it serves
            // (what `fleetd feedback --jsonl FILE --data-dir DIR` runs, on its own connection to the file).
            let lines = (1...4).map { _ in #"{"prompt": "\#(prompt)", "model": "\#(model)", "score": 1}"# }.joined(separator: "\n")
            let config = try ConfigLoader.load(text: yaml, file: "api-test.yaml").config
            let imported = try await FeedbackCommand.importOutcomes(Data(lines.utf8), config: config, dataDirectory: directory)
            #expect(imported.summary.imported == 4, "\(imported.summary.problems)")

            // The running server takes the import in at its next sync...
            let seen = try await Self.eventually { try await outcomes() == 5.5 }
            let held = try await outcomes()
            #expect(seen, "the server routes with \(String(describing: held)) outcomes, without the import")

            // ...and what it learns next is added to it, in memory and in the file.
            let next = try await client.send(.post, "/v1/tasks", json: #"{"id": "srv-2", "prompt": "\#(prompt)"}"#)
            #expect(next.object["model"] as? String == model, "\(next.text)")
            let added = try await Self.eventually { try await outcomes() == 6 }
            #expect(added)
            let file = MemoryStore(database: try await StoreDatabase(path: DataPlane.databaseURL(for: config, dataDirectory: directory).path))
            let stored = try await Self.eventually {
                try await file.loadCells().filter { $0.model == model && $0.tenantId == nil }.map(\.observed) == [6]
            }
            let cells = try await file.loadCells().filter { $0.model == model }.map(\.observed)
            #expect(stored, "the file holds \(cells) outcomes for \(model), not the server's and the import's 6")
        }
    }
}
