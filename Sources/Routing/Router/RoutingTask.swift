import FleetSupport

/// What the router sees of one task.
public struct RoutingTask: Sendable, Codable, Hashable {
    /// The task's id; selections are recorded under `routing/selections/<taskId>`.
    public var taskId: String
    /// The task text.
    public var prompt: String
    /// Extra context (documents, history) sent along with the prompt.
    public var context: String?
    /// The caller's task type; `nil` lets the complexity scorer infer one.
    public var type: TaskType?
    /// The kind of agent running the task (for logs and per-agent-type flags).
    public var agentType: String?
    /// A provider the caller prefers: its models rank first when they can serve.
    public var preferredProvider: ProviderKind?
    /// A model the caller prefers: it is picked when it can serve, even outside its complexity range.
    public var preferredModel: String?
    /// Hard limits on cost, quality and latency.
    public var constraints: RoutingConstraints
    /// Who may see the task.
    public var privacy: RoutingPrivacy
    /// Whether the caller will consume the answer as a stream.
    public var needsStreaming: Bool
    /// Whether the task gives the model tools to call.
    public var needsTools: Bool
    /// Kinds of non-text input attached to the task.
    public var attachments: [InputModality]
    /// Overrides the scorer's input-token estimate.
    public var estimatedInputTokens: Int?
    /// Overrides the scorer's output-token estimate.
    public var estimatedOutputTokens: Int?
    /// The answer's token limit (the task's `maxTokens`, else its agent type's, else the default
    /// ceiling of 8,192 that a task run asks for): a model's context window must hold the input and
    /// this much answer (cut to the model's `maxOutputTokens`, as the call is), or the provider
    /// refuses the request. `nil`: the output estimate is what must fit.
    public var outputTokenLimit: Int?
    /// Providers whose wire format cannot carry this task, and why (e.g. a JSON response format
    /// for Anthropic): their models are excluded at the capabilities stage.
    public var providerLimits: [ProviderLimit]
    /// Who may pick which models for this task (an API key's, a token's, the agent type's): a
    /// model must be in every list. Empty: any model.
    public var allowLists: [ModelAllowList]
    /// The authenticated tenant the task runs for; its selection is recorded under
    /// `routing/selections/<tenant>/<taskId>` so tenants' task ids never collide.
    public var tenantId: String?
    /// The tenant the request named (a task's `tenantId`) when no authenticated tenant decides it:
    /// not a record scope, but the tenant whose outcomes rank the task (``learningTenantId``).
    public var namedTenantId: String?
    /// The caller's own budget (an API key's), when its figures are shown in place of the fleet's:
    /// a route explanation's budget line and budget stage (``CallerBudget``). Not decoded or
    /// encoded: fleetd sets it from the authenticated caller. `nil`: the fleet's figures, or none
    /// for a tenant's task.
    public var callerBudget: CallerBudget?

    /// The tenant whose learned cells rank this task, the one its outcomes are learned for
    /// (``LearningTenant/resolve(authenticated:named:)``).
    public var learningTenantId: String? { LearningTenant.resolve(authenticated: tenantId, named: namedTenantId) }

    public init(
        taskId: String,
        prompt: String,
        context: String? = nil,
        type: TaskType? = nil,
        agentType: String? = nil,
        preferredProvider: ProviderKind? = nil,
        preferredModel: String? = nil,
        constraints: RoutingConstraints = RoutingConstraints(),
        privacy: RoutingPrivacy = .standard,
        needsStreaming: Bool = false,
        needsTools: Bool = false,
        attachments: [InputModality] = [],
        estimatedInputTokens: Int? = nil,
        estimatedOutputTokens: Int? = nil,
        providerLimits: [ProviderLimit] = [],
        allowLists: [ModelAllowList] = [],
        tenantId: String? = nil,
        namedTenantId: String? = nil
    ) {
        self.taskId = taskId
        self.prompt = prompt
        self.context = context
        self.type = type
        self.agentType = agentType
        self.preferredProvider = preferredProvider
        self.preferredModel = preferredModel
        self.constraints = constraints
        self.privacy = privacy
        self.needsStreaming = needsStreaming
        self.needsTools = needsTools
        self.attachments = attachments
        self.estimatedInputTokens = estimatedInputTokens
        self.estimatedOutputTokens = estimatedOutputTokens
        self.providerLimits = providerLimits
        self.allowLists = allowLists
        self.tenantId = tenantId
        self.namedTenantId = namedTenantId
    }
}

