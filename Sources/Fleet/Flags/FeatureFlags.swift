/// Every flag's global value plus its overrides per agent type and per environment.
///
/// Resolution for a context: the environment's override, then the agent type's, then the
/// global value; a flag set nowhere, or not known to fleetd, is off.
public struct FeatureFlags: Sendable, Hashable {
    /// The flags fleetd knows. Phase 1 (v1.0.5): `multiModelRouter`, `streaming`; the rest are
    /// reserved for v1.1 and accepted so configs can be written ahead of time.
    public static let known: [String] = ["multiModelRouter", "streaming", "advancedCaching", "predictiveRouting", "mcpTools", "multiRegion"]

    public var global: [String: FlagSetting]
    /// Agent type → flag → setting.
    public var agentTypes: [String: [String: FlagSetting]]
    /// Environment name → flag → setting.
    public var environments: [String: [String: FlagSetting]]
    /// The settings a runtime change (`PUT /v1/flags`, kept in `runtime-flags.json`) wrote, as
    /// ``runtimeKey(_:_:)``: the rule that such a setting decides says it is a runtime change, not
    /// the file's value (it stays one after a restart).
    public var changedAtRuntime: Set<String> = []

    public init(
        global: [String: FlagSetting] = [:],
        agentTypes: [String: [String: FlagSetting]] = [:],
        environments: [String: [String: FlagSetting]] = [:]
    ) {
        self.global = global
        self.agentTypes = agentTypes
        self.environments = environments
    }

    /// All flags off: fleetd behaves as v1.0.4.
    public static let allOff = FeatureFlags(global: Dictionary(uniqueKeysWithValues: known.map { ($0, FlagSetting.off) }))

    /// One flag's verdict for a context and the rule that decided it.
    public func evaluate(_ name: String, in context: FlagContext) -> FlagDecision {
        guard Self.known.contains(name) else {
            return FlagDecision(name: name, enabled: false, rule: "unknown flag: off")
        }
        let (setting, fileLevel, scope): (FlagSetting?, String, FlagScope?) = {
            if let environment = context.environment, let setting = environments[environment]?[name] {
                return (setting, "environment '\(environment)'", FlagScope.environment(environment))
            }
            if let agentType = context.agentType, let setting = agentTypes[agentType]?[name] {
                return (setting, "agent type '\(agentType)'", FlagScope.agentType(agentType))
            }
            if let setting = global[name] { return (setting, "global", FlagScope.global) }
            return (nil, "default", nil)
        }()
        var level = fileLevel
        if let scope, changedAtRuntime.contains(Self.runtimeKey(name, scope)) {
            level = scope == .global ? "runtime change (PUT /v1/flags)" : "runtime change (PUT /v1/flags) for \(fileLevel)"
        }
        guard let setting else {
            return FlagDecision(name: name, enabled: false, rule: "not set: off (default)")
        }
        guard setting.enabled else {
            return FlagDecision(name: name, enabled: false, rule: "\(level): off")
        }
        guard let rollout = setting.rollout else {
            return FlagDecision(name: name, enabled: true, rule: "\(level): on")
        }
        let verdict = rollout.evaluate(flag: name, properties: context.properties)
        return FlagDecision(name: name, enabled: verdict.enabled, rule: "\(level): \(verdict.explanation)")
    }

    /// How ``changedAtRuntime`` names a flag at a scope.
    public static func runtimeKey(_ flag: String, _ scope: FlagScope) -> String {
        "\(flag)@\(scope)"
    }

    public func isEnabled(_ name: String, in context: FlagContext) -> Bool {
        evaluate(name, in: context).enabled
    }

    /// Every known flag's verdict, in ``known`` order.
    public func evaluateAll(in context: FlagContext) -> [FlagDecision] {
        Self.known.map { evaluate($0, in: context) }
    }
}

/// A flag's value for one context, with the rule that decided it.
public struct FlagDecision: Sendable, Hashable, Codable {
    public var name: String
    public var enabled: Bool
    /// E.g. `environment 'production': on`, `global: rollout 25% by tenantId: bucket 17 <= 25`.
    public var rule: String
}
