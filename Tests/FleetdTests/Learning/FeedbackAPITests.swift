import Foundation
import HummingbirdTesting
import Testing

/// `predictiveRouting` through the HTTP API: tasks leave outcome records, feedback attaches to them
/// (by task id or by a compatible endpoint's answer id), and `POST /v1/route` shows what learning
/// contributed.
@Suite("HTTP API: feedback and predictive routing", .timeLimit(.minutes(1)))
struct FeedbackAPITests {
    static func config(predictive: Bool) -> String {
        APIConfig.builtin().replacingOccurrences(of: "  multiModelRouter: true\n",
                                                 with: "  multiModelRouter: true\n  predictiveRouting: \(predictive)\n")
    }

    @Test("feedback on a finished task is taken once; unknown tasks, bad scores and a flag-off task get clear errors")
    func feedbackOnATask() async throws {
        try await withFleetd(Self.config(predictive: true)) { client, _ in
            let task = try await client.send(.post, "/v1/tasks", json: #"{"id": "fb-1", "prompt": "Say hello to the team"}"#)
            #expect(task.status == .ok, "\(task.text)")
            let model = try #require(task.object["model"] as? String)

            let given = try await client.send(.post, "/v1/tasks/fb-1/feedback", json: #"{"score": 0.25, "label": "too terse"}"#)
            #expect(given.status == .ok, "\(given.text)")
            #expect(given.object["model"] as? String == model)
            #expect(given.object["score"] as? Double == 0.25)
            #expect(given.object["recorded"] as? Bool == true)

            let again = try await client.send(.post, "/v1/tasks/fb-1/feedback", json: #"{"thumbs": "up"}"#)
            #expect(again.status == .conflict)
            #expect(again.apiError["code"] as? String == "FEEDBACK_EXISTS")

            let unknown = try await client.send(.post, "/v1/tasks/nope/feedback", json: #"{"thumbs": "down"}"#)
            #expect(unknown.status == .notFound)
            #expect(unknown.apiError["code"] as? String == "UNKNOWN_TASK")

            for (body, field) in [(#"{"score": 1.5}"#, "score"), (#"{"thumbs": "sideways"}"#, "thumbs"), ("{}", "score"),
                                  (#"{"score": 1, "thumbs": "up"}"#, "score")] {
                let bad = try await client.send(.post, "/v1/tasks/fb-1/feedback", json: body)
                #expect(bad.status == .badRequest, "\(body): \(bad.text)")
                #expect(bad.apiError["field"] as? String == field, "\(body): \(bad.text)")
            }

            // What was learned shows in an explanation: the answering model's prediction and the difficulty.
            let route = try await client.send(.post, "/v1/route", json: #"{"prompt": "Say hello to the team"}"#)
            #expect(route.status == .ok, "\(route.text)")
            #expect(route.object["predictedDifficulty"] is Double, "\(route.text)")
            let candidates = jsonValue(route.object, "trace.candidates") as? [[String: Any]] ?? []
            let learned = try #require(candidates.first { $0["modelName"] as? String == model }?["prediction"] as? [String: Any])
            // One automatic completion (weight 0.5) and one feedback (weight 1).
            #expect(learned["outcomes"] as? Double == 1.5, "\(learned)")
            #expect(learned["counted"] as? Bool == false)
        }
    }

    /// Without an authenticated tenant (no keys configured here), a task's `tenantId` is the tenant
    /// its outcomes are learned for, feedback names it with `?tenant=`, and routing ranks that
    /// tenant's next task with its own cells (before, routing looked under no tenant: `fleet`).
    @Test("a tenant named without authentication is learned for and routed by the same id")
    func namedTenantLearnsAndRoutes() async throws {
        let yaml = Self.config(predictive: true)
            .replacingOccurrences(of: "  strategy: cost\n", with: "  strategy: cost\n  learning: {minOutcomes: 1, exploration: 0}\n")
        #expect(yaml.contains("minOutcomes: 1"))
        try await withFleetd(yaml) { client, _ in
            let task = try await client.send(.post, "/v1/tasks", json: #"{"id": "acme-1", "prompt": "Say hello to the team", "tenantId": "acme"}"#)
            #expect(task.status == .ok, "\(task.text)")
            let model = try #require(task.object["model"] as? String)
            let given = try await client.send(.post, "/v1/tasks/acme-1/feedback?tenant=acme", json: #"{"score": 1}"#)
            #expect(given.status == .ok, "\(given.text)")

            func prediction(tenant: String) async throws -> [String: Any] {
                let route = try await client.send(.post, "/v1/route", json: #"{"prompt": "Say hello to the team", "tenantId": "\#(tenant)"}"#)
                #expect(route.status == .ok, "\(route.text)")
                let candidates = jsonValue(route.object, "trace.candidates") as? [[String: Any]] ?? []
                return candidates.first { $0["modelName"] as? String == model }?["prediction"] as? [String: Any] ?? [:]
            }
            // acme's own cell: the completion (0.5) and the feedback (1).
            let acme = try await prediction(tenant: "acme")
            #expect(acme["scope"] as? String == "tenant", "\(acme)")
            #expect(acme["outcomes"] as? Double == 1.5, "\(acme)")
            // A tenant with nothing of its own is ranked by the fleet's cells.
            let globex = try await prediction(tenant: "globex")
            #expect(globex["scope"] as? String == "fleet", "\(globex)")
        }
    }

    @Test("an OpenAI-compatible answer's id takes feedback too")
    func feedbackOnACompatibleAnswer() async throws {
        try await withFleetd(Self.config(predictive: true)) { client, _ in
            let chat = try await client.send(.post, "/v1/chat/completions",
                                             json: #"{"model": "auto", "messages": [{"role": "user", "content": "hello"}]}"#)
            #expect(chat.status == .ok, "\(chat.text)")
            let id = try #require(chat.object["id"] as? String)
            #expect(id.hasPrefix("chatcmpl-"))
            let given = try await client.send(.post, "/v1/tasks/\(id)/feedback", json: #"{"thumbs": "down"}"#)
            #expect(given.status == .ok, "\(given.text)")
            #expect(given.object["score"] as? Double == 0)
        }
    }

    @Test("with the flag off, tasks leave no outcome and routing shows no learning")
    func flagOff() async throws {
        try await withFleetd(Self.config(predictive: false)) { client, _ in
            let task = try await client.send(.post, "/v1/tasks", json: #"{"id": "off-1", "prompt": "Say hello"}"#)
            #expect(task.status == .ok)
            let feedback = try await client.send(.post, "/v1/tasks/off-1/feedback", json: #"{"score": 1}"#)
            #expect(feedback.status == .notFound)
            #expect((feedback.apiError["message"] as? String)?.contains("predictiveRouting was off") == true)
            let route = try await client.send(.post, "/v1/route", json: #"{"prompt": "Say hello"}"#)
            #expect(route.object["predictedDifficulty"] == nil, "\(route.text)")
        }
    }
}
