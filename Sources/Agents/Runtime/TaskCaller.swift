import FleetSupport
import Routing
import Store

/// Who a task runs for, as authentication established it (an API key, a token): the tenant and
/// user, and what the caller may use and spend. Set by the HTTP layer, never from a request body;
/// subtasks carry their parent's.
public struct TaskCaller: Sendable, Codable, Hashable {
    /// How logs and routing traces name the caller: `key fk-ab12cd34`, `token of user alice`.
    public var label: String
    public var tenantId: String?
    public var userId: String?
    /// The virtual API key's public id: the task's calls are billed to it, against ``budget``.
    public var keyId: String?
    /// Configured model names the caller may use; `nil`: any.
    public var allowedModels: [String]?
    /// Providers the caller may use; `nil`: any.
    public var allowedProviders: [ProviderKind]?
    /// Agent types the caller may run tasks on; `nil`: any.
    public var allowedAgentTypes: [String]?
    /// The key's day/week/month limits, checked with every reservation (with ``keyId``).
    public var budget: CostConfiguration.BudgetLimits?

    public init(label: String, tenantId: String? = nil, userId: String? = nil, keyId: String? = nil,
                allowedModels: [String]? = nil, allowedProviders: [ProviderKind]? = nil, allowedAgentTypes: [String]? = nil,
                budget: CostConfiguration.BudgetLimits? = nil) {
        self.label = label
        self.tenantId = tenantId
        self.userId = userId
        self.keyId = keyId
        self.allowedModels = allowedModels
        self.allowedProviders = allowedProviders
        self.allowedAgentTypes = allowedAgentTypes
        self.budget = budget
    }

    /// The caller's models and providers as the router takes them; `nil` when it allows any.
    public var allowList: ModelAllowList? {
        let list = ModelAllowList(source: label, models: allowedModels.map(Set.init), providers: allowedProviders.map(Set.init))
        return list.restricts ? list : nil
    }

    /// Whether the caller may run tasks on agents of `type`.
    public func mayUse(agentType type: String) -> Bool {
        allowedAgentTypes?.contains(type) ?? true
    }
}
