/// A feature toggle in Unleash's client API shape, evaluated with the same bucketing fleetd's
/// own rollouts use.
///
/// This is the compatibility proof: Unleash's client-specification cases for gradual rollout
/// and custom stickiness run through it in the tests, so a team moving from Unleash keeps its
/// users' buckets. Supports the strategies those cases use (`default`, `gradualRolloutUserId`,
/// `gradualRolloutSessionId`, `gradualRolloutRandom`, `flexibleRollout`) and feature variants;
/// strategies with constraints or segments are reported as unsupported (off).
public struct UnleashFeature: Sendable, Hashable, Decodable {
    public struct Strategy: Sendable, Hashable, Decodable {
        public var name: String
        public var parameters: [String: String]?
        public var constraints: [Constraint]?

        public struct Constraint: Sendable, Hashable, Decodable {
            public var contextName: String
        }
    }

    public struct Variant: Sendable, Hashable, Decodable {
        public var name: String
        public var weight: Int
        public var stickiness: String?
        public var payload: Payload?
    }

    public struct Payload: Sendable, Hashable, Codable {
        public var type: String
        public var value: String
    }

    public var name: String
    public var enabled: Bool
    public var strategies: [Strategy]
    public var variants: [Variant]?

    /// Unleash's context: `userId`, `sessionId`, `remoteAddress` and custom `properties`,
    /// flattened into one dictionary (a top-level field wins over a property of the same name).
    public func isEnabled(_ context: [String: String]) -> Bool {
        guard enabled else { return false }
        return strategies.contains { evaluate($0, context) }
    }

    private func evaluate(_ strategy: Strategy, _ context: [String: String]) -> Bool {
        if let constraints = strategy.constraints, !constraints.isEmpty { return false }
        let parameters = strategy.parameters ?? [:]
        let group = parameters["groupId"] ?? name
        func percentage(_ key: String) -> Int { Int(parameters[key] ?? "") ?? 0 }
        switch strategy.name {
        case "default":
            return true
        case "gradualRolloutUserId":
            return Rollout(percentage: percentage("percentage"), stickiness: "userId", groupId: group)
                .evaluate(flag: name, properties: context).enabled
        case "gradualRolloutSessionId":
            return Rollout(percentage: percentage("percentage"), stickiness: "sessionId", groupId: group)
                .evaluate(flag: name, properties: context).enabled
        case "gradualRolloutRandom":
            return Rollout(percentage: percentage("percentage"), stickiness: Stickiness.randomName, groupId: group)
                .evaluate(flag: name, properties: context).enabled
        case "flexibleRollout":
            let stickiness = parameters["stickiness"] ?? Stickiness.defaultName
            return Rollout(percentage: percentage("rollout"), stickiness: stickiness, groupId: group)
                .evaluate(flag: name, properties: context).enabled
        default:
            return false
        }
    }

    /// The variant Unleash would assign: `nil` name `disabled` when the feature is off or has no variants.
    public func variant(_ context: [String: String]) -> (name: String, payload: Payload?, enabled: Bool, featureEnabled: Bool) {
        let featureOn = isEnabled(context)
        guard featureOn, let variants, !variants.isEmpty else {
            return ("disabled", nil, false, featureOn)
        }
        let total = variants.reduce(0) { $0 + $1.weight }
        guard total > 0 else { return ("disabled", nil, false, featureOn) }
        let stickiness = variants.first?.stickiness ?? Stickiness.defaultName
        let id: String
        switch stickiness {
        case Stickiness.defaultName:
            id = context["userId"] ?? context["sessionId"] ?? context["remoteAddress"] ?? String(Int.random(in: 1...100_000))
        default:
            id = context[stickiness] ?? String(Int.random(in: 1...100_000))
        }
        let target = RolloutBucket.normalized(id: id, groupId: name, normalizer: UInt32(total), seed: RolloutBucket.variantSeed)
        var counter = 0
        for variant in variants {
            counter += variant.weight
            if target <= counter { return (variant.name, variant.payload, true, true) }
        }
        return ("disabled", nil, false, featureOn)
    }
}
