import Agents
import Fleet
import FleetSupport
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Providers
import Routing

/// The OpenAI- and Anthropic-compatible endpoints: `POST /v1/chat/completions`,
/// `POST /v1/responses`, `POST /v1/messages`, `POST /v1/messages/count_tokens`, and the dialects' model lists of
/// `GET /v1/models` (see ``FleetRoutes``). Each request is a fleet task: dispatched to an agent
/// of its type with its own flags, routed, called through the streaming tool, billed and
/// recorded exactly as `POST /v1/tasks`, and answered in the client's own dialect.
struct CompatRoutes {
    let manager: FleetManager
    let metrics: FleetMetrics
    let api: LiveSetting<APISection>

    /// When this fleetd started: the `created` of model lists.
    static let started = Date()

    func register(_ router: some RouterMethods<FleetRequestContext>) {
        router.post("v1/chat/completions") { request, context -> Response in
            try await serve(.openAI, request, context: context)
        }
        router.post("v1/responses") { request, context -> Response in
            try await serve(.responses, request, context: context)
        }
        router.post("v1/messages") { request, context -> Response in
            try await serve(.anthropic, request, context: context)
        }
        router.post("v1/messages/count_tokens") { request, _ -> Response in
            try await countTokens(request)
        }
    }

    /// `GET /v1/models` in a dialect's shape (``CompatModels/listShape(format:anthropicVersion:apiKeyHeader:bearer:)``).
    func modelList(_ shape: CompatModels.ListShape) async throws -> Response {
        let models = compatModels(await manager.config)
        switch shape {
        case .openai: return try compatJSON(models.openAIList(created: Int(Self.started.timeIntervalSince1970)))
        case .anthropic: return try compatJSON(models.anthropicList(createdAt: ISO8601DateFormatter().string(from: Self.started)))
        case .fleetd: throw APIError(.internalServerError, code: "INTERNAL", message: "fleetd's own list is FleetRoutes'")
        }
    }

    /// `GET /v1/models/{id}` in a dialect's shape (OpenAI's `models.retrieve`, Anthropic's
    /// `models.retrieve`): the object the list gives for `id`; 404 in the dialect's shape when the
    /// list has no such name.
    func model(_ id: String, shape: CompatModels.ListShape) async throws -> Response {
        let dialect: CompatDialect = shape == .anthropic ? .anthropic : .openAI
        guard let entry = compatModels(await manager.config).entry(id) else {
            throw CompatError(dialect, status: 404, openAIType: "invalid_request_error", anthropicType: "not_found_error",
                              message: "model '\(id)' is not served by fleetd: GET /v1/models lists 'auto', 'fleet/<agent type>', the aliases and the models this fleetd can call",
                              param: "model", code: "model_not_found")
        }
        switch shape {
        case .openai: return try compatJSON(CompatModels.openAIModel(entry, created: Int(Self.started.timeIntervalSince1970)))
        case .anthropic: return try compatJSON(CompatModels.anthropicModel(entry, createdAt: ISO8601DateFormatter().string(from: Self.started)))
        case .fleetd: throw APIError(.internalServerError, code: "INTERNAL", message: "fleetd's own view of a model is FleetRoutes'")
        }
    }

    /// What a client's `model` may name on `config`, knowing which models are off here for a
    /// missing API key (the router's effective models, as `fleetd serve` switched them off).
    private func compatModels(_ config: FleetConfig) -> CompatModels {
        var missing: [String: String] = [:]
        for model in manager.dataPlane.router.registry.models {
            if let variable = model.missingAPIKeyVariable { missing[model.name] = variable }
        }
        return CompatModels(config: config, missingKeys: missing)
    }

    // MARK: One request

    private func serve(_ dialect: CompatDialect, _ request: Request, context: FleetRequestContext) async throws -> Response {
        var request = request
        let config = await manager.config
        let call: CompatCall
        do {
            let body = try await JSONBody.decodeValue(from: &request, limit: api.value.maxBodyBytes)
            call = switch dialect {
            case .openAI: try OpenAIChatRequest.parse(body)
            case .anthropic: try AnthropicMessagesRequest.parse(body)
            case .responses: try await responsesCall(body, owner: owner(request, context: context), logger: context.logger)
            }
        } catch let error as CompatRequestError {
            throw CompatError(dialect, request: error)
        } catch let error as APIError {
            throw CompatError(dialect, api: error)
        }
        // Authenticated by the routes' guard (APIAuthMiddleware): the caller's tenant, user and limits go along.
        let task = try makeTask(call, request: request, config: config, dialect: dialect).authorized(by: context.caller?.taskCaller)
        // A model the caller may not use is 403 like a disabled one, never quietly served by another.
        if let caller = task.caller, let preferred = task.preferredModel, let list = caller.allowList,
           let model = config.routing.models.first(where: { $0.name == preferred }), let why = list.refusal(model) {
            throw CompatError(dialect, status: 403, openAIType: "permission_error", anthropicType: "permission_error",
                              message: "model '\(call.model)' may not be used by \(caller.label): \(why)",
                              param: "model", code: "model_not_allowed")
        }
        let retryAfter = Int(config.routing.health.cooldownSeconds.rounded(.up))
        let keep = keeper(call, dialect: dialect, request: request, context: context)
        if call.stream {
            return try await CompatStream(manager: manager, metrics: metrics, dialect: dialect, defaultRetryAfter: retryAfter, keep: keep)
                .respond(task, call: call, context: context)
        }
        let result: TaskResult
        do throws(TaskFailure) {
            result = try await context.disconnect.whileConnected { cancellation async throws(TaskFailure) in
                try await manager.execute(task, cancellation: cancellation)
            }
        } catch {
            metrics.taskFailed(code: error.code)
            var failure = CompatError(dialect, failure: error, defaultRetryAfter: retryAfter)
            failure.headers[HTTPField.Name("x-fleetd-task-id")!] = task.id
            throw failure
        }
        metrics.taskFinished(result)
        await keep?(result)
        let answer = CompatAnswer(result)
        let created = Int(Date().timeIntervalSince1970)
        let body = switch dialect {
        case .openAI: OpenAIChatResponse.completion(answer, created: created)
        case .anthropic: AnthropicMessagesResponse.message(answer)
        case .responses: ResponsesResponse.response(answer, created: created, echo: call.echo)
        }
        var response = try compatJSON(body)
        for (name, value) in CompatFacts(result).headers { response.headers[HTTPField.Name(name)!] = value }
        return response
    }

