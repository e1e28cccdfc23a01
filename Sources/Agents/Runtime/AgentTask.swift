import FleetSupport
import Foundation
import Providers
import Routing

/// A task as submitted to fleetd (`POST /v1/tasks`).
public struct AgentTask: Sendable, Codable, Hashable {
    public var id: String
    public var prompt: String
    /// Extra material the task is about (a document, code); counts toward context size.
    public var context: String?
    public var type: TaskType?
    /// Which kind of agent runs it; `nil` uses the first configured type.
    public var agentType: String?
    public var preferredProvider: ProviderKind?
    public var preferredModel: String?
    public var constraints: RoutingConstraints
    public var privacy: RoutingPrivacy
    public var tenantId: String?
    public var userId: String?
    public var sessionId: String?
    /// More stickiness fields for gradual rollouts (a flag's custom `stickiness`, e.g. `region`).
    public var properties: [String: String] = [:]
    /// Longest answer wanted, in tokens.
    public var maxTokens: Int?
    /// Parts that run in parallel (each may name its own model); partial failure is allowed.
    public var subtasks: [AgentTask]?
    /// Stream the answer (SSE) when the `streaming` flag allows it.
    public var stream: Bool
    /// How the response cache may serve it (`cache-control`); `nil` is ``CachePolicy/use``.
    public var cachePolicy: CachePolicy?
    /// The whole model call as a compatible client framed it (`/v1/chat/completions`,
    /// `/v1/messages`): system prompt, turns of content blocks, tools, sampling. When set, it is
    /// what the model receives (``providerRequest(model:role:)``), `prompt` is its last user text
    /// and `context` the rest, for routing.
    public var conversation: ProviderRequest? {
        get { conversationBox?.value }
        set { conversationBox = newValue.map(Indirect.init) }
    }
    /// Held by reference: a running task keeps its task for as long as it lasts, and the request
    /// inline (352 bytes, absent or not) was part of every open stream's memory.
    private var conversationBox: Indirect<ProviderRequest>?
    /// Who the task runs for, when the request was authenticated (see ``authorized(by:)``).
    public var caller: TaskCaller?

    private enum CodingKeys: String, CodingKey {
        case id, prompt, context, type, agentType, preferredProvider, preferredModel, constraints, privacy, tenantId, userId,
             sessionId, properties, maxTokens, subtasks, stream, cachePolicy, caller
        case conversationBox = "conversation"
    }

    public init(id: String = AgentTask.makeID(), prompt: String, context: String? = nil, type: TaskType? = nil,
                agentType: String? = nil, preferredProvider: ProviderKind? = nil, preferredModel: String? = nil,
                constraints: RoutingConstraints = RoutingConstraints(), privacy: RoutingPrivacy = .standard,
                tenantId: String? = nil, userId: String? = nil, sessionId: String? = nil, maxTokens: Int? = nil,
                subtasks: [AgentTask]? = nil, stream: Bool = false, conversation: ProviderRequest? = nil) {
        self.id = id
        self.prompt = prompt
        self.context = context
        self.type = type
        self.agentType = agentType
        self.preferredProvider = preferredProvider
        self.preferredModel = preferredModel
        self.constraints = constraints
        self.privacy = privacy
        self.tenantId = tenantId
        self.userId = userId
        self.sessionId = sessionId
        self.maxTokens = maxTokens
        self.subtasks = subtasks
        self.stream = stream
        self.conversation = conversation
    }

    /// `task-<millis>-<random>`: sortable and unique enough for keys.
    public static func makeID() -> String {
        "task-\(Int(Date().timeIntervalSince1970 * 1000))-\(LocalID.text(length: 8))"
    }

    /// What the router sees of this task; `defaultType` (the agent type's role) applies when the
    /// task names no type.
    /// A task with a ``conversation`` also tells what it needs: tools, image input, its size for
    /// the context window, and the providers whose format cannot carry it.
    public func routingTask(agentType: String?, defaultType: TaskType? = nil) -> RoutingTask {
        var task = RoutingTask(taskId: id, prompt: prompt, context: context, type: type ?? defaultType, agentType: agentType,
                               preferredProvider: preferredProvider, preferredModel: preferredModel,
                               constraints: constraints, privacy: privacy, needsStreaming: false,
                               allowLists: caller?.allowList.map { [$0] } ?? [], tenantId: caller?.tenantId,
                               namedTenantId: tenantId)
        if let conversation {
            task.needsTools = conversation.usesTools
            task.attachments = (conversation.hasImages ? [.image] : []) + (conversation.hasPDFs ? [.document] : [])
            task.estimatedInputTokens = conversation.approximateInputTokens
            task.providerLimits = ProviderKind.allCases.flatMap { kind in
                conversation.unsupportedFeatures(on: kind).map { ProviderLimit(provider: kind, reason: $0) }
                    + conversation.featuresOlderModelsLack(on: kind).map { ProviderLimit(provider: kind, reason: $0.reason, models: $0.models) }
            }
        }
        return task
    }

    /// The answer's token limit asked for on any model: the task's `maxTokens` (a compatible
    /// client's `max_tokens`), else its agent type's, else ``AgentRole/defaultOutputTokenCeiling``.
    /// Each model is asked for no more than its own `maxOutputTokens`
    /// (``outputTokenLimit(role:model:)``): the router's context-window check, the cost
    /// reservation and the request sent all use that number.
    public func requestedOutputTokens(role: AgentRole) -> Int {
        maxTokens ?? role.maxTokens ?? AgentRole.defaultOutputTokenCeiling
    }

