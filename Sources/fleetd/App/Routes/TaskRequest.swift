import Agents
import FleetSupport
import Foundation
import Routing

/// The body of `POST /v1/tasks` and `POST /v1/route`. Every field but `prompt` is optional.
struct TaskRequest: Decodable {
    var id: String?
    var prompt: String
    var context: String?
    var type: TaskType?
    var agentType: String?
    var preferredProvider: ProviderKind?
    var preferredModel: String?
    var constraints: RoutingConstraints?
    var privacy: RoutingPrivacy?
    var tenantId: String?
    var userId: String?
    var sessionId: String?
    /// More stickiness fields for flags' gradual rollouts (a custom `stickiness` such as `region`).
    var properties: [String: String]?
    var maxTokens: Int?
    var stream: Bool?
    var subtasks: [TaskRequest]?

    /// Checks what decoding cannot; the error names the field.
    func task(path: String = "") throws -> AgentTask {
        if prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw APIError(.badRequest, code: "INVALID_VALUE", message: "'\(path)prompt' must not be empty", field: "\(path)prompt")
        }
        if let id, id.isEmpty || id.count > 128 || id.contains("/") {
            throw APIError(.badRequest, code: "INVALID_VALUE", message: "'\(path)id' must be 1-128 characters without '/'", field: "\(path)id")
        }
        if let maxTokens, maxTokens < 1 {
            throw APIError(.badRequest, code: "INVALID_VALUE", message: "'\(path)maxTokens' must be at least 1", field: "\(path)maxTokens")
        }
        if let subtasks, subtasks.count > 32 {
            throw APIError(.badRequest, code: "INVALID_VALUE", message: "at most 32 subtasks", field: "\(path)subtasks")
        }
        let children = try subtasks?.enumerated().map { index, child in
            if child.subtasks != nil {
                throw APIError(.badRequest, code: "INVALID_VALUE", message: "subtasks cannot have subtasks", field: "\(path)subtasks[\(index)].subtasks")
            }
            return try child.task(path: "\(path)subtasks[\(index)].")
        }
        if let properties, properties.count > 32 || properties.contains(where: { $0.key.isEmpty || $0.key.count > 64 || $0.value.count > 256 }) {
            throw APIError(.badRequest, code: "INVALID_VALUE", message: "'\(path)properties': at most 32, names of 1-64 characters, values of at most 256",
                           field: "\(path)properties")
        }
        let taskId = id ?? AgentTask.makeID()
        var task = AgentTask(id: taskId, prompt: prompt, context: context, type: type, agentType: agentType,
                         preferredProvider: preferredProvider, preferredModel: preferredModel,
                         constraints: constraints ?? RoutingConstraints(), privacy: privacy ?? .standard,
                         tenantId: tenantId, userId: userId, sessionId: sessionId, maxTokens: maxTokens,
                         subtasks: children?.enumerated().map { index, child in
                             var child = child
                             if subtasks?[index].id == nil { child.id = "\(taskId).\(index + 1)" }
                             return child
                         },
                         stream: stream ?? false)
        task.properties = properties ?? [:]
        return task
    }
}
