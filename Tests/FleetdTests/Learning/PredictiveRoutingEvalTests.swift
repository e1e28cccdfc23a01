import Foundation
import Testing

/// Offline learning end to end through the binary, on the shipped config and a labelled set
/// written for this test (`Tests/Fixtures/learning`): half of it goes in through `fleetd feedback`,
/// the other half is routed with `fleetd route --jsonl`, and `predictedDifficulty` must rank the
/// held-back tasks that need a strong model better than `complexity.overall` alone.
@Suite("Predictive routing: offline evaluation", .serialized)
struct PredictiveRoutingEvalTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let config = repository.appendingPathComponent("config/fleet.yaml").path
    /// The shipped config with `routing.learning.minOutcomes: 2` (a trimmed, test-only setting: 36
    /// training tasks spread over six types and five bands leave few outcomes per cell).
    static func lowMinimumConfig(in directory: URL) throws -> String {
        let shipped = try String(contentsOfFile: config, encoding: .utf8)
        let file = directory.appendingPathComponent("fleet-min2.yaml")
        try shipped.replacingOccurrences(of: "\n  strategy: balanced", with: "\n  learning: {minOutcomes: 2}\n  strategy: balanced")
            .write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    struct Labelled: Decodable {
        var id: String
        var type: String
        var prompt: String
        var needsStrong: Int
    }

    static func labelled() throws -> [Labelled] {
        let text = try String(contentsOf: repository.appendingPathComponent("Tests/Fixtures/learning/labelled.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(Labelled.self, from: Data($0.utf8)) }
    }

    static func jsonLine(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// The area under the ROC curve of `score` for telling positives from negatives (ties count half).
    static func auc(_ rows: [(score: Double, positive: Bool)]) -> Double {
        let pos = rows.filter(\.positive).map(\.score), neg = rows.filter { !$0.positive }.map(\.score)
        var wins = 0.0
        for p in pos { for n in neg { wins += p > n ? 1 : (p == n ? 0.5 : 0) } }
        return wins / Double(pos.count * neg.count)
    }

    @Test("predictedDifficulty learned through fleetd feedback ranks held-back tasks better than complexity alone")
    func heldOutRanking() async throws {
        let rows = try Self.labelled()
        #expect(rows.count >= 60)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let train = rows.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        let held = rows.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)

        // The weak model the shipped config sends easy tasks to, scored by the label; the strong one always right.
        var feedback: [String] = []
        for row in train {
            feedback.append(try Self.jsonLine(["prompt": row.prompt, "type": row.type, "model": "gpt-4o-mini", "score": 1 - row.needsStrong]))
            feedback.append(try Self.jsonLine(["prompt": row.prompt, "type": row.type, "model": "claude-opus-4", "score": 1]))
        }
        let feedbackFile = directory.appendingPathComponent("feedback.jsonl")
        try feedback.joined(separator: "\n").write(to: feedbackFile, atomically: true, encoding: .utf8)
        let data = directory.appendingPathComponent("data").path
        let imported = try await FleetdProcess.run(["feedback", "--config", Self.config, "--jsonl", feedbackFile.path, "--data-dir", data])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("imported \(feedback.count) outcomes"), "\(imported.stdout)")

        let heldFile = directory.appendingPathComponent("held.jsonl")
        try held.map { try Self.jsonLine(["id": $0.id, "prompt": $0.prompt, "type": $0.type]) }.joined(separator: "\n")
            .write(to: heldFile, atomically: true, encoding: .utf8)
        func route(_ extra: [String], config: String = Self.config) async throws -> [String: [String: Any]] {
            // Keys for the shipped config's providers: `fleetd route` skips a model whose key is not set, as serve does.
            let keys = ["ANTHROPIC_API_KEY": "sk-ant-eval", "OPENAI_API_KEY": "sk-eval", "GOOGLE_API_KEY": "eval", "XAI_API_KEY": "eval"]
            let result = try await FleetdProcess.run(["route", "--config", config, "--jsonl", heldFile.path, "--data-dir", data] + extra, environment: keys)
            #expect(result.status == 0, "\(result.stderr)")
            var out: [String: [String: Any]] = [:]
            for line in result.stdout.split(separator: "\n") {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                out[try #require(object["id"] as? String)] = object
            }
            return out
        }
        let learned = try await route([])
        #expect(learned.count == held.count)

        let label = Dictionary(uniqueKeysWithValues: held.map { ($0.id, $0.needsStrong == 1) })
        let predicted = Self.auc(learned.map { (($0.value["predictedDifficulty"] as? Double) ?? -1, label[$0.key] ?? false) })
        let complexity = Self.auc(learned.map { ((jsonValue($0.value, "complexity.overall") as? Double) ?? -1, label[$0.key] ?? false) })
        print("predictive routing, held-back half of \(rows.count) labelled tasks: AUC predictedDifficulty \(predicted), complexity.overall \(complexity)")
        #expect(predicted > complexity, "AUC predictedDifficulty \(predicted) vs complexity.overall \(complexity)")

        // `--predictive` ranks with what was learned: the picks' reasons cite it; without, none does.
        let lowMinimum = try Self.lowMinimumConfig(in: directory)
        let plain = try await route([], config: lowMinimum)
        let ranked = try await route(["--predictive"], config: lowMinimum)
        let citing = ranked.values.filter { ($0["reason"] as? String)?.contains("predicted success") == true }
        #expect(!citing.isEmpty, "no held-back pick rests on learned outcomes")
        #expect(!plain.values.contains { ($0["reason"] as? String)?.contains("predicted success") == true })
    }

    @Test("fleetd feedback names each bad line, keeps the good ones, and fails when nothing could be imported")
    func badLines() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("f.jsonl")
        try """
        {"prompt": "Prove Fermat's little theorem", "type": "math", "model": "claude-haiku", "score": 0}
        not json
        {"prompt": "x", "model": "no-such-model", "score": 1}
        {"prompt": "x", "model": "claude-haiku", "score": 3}
        {"prompt": "x", "model": "claude-haiku", "score": 1, "type": "poetry"}
        """.write(to: file, atomically: true, encoding: .utf8)
        let data = directory.appendingPathComponent("data").path
        let result = try await FleetdProcess.run(["feedback", "--config", Self.config, "--jsonl", file.path, "--data-dir", data])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("imported 1 outcome (4 lines skipped)"), "\(result.stdout)")
        for expected in ["line 2: not a JSON object", "line 3: model 'no-such-model' is not configured", "line 4: \"score\" must be",
                         "line 5: unknown type 'poetry'"] {
            #expect(result.stderr.contains(expected), "\(expected) in \(result.stderr)")
        }
        try "not json\n".write(to: file, atomically: true, encoding: .utf8)
        let none = try await FleetdProcess.run(["feedback", "--config", Self.config, "--jsonl", file.path, "--data-dir", data])
        #expect(none.status == 1)
        #expect(none.stderr.contains("no outcome imported"), "\(none.stderr)")
    }
}