    /// The tenant `predictiveRouting` learns this task's outcomes for: the one its routing ranked it
    /// with (``RoutingTask/learningTenantId``, from the same authenticated and named tenants).
    public var learningTenantId: String? { LearningTenant.resolve(authenticated: caller?.tenantId, named: tenantId) }

    /// What the router sees of this task run by an agent with `role`: the role's default task
    /// type, and its allowed models and providers with the caller's.
    public func routingTask(agentType: String, role: AgentRole) -> RoutingTask {
        var routing = routingTask(agentType: agentType, defaultType: role.defaultTaskType)
        routing.outputTokenLimit = requestedOutputTokens(role: role)
        if let list = role.allowList(agentType: agentType) { routing.allowLists.append(list) }
        return routing
    }

    /// The task as `caller` may run it: the caller's tenant and user replace the body's (they
    /// drive rollout stickiness and scope the task's records), and its limits go along.
    public func authorized(by caller: TaskCaller?) -> AgentTask {
        guard let caller else { return self }
        var task = self
        task.caller = caller
        if let tenant = caller.tenantId { task.tenantId = tenant }
        if let user = caller.userId { task.userId = user }
        task.subtasks = subtasks?.map { $0.authorized(by: caller) }
        return task
    }

    /// The stickiness values rollout may use for this task.
    public var stickinessProperties: [String: String] {
        // The task's own fields win over a custom property of the same name. An empty value is
        // no value, as Unleash reads it: `default` stickiness goes on to the next field.
        var properties = self.properties.filter { !$0.value.isEmpty }
        properties["taskId"] = id
        for (name, value) in [("tenantId", tenantId), ("userId", userId), ("sessionId", sessionId)] {
            properties[name] = value.flatMap { $0.isEmpty ? nil : $0 }
        }
        return properties
    }
}

/// The flags resolved for one task, as plain values: agents never read flags themselves.
public struct TaskSettings: Sendable, Hashable, Codable {
    /// `multiModelRouter` (and `routing.enabled`): route, or use the default model as v1.0.4 did.
    public var useRouter: Bool
    /// `streaming`: stream when the model supports it, or make one synchronous call as v1.0.4 did.
    public var useStreaming: Bool
    /// `advancedCaching`: answer from the response cache when it holds the answer, and keep new ones.
    public var useCache: Bool
    /// `predictiveRouting`: rank with what outcomes taught, explore a little, and learn from this task.
    public var useLearning: Bool
    /// `mcpTools`: offer the agent type's MCP tools to the model and run the calls it makes.
    public var useTools: Bool

    public init(useRouter: Bool, useStreaming: Bool, useCache: Bool = false, useLearning: Bool = false, useTools: Bool = false) {
        self.useRouter = useRouter
        self.useStreaming = useStreaming
        self.useCache = useCache
        self.useLearning = useLearning
        self.useTools = useTools
    }

    /// Every flag off: the v1.0.4 path.
    public static let legacy = TaskSettings(useRouter: false, useStreaming: false)
}

/// What gives an agent type its role: `agents[].config` in the config file.
public struct AgentRole: Sendable, Hashable, Codable {
    public var systemPrompt: String?
    /// Used when a task names no type.
    public var defaultTaskType: TaskType?
    /// Longest answer, in tokens, when the task asks for none (`agents[].config.maxTokens`);
    /// `nil`: each model is asked for its own `maxOutputTokens`, at most
    /// ``defaultOutputTokenCeiling`` (``AgentTask/requestedOutputTokens(role:)``).
    public var maxTokens: Int?
    /// Configured model names this type's tasks may be routed to (`agents[].config.models`); `nil`: any.
    public var allowedModels: [String]?
    /// Providers this type's tasks may use (`agents[].config.providers`); `nil`: any.
    public var allowedProviders: [ProviderKind]?

    /// The answer's limit when neither the task nor its agent type sets one: the answering
    /// model's `maxOutputTokens`, but never more than this (nor more than this for a model that
    /// lists none). Each call reserves its answer's limit at the model's output price before it is
    /// made (an upper bound, settled to what the provider bills), so a model's whole output
    /// window (64,000 tokens on some) as the default would make a budget refuse calls that cost
    /// cents; 8,192 tokens lets nearly every answer end on its own. OpenAI's own default is the
    /// model's maximum; a client or an agent type that wants more asks for it.
    public static let defaultOutputTokenCeiling = 8_192

    public init(systemPrompt: String? = nil, defaultTaskType: TaskType? = nil, maxTokens: Int? = nil,
                allowedModels: [String]? = nil, allowedProviders: [ProviderKind]? = nil) {
        self.systemPrompt = systemPrompt
        self.defaultTaskType = defaultTaskType
        self.maxTokens = maxTokens
        self.allowedModels = allowedModels
        self.allowedProviders = allowedProviders
    }

    /// The role's allowed models and providers for the router; `nil` when it allows any.
    public func allowList(agentType: String) -> ModelAllowList? {
        let list = ModelAllowList(source: "agent type '\(agentType)'", models: allowedModels.map(Set.init),
                                  providers: allowedProviders.map(Set.init))
        return list.restricts ? list : nil
    }
}
