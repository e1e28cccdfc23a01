/// The value of one flag at one level (global, an agent type, an environment).
///
/// In YAML either a boolean (`streaming: true`) or
/// `{enabled: true, rollout: {percentage: 25, stickiness: tenantId, groupId: streaming}}`.
public struct FlagSetting: Sendable, Hashable, Codable {
    public var enabled: Bool
    /// Gradual rollout; `nil` means everyone, when enabled.
    public var rollout: Rollout?

    public init(enabled: Bool, rollout: Rollout? = nil) {
        self.enabled = enabled
        self.rollout = rollout
    }

    public static let on = FlagSetting(enabled: true)
    public static let off = FlagSetting(enabled: false)

    /// `off`, `on`, or `on, rollout 25% by tenantId`: for logs and messages.
    public var summary: String {
        guard enabled else { return "off" }
        guard let rollout else { return "on" }
        return "on, rollout \(rollout.percentage)% by \(rollout.stickiness)"
    }
}

/// A sticky percentage rollout, bucketed exactly as Unleash's `flexibleRollout` strategy.
public struct Rollout: Sendable, Hashable, Codable {
    /// 0…100: the share of buckets that get the flag.
    public var percentage: Int
    /// Which context value keeps a caller in the same bucket (see ``Stickiness``).
    public var stickiness: String
    /// Hash group; `nil` uses the flag's name. Flags sharing a group share buckets.
    public var groupId: String?

    public init(percentage: Int, stickiness: String = Stickiness.defaultName, groupId: String? = nil) {
        self.percentage = percentage
        self.stickiness = stickiness
        self.groupId = groupId
    }

    /// Evaluates the rollout; returns whether it is on and a human explanation.
    public func evaluate(flag: String, properties: [String: String]) -> (enabled: Bool, explanation: String) {
        let group = groupId ?? flag
        switch Stickiness.source(stickiness, in: properties) {
        case .value(let field, let id):
            let bucket = RolloutBucket.normalized(id: id, groupId: group)
            let on = percentage > 0 && bucket <= percentage
            return (on, "rollout \(percentage)% by \(field): bucket \(bucket) \(on ? "<=" : ">") \(percentage)")
        case .random:
            let bucket = Int.random(in: 1...100)
            let on = percentage > 0 && bucket <= percentage
            return (on, "rollout \(percentage)% at random (no userId or sessionId): bucket \(bucket)")
        case .missing(let field):
            return (false, "rollout \(percentage)% by \(field): no \(field) in context")
        }
    }
}
