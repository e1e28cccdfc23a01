import FleetSupport

/// Which models a task may be routed to, and who says so: an API key, a token, or the agent
/// type's `models`/`providers` in the config. A task can carry several; a model must be in
/// every one. The router excludes the others at the `access` stage, naming the list's source.
public struct ModelAllowList: Sendable, Codable, Hashable {
    /// Who set the list, as the trace names it: `key fk-ab12cd34`, `token of user alice`,
    /// `agent type 'coder'`.
    public var source: String
    /// Configured model names allowed; `nil` allows any.
    public var models: Set<String>?
    /// Providers allowed; `nil` allows any.
    public var providers: Set<ProviderKind>?

    public init(source: String, models: Set<String>? = nil, providers: Set<ProviderKind>? = nil) {
        self.source = source
        self.models = models
        self.providers = providers
    }

    /// Whether the list restricts anything.
    public var restricts: Bool { models != nil || providers != nil }

    /// Why `model` is not allowed, or `nil` when it is.
    public func refusal(_ model: ModelConfiguration) -> String? {
        if let models, !models.contains(model.name) {
            return "not among the models allowed for \(source) (\(models.sorted().joined(separator: ", ")))"
        }
        if let providers, !providers.contains(model.provider) {
            return "provider \(model.provider.rawValue) is not among those allowed for \(source) (\(providers.map(\.rawValue).sorted().joined(separator: ", ")))"
        }
        return nil
    }
}

extension RoutingTask {
    /// The first allow-list that refuses `model`, as a trace detail; `nil` when all admit it.
    func accessRefusal(_ model: ModelConfiguration) -> String? {
        for list in allowLists {
            if let why = list.refusal(model) { return why }
        }
        return nil
    }
}