extension RoutingTask {
    private enum CodingKeys: String, CodingKey {
        case taskId, prompt, context, type, agentType, preferredProvider, preferredModel, constraints, privacy
        case needsStreaming, needsTools, attachments, estimatedInputTokens, estimatedOutputTokens, providerLimits, allowLists, tenantId
        case namedTenantId
    }

    /// Decodes a task; only `taskId` and `prompt` are required, every other field takes its default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            taskId: try c.decode(String.self, forKey: .taskId),
            prompt: try c.decode(String.self, forKey: .prompt),
            context: try c.decodeIfPresent(String.self, forKey: .context),
            type: try c.decodeIfPresent(TaskType.self, forKey: .type),
            agentType: try c.decodeIfPresent(String.self, forKey: .agentType),
            preferredProvider: try c.decodeIfPresent(ProviderKind.self, forKey: .preferredProvider),
            preferredModel: try c.decodeIfPresent(String.self, forKey: .preferredModel),
            constraints: try c.decodeIfPresent(RoutingConstraints.self, forKey: .constraints) ?? RoutingConstraints(),
            privacy: try c.decodeIfPresent(RoutingPrivacy.self, forKey: .privacy) ?? .standard,
            needsStreaming: try c.decodeIfPresent(Bool.self, forKey: .needsStreaming) ?? false,
            needsTools: try c.decodeIfPresent(Bool.self, forKey: .needsTools) ?? false,
            attachments: try c.decodeIfPresent([InputModality].self, forKey: .attachments) ?? [],
            estimatedInputTokens: try c.decodeIfPresent(Int.self, forKey: .estimatedInputTokens),
            estimatedOutputTokens: try c.decodeIfPresent(Int.self, forKey: .estimatedOutputTokens),
            providerLimits: try c.decodeIfPresent([ProviderLimit].self, forKey: .providerLimits) ?? [],
            allowLists: try c.decodeIfPresent([ModelAllowList].self, forKey: .allowLists) ?? [],
            tenantId: try c.decodeIfPresent(String.self, forKey: .tenantId),
            namedTenantId: try c.decodeIfPresent(String.self, forKey: .namedTenantId))
    }
}

/// A provider whose wire format cannot carry a task, and what it lacks: for all its models, or
/// only for those `models` matches (older models without a feature the newer ones have).
public struct ProviderLimit: Sendable, Codable, Hashable {
    public var provider: ProviderKind
    /// What the task asks for that the provider's format cannot carry.
    public var reason: String
    /// The provider's models the limit applies to (by the id sent to the provider); `nil`: all.
    public var models: ModelIdRule?

    public init(provider: ProviderKind, reason: String, models: ModelIdRule? = nil) {
        self.provider = provider
        self.reason = reason
        self.models = models
    }

    /// Whether it keeps `model` (a model of `provider`, by its provider-side id) from the task.
    public func applies(to model: String) -> Bool {
        models?.matches(model) ?? true
    }
}

/// Hard limits a task puts on the model that serves it. `nil` means no limit.
public struct RoutingConstraints: Sendable, Codable, Hashable {
    /// Highest estimated cost of this task in US dollars.
    public var maxCost: Double?
    /// Lowest model quality, 0…1 (see ``ModelConfiguration/effectiveQuality``).
    public var minQuality: Double?
    /// Highest expected latency in milliseconds (observed average, or the configured typical latency).
    public var maxLatencyMs: Double?

    public init(maxCost: Double? = nil, minQuality: Double? = nil, maxLatencyMs: Double? = nil) {
        self.maxCost = maxCost
        self.minQuality = minQuality
        self.maxLatencyMs = maxLatencyMs
    }
}

/// Who may see a task's content.
public enum RoutingPrivacy: String, Sendable, Codable, CaseIterable, Hashable {
    /// Any configured provider.
    case standard
    /// Only providers on the operator's machine (``ProviderKind/isLocal``); never a cloud API,
    /// not even as a fallback.
    case localOnly = "local-only"
}
