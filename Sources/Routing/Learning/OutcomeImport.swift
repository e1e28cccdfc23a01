import Foundation

/// Imports outcomes from JSON lines (`fleetd feedback --jsonl FILE`), as if each had come through
/// `POST /v1/tasks/{id}/feedback`: `{"prompt": …, "type"?: …, "model": …, "score": 0…1, "tenant"?: …, "label"?: …}`
/// per line. Each prompt is scored by the router's complexity scorer to find its cell.
public struct OutcomeImport: Sendable {
    public let router: ModelRouter

    public init(router: ModelRouter) {
        self.router = router
    }

    /// What an import did.
    public struct Summary: Sendable {
        public var imported = 0
        /// One message per skipped line, naming the line.
        public var problems: [String] = []
    }

    struct Line: Decodable {
        var prompt: String?
        var type: String?
        var model: String?
        var score: Double?
        var tenant: String?
        var label: String?
    }

    /// Learns from every valid line of `input`; bad lines are skipped with a message.
    public func run(_ input: Data) async -> Summary {
        var summary = Summary()
        let decoder = JSONDecoder()
        let registry = router.registry
        let text = String(decoding: input, as: UTF8.self)
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let parsed: Line
            do {
                parsed = try decoder.decode(Line.self, from: Data(line.utf8))
            } catch {
                summary.problems.append("line \(number): not a JSON object with \"prompt\", \"model\" and \"score\"")
                continue
            }
            guard let prompt = parsed.prompt else { summary.problems.append("line \(number): \"prompt\" is missing"); continue }
            guard let model = parsed.model else { summary.problems.append("line \(number): \"model\" is missing"); continue }
            guard registry.model(named: model) != nil else {
                summary.problems.append("line \(number): model '\(model)' is not configured (routing.models)")
                continue
            }
            guard let score = parsed.score, score.isFinite, (0...1).contains(score) else {
                summary.problems.append("line \(number): \"score\" must be a number from 0 to 1")
                continue
            }
            var type: TaskType?
            if let rawType = parsed.type {
                guard let t = TaskType(rawValue: rawType) else {
                    summary.problems.append("line \(number): unknown type '\(rawType)'; known: \(TaskType.allCases.map(\.rawValue).joined(separator: ", "))")
                    continue
                }
                type = t
            }
            let complexity = router.score(RoutingTask(taskId: "import-\(number)", prompt: prompt, type: type))
            await router.learn(RoutingOutcome(taskId: "import-\(number)", model: model, taskType: complexity.taskType,
                                              complexity: complexity.overall,
                                              tenantId: LearningTenant.resolve(authenticated: nil, named: parsed.tenant), score: score, weight: 1,
                                              signal: .imported, label: parsed.label))
            summary.imported += 1
        }
        return summary
    }
}
