/// Who a flag is evaluated for: the task's agent type, the environment, and the values
/// rollout can stick to (userId, sessionId, tenantId, taskId or any custom field).
public struct FlagContext: Sendable, Hashable {
    public var agentType: String?
    public var environment: String?
    /// Stickiness values by field name, e.g. `["tenantId": "acme"]`.
    public var properties: [String: String]

    public init(agentType: String? = nil, environment: String? = nil, properties: [String: String] = [:]) {
        self.agentType = agentType
        self.environment = environment
        self.properties = properties
    }
}

/// How a rollout picks the identifier it hashes, following Unleash.
///
/// - `default`: `userId`, else `sessionId`, else a random bucket on every evaluation (not sticky).
/// - `random`: a random bucket on every evaluation.
/// - any other name (`tenantId`, `taskId`, a custom field): that context value; when the
///   context lacks it the rollout is off for that evaluation, as in Unleash.
public enum Stickiness {
    public static let defaultName = "default"
    public static let randomName = "random"

    /// The identifier to hash, `.random` when the rule says to roll a die, or `.missing`.
    public enum Source: Sendable, Hashable {
        case value(field: String, id: String)
        case random
        case missing(field: String)
    }

    public static func source(_ stickiness: String, in properties: [String: String]) -> Source {
        switch stickiness {
        case defaultName:
            if let id = properties["userId"] { return .value(field: "userId", id: id) }
            if let id = properties["sessionId"] { return .value(field: "sessionId", id: id) }
            return .random
        case randomName:
            return .random
        default:
            if let id = properties[stickiness] { return .value(field: stickiness, id: id) }
            return .missing(field: stickiness)
        }
    }
}
