/// The models fleetd knows, in configuration order, looked up by name.
///
/// Validating the configuration (duplicate names, bad ranges) is the config loader's job; the registry is
/// defensive anyway: it keeps the first model of a duplicated name and reports the others in ``issues``,
/// so a bad list can never make routing crash or pick an unexpected model.
public struct ModelRegistry: Sendable, Hashable {
    /// Every model, enabled or not, in configuration order, without duplicates.
    public let models: [ModelConfiguration]
    /// Problems found while building the registry (duplicates dropped), for logs and `fleetd validate`.
    public let issues: [RoutingConfigurationIssue]
    private let indexByName: [String: Int]

    /// Builds a registry from the configured models.
    public init(models: [ModelConfiguration]) {
        var kept: [ModelConfiguration] = []
        var index: [String: Int] = [:]
        var issues: [RoutingConfigurationIssue] = []
        for (position, model) in models.enumerated() {
            if let first = index[model.name] {
                issues.append(RoutingConfigurationIssue(
                    code: .duplicateModel, path: "routing.models[\(position)].name",
                    message: "model name '\(model.name)' is already used by routing.models[\(first)]; this entry is ignored"))
                continue
            }
            index[model.name] = kept.count
            kept.append(model)
        }
        self.models = kept
        self.issues = issues
        self.indexByName = index
    }

    /// The model called `name`, enabled or not.
    public func model(named name: String) -> ModelConfiguration? {
        indexByName[name].map { models[$0] }
    }

    /// The enabled models, in configuration order.
    public var enabledModels: [ModelConfiguration] { models.filter(\.enabled) }

    /// The names of all models, in configuration order.
    public var names: [String] { models.map(\.name) }

    /// True when no model is registered.
    public var isEmpty: Bool { models.isEmpty }
}