    /// A Responses API body as a call, the conversation its `previous_response_id` names first
    /// (kept for this caller: its key and tenant).
    private func responsesCall(_ body: JSONValue, owner: String, logger: Logger) async throws -> CompatCall {
        guard let previous = try ResponsesRequest.previousResponseId(body) else { return try ResponsesRequest.parse(body) }
        let earlier = try await ResponsesStore(memory: manager.dataPlane.memory).conversation(previous, owner: owner, logger: logger)
        return try ResponsesRequest.parse(body, earlier: earlier.messages, earlierSystem: earlier.system)
    }

    /// Whose a kept response is (``ResponsesStore/owner(_:tenantHeader:)``).
    private func owner(_ request: Request, context: FleetRequestContext) -> String {
        ResponsesStore.owner(context.caller?.taskCaller, tenantHeader: request.headers[HTTPField.Name("x-fleetd-tenant")!])
    }

    /// What keeps a Responses API answer for a later `previous_response_id` (`store` not false).
    private func keeper(_ call: CompatCall, dialect: CompatDialect, request: Request,
                        context: FleetRequestContext) -> (@Sendable (TaskResult) async -> Void)? {
        guard dialect == .responses, call.keep else { return nil } // nothing more for the other dialects' requests
        let store = ResponsesStore(memory: manager.dataPlane.memory)
        let owner = owner(request, context: context), logger = context.logger
        let conversation = call.request, system = call.keptSystem
        return { result in await store.keep(result, request: conversation, system: system, owner: owner, logger: logger) }
    }

    /// The task for a call: its agent type (header `x-fleetd-agent-type`, else the model's alias),
    /// the model first tried, stickiness (`x-fleetd-tenant`, the client's user), the routing text.
    private func makeTask(_ call: CompatCall, request: Request, config: FleetConfig, dialect: CompatDialect) throws -> AgentTask {
        let target = try compatModels(config).resolve(call.model, dialect: dialect)
        let header = request.headers[HTTPField.Name("x-fleetd-agent-type")!].flatMap { $0.isEmpty ? nil : $0 }
        let text = call.routingText
        var task = AgentTask(prompt: text.prompt, context: text.context, agentType: header ?? target.agentType,
                             preferredModel: target.preferredModel,
                             tenantId: request.headers[HTTPField.Name("x-fleetd-tenant")!], userId: call.userId,
                             maxTokens: call.maxTokens, stream: call.stream, conversation: call.request)
        // `cache-control: no-store` / `no-cache` from an SDK client, as on /v1/tasks.
        task.cachePolicy = CachePolicy(cacheControl: request.headers[.cacheControl])
        return task
    }

    /// `POST /v1/messages/count_tokens`: `{"input_tokens": N}`, fleetd's estimate of the request
    /// (``ProviderRequest/approximateInputTokens``), no model called.
    private func countTokens(_ request: Request) async throws -> Response {
        var request = request
        let config = await manager.config
        let call: CompatCall
        do {
            var body = try await JSONBody.decodeValue(from: &request, limit: api.value.maxBodyBytes)
            // Counting takes no `max_tokens` (Anthropic's has none): a stand-in lets the body parse,
            // above any thinking budget, which must be below it.
            if case .object(var fields) = body, fields["max_tokens"] == nil {
                fields["max_tokens"] = .number(Double(Int32.max))
                body = .object(fields)
            }
            call = try AnthropicMessagesRequest.parse(body)
        } catch let error as CompatRequestError {
            throw CompatError(.anthropic, request: error)
        } catch let error as APIError {
            throw CompatError(.anthropic, api: error)
        }
        _ = try compatModels(config).resolve(call.model, dialect: .anthropic)
        return try compatJSON(.object(["input_tokens": .number(Double(call.request.approximateInputTokens))]))
    }
}

/// A JSON answer of a compatible endpoint.
func compatJSON(_ value: JSONValue, status: HTTPResponse.Status = .ok) throws -> Response {
    Response(status: status, headers: [.contentType: "application/json"],
             body: .init(byteBuffer: ByteBuffer(bytes: try FastJSONEncoder().encode(value))))
}
