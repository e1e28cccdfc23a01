import Fleet
import FleetSupport
import Foundation
import Hummingbird
import Routing

/// `POST /v1/tasks/{id}/feedback`: how well a finished task was served, for `predictiveRouting`.
///
/// Body: `{"score": 0…1}` or `{"thumbs": "up"|"down"}`, with an optional `"label"`. The id is the
/// task's id, or the `id` an OpenAI-compatible (`chatcmpl-…`) or Anthropic-compatible (`msg_…`)
/// answer carried, so clients of the compatible endpoints give feedback with what they were
/// answered. A tenant's caller scores its own tenant's tasks; a caller that sees every tenant names
/// the tenant with `?tenant=` when the task had one. Feedback is taken once per task (409 after).
struct FeedbackRoutes {
    let manager: FleetManager
    let api: LiveSetting<APISection>

    struct Body: Decodable {
        var score: Double?
        var thumbs: String?
        var label: String?
    }

    struct Answer: Encodable {
        var taskId: String
        var model: String
        var taskType: String
        var score: Double
        var label: String?
        var recorded: Bool
    }

    func register(_ router: some RouterMethods<FleetRequestContext>) {
        router.post("v1/tasks/:id/feedback") { request, context -> Response in
            var request = request
            let id = Self.taskId(try context.parameters.require("id"))
            let body = try await JSONBody.decode(Body.self, from: &request, limit: api.value.maxBodyBytes)
            let score = try Self.score(body)
            // A tenant's caller: its own tenant, whatever the query says; the same rule the task's
            // outcomes were recorded and learned under.
            let tenant = LearningTenant.resolve(authenticated: context.caller?.tenantId,
                                                named: request.uri.queryParameters["tenant"].map(String.init))
            let record: TaskOutcomeRecord
            do throws(FeedbackError) {
                record = try await manager.dataPlane.router.feedback(taskId: id, tenantId: tenant, score: score, label: body.label)
            } catch {
                throw Self.apiError(error, id: id)
            }
            return try jsonResponse(Answer(taskId: record.taskId, model: record.model, taskType: record.taskType.rawValue,
                                           score: score, label: body.label, recorded: true))
        }
    }

    /// The task id inside a compatible endpoint's answer id.
    static func taskId(_ raw: String) -> String {
        for prefix in ["chatcmpl-", "msg_"] where raw.hasPrefix(prefix) && raw.count > prefix.count {
            return String(raw.dropFirst(prefix.count))
        }
        return raw
    }

    static func score(_ body: Body) throws -> Double {
        switch (body.score, body.thumbs?.lowercased()) {
        case (let score?, nil):
            guard score.isFinite, (0...1).contains(score) else {
                throw APIError(.badRequest, code: "INVALID_VALUE", message: "'score' must be a number from 0 to 1", field: "score")
            }
            return score
        case (nil, "up"?): return 1
        case (nil, "down"?): return 0
        case (nil, _?):
            throw APIError(.badRequest, code: "INVALID_VALUE", message: "'thumbs' must be \"up\" or \"down\"", field: "thumbs")
        case (_?, _?):
            throw APIError(.badRequest, code: "INVALID_VALUE", message: "give 'score' or 'thumbs', not both", field: "score")
        case (nil, nil):
            throw APIError(.badRequest, code: "MISSING_FIELD", message: "give 'score' (0 to 1) or 'thumbs' (\"up\" or \"down\")", field: "score")
        }
    }

    static func apiError(_ error: FeedbackError, id: String) -> APIError {
        switch error {
        case .invalidScore:
            APIError(.badRequest, code: "INVALID_VALUE", message: "'score' must be a number from 0 to 1", field: "score")
        case .unknownTask:
            APIError(.notFound, code: "UNKNOWN_TASK",
                     message: "no outcome for task '\(id)': unknown id, predictiveRouting was off for it, or its record expired (routing/outcomes)",
                     field: "id")
        case .alreadyGiven(let record):
            APIError(.conflict, code: "FEEDBACK_EXISTS",
                     message: "task '\(id)' already has feedback (score \(record.feedbackScore.map { String($0) } ?? "?"))", field: "id")
        case .beingGiven:
            APIError(.conflict, code: "FEEDBACK_EXISTS", message: "task '\(id)' is getting feedback from another request now", field: "id")
        case .store(let detail):
            APIError(.serviceUnavailable, code: "STORE_UNAVAILABLE", message: "the store could not take the feedback: \(detail)")
        }
    }
}
