/// Which of a provider's models something applies to, told by the model id sent to the provider
/// (`ModelConfiguration.model`): a limit of the wire format that only older models have, such as
/// Claude's structured outputs, which begin with Claude 4.5.
public enum ModelIdRule: Sendable, Codable, Hashable {
    /// Claude models older than `major.minor`. An id without a version (an alias such as
    /// `claude-sonnet-latest`, or a deployment's own name) is taken as a current model, so the rule
    /// does not match it; an id that is not Claude's does not match either.
    case claudeBefore(major: Int, minor: Int)
    /// The models without Claude's structured outputs (`output_config.format`, a tool's
    /// `strict`): Claude models before 4.5 but Opus 4.1 (which had them from the beta's start),
    /// and every id that is not Claude's: another service's model behind an Anthropic-format
    /// endpoint (MiniMax, GLM, Kimi) may well ignore the schema, and the client would get
    /// unconstrained text it took for checked JSON.
    case withoutClaudeStructuredOutputs

    public func matches(_ model: String) -> Bool {
        switch self {
        case .claudeBefore(let major, let minor):
            guard let version = Self.claudeVersion(model: model) else { return false }
            return version < (major, minor)
        case .withoutClaudeStructuredOutputs:
            guard Self.isClaude(model: model) else { return true }
            guard let version = Self.claudeVersion(model: model) else { return false }
            if version == (4, 1), model.lowercased().contains("opus") { return false }
            return version < (4, 5)
        }
    }

    /// Whether an id names a Claude model (`claude-…`, past a gateway's `anthropic/` prefix).
    public static func isClaude(model: String) -> Bool {
        var id = model.lowercased()
        if let slash = id.lastIndex(of: "/") { id = String(id[id.index(after: slash)...]) }
        return id.hasPrefix("claude-")
    }

    /// A Claude model id's version: `claude-opus-4-7` is 4.7, `claude-sonnet-4-20250514` 4.0
    /// (a date is no minor version), `claude-3-7-sonnet-latest` 3.7, `claude-opus-5` 5.0; `nil`
    /// for an id that is not Claude's or names no version. A gateway's `anthropic/` prefix is read past.
    public static func claudeVersion(model: String) -> (Int, Int)? {
        var id = model.lowercased()
        if let slash = id.lastIndex(of: "/") { id = String(id[id.index(after: slash)...]) }
        guard id.hasPrefix("claude-") else { return nil }
        let parts = id.dropFirst("claude-".count).split(separator: "-")
        let numbers = parts.drop { Int($0) == nil }.prefix { Int($0) != nil && $0.count <= 2 }.compactMap { Int($0) }
        guard let major = numbers.first else { return nil }
        return (major, numbers.dropFirst().first ?? 0)
    }
}
