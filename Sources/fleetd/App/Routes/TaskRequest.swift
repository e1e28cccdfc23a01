import Agents
import FleetSupport
import Foundation
import Providers
import Routing

/// The body of `POST /v1/tasks` and `POST /v1/route`, and the MCP `run_task` tool's arguments.
/// Every field but `prompt` is optional; read by ``init(json:path:)``.
struct TaskRequest {
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
        // Unicode's White_Space scalars, the set Foundation's `whitespacesAndNewlines` trims; this
        // stops at the first other one, where trimming built a CharacterSet and a copy per request.
        if prompt.unicodeScalars.allSatisfy(\.properties.isWhitespace) {
            throw APIError(.badRequest, code: "INVALID_VALUE", message: "'\(path)prompt' must not be empty", field: "\(path)prompt")
        }
        if let id, id.isEmpty || id.count > 128 || id.contains("/") {
            throw APIError(.badRequest, code: "INVALID_VALUE", message: "'\(path)id' must be 1-128 characters without '/'", field: "\(path)id")
        }
        if let maxTokens, maxTokens < 1 {
            throw APIError(.badRequest, code: "INVALID_VALUE", message: "'\(path)maxTokens' must be at least 1", field: "\(path)maxTokens")
        }
        if let constraints {
            try Self.checkLimit(constraints.maxCost, "\(path)constraints.maxCost", 0...Double.greatestFiniteMagnitude, "a finite number of US dollars, 0 or more")
            try Self.checkLimit(constraints.minQuality, "\(path)constraints.minQuality", 0...1, "a number from 0 to 1")
            try Self.checkLimit(constraints.maxLatencyMs, "\(path)constraints.maxLatencyMs", 0...Double.greatestFiniteMagnitude, "a finite number of milliseconds, 0 or more")
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

    /// A constraint's limit must be finite and in `range`: a negative cost or latency, or a
    /// quality outside 0…1, is a mistake, not a limit (it would exclude every model, or none).
    private static func checkLimit(_ value: Double?, _ field: String, _ range: ClosedRange<Double>, _ expected: String) throws {
        guard let value, !(value.isFinite && range.contains(value)) else { return }
        throw APIError(.badRequest, code: "INVALID_VALUE", message: "'\(field)' must be \(expected), got \(value)", field: field)
    }
}

/// Reading the body by hand from the parsed ``JSONValue``, with ``CompatObject`` as the compatible
/// endpoints read theirs, and the answers `JSONDecoder` gave (a member that is absent or `null` is
/// `nil`, members not asked for are ignored; 400 `MISSING_FIELD`, `WRONG_TYPE` or `INVALID_VALUE`
/// naming the field).
///
/// Why: `JSONDecoder` and `Decodable` were about 1.8% of a task's CPU on `config/fleet.yaml`'s
/// path, this reader and the parse about 0.5% (docs/performance.md, "Per-task costs on the
/// shipped config's path").
extension TaskRequest {
    init(json: JSONValue) throws(APIError) {
        do {
            try self.init(CompatObject(json, path: ""))
        } catch let error as CompatRequestError {
            let code = switch error.kind {
            case .missing: "MISSING_FIELD"
            case .wrongType: "WRONG_TYPE"
            case .invalidValue: "INVALID_VALUE"
            }
            throw APIError(.badRequest, code: code, message: error.message, field: error.param)
        } catch {
            // `CompatObject`'s readers throw only `CompatRequestError`; their signatures are untyped.
            throw APIError(.badRequest, code: "INVALID_VALUE", message: "\(error)")
        }
    }

    private init(_ body: CompatObject) throws {
        guard let prompt = try body.string("prompt") else {
            let field = body.param("prompt"), null = body.fields["prompt"] == .null
            throw CompatRequestError(param: field, message: null ? "'\(field)' must be a string, not null" : "'\(field)' is required",
                                     kind: null ? .wrongType : .missing)
        }
        self.prompt = prompt
        id = try body.string("id")
        context = try body.string("context")
        type = try body.choice("type", of: TaskType.self)
        agentType = try body.string("agentType")
        preferredProvider = try body.choice("preferredProvider", of: ProviderKind.self)
        preferredModel = try body.string("preferredModel")
        if let limits = try body.object("constraints") {
            constraints = RoutingConstraints(maxCost: try limits.double("maxCost"), minQuality: try limits.double("minQuality"),
                                             maxLatencyMs: try limits.double("maxLatencyMs"))
        }
        privacy = try body.choice("privacy", of: RoutingPrivacy.self)
        tenantId = try body.string("tenantId")
        userId = try body.string("userId")
        sessionId = try body.string("sessionId")
        if let values = try body.object("properties") {
            var properties: [String: String] = [:]
            for (name, _) in values.fields { properties[name] = try values.string(name) }
            self.properties = properties
        }
        maxTokens = try body.int("maxTokens")
        stream = try body.bool("stream")
        if let items = try body.array("subtasks") {
            var children: [TaskRequest] = []
            for (index, item) in items.enumerated() {
                children.append(try TaskRequest(CompatObject(item, path: "\(body.param("subtasks"))[\(index)]")))
            }
            subtasks = children
        }
    }
}
