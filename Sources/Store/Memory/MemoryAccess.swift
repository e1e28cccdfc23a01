/// Who may read a memory entry.
public enum MemoryAccessLevel: String, Sendable, Codable, CaseIterable, Hashable {
    /// Only the owning agent (system readers included only when they own it).
    case `private`
    /// Any agent of the fleet (any reader with an agent id) and system readers.
    case swarm
    /// System readers only (fleetd's own components). Cost data lives here.
    case system
    /// Anyone, including readers without an identity.
    case `public`
}

/// The identity a read or write happens under.
public struct MemoryReader: Sendable, Hashable, Codable {
    /// The agent asking, or `nil` for an anonymous reader.
    public var agentId: String?
    /// True for fleetd's own components (cost tracker, quota manager, admin API).
    public var isSystem: Bool

    public init(agentId: String?, isSystem: Bool = false) {
        self.agentId = agentId
        self.isSystem = isSystem
    }

    /// fleetd itself; owner name `system`.
    public static let system = MemoryReader(agentId: "system", isSystem: true)
    /// A reader with no identity: sees public entries only.
    public static let anonymous = MemoryReader(agentId: nil, isSystem: false)
    /// An ordinary agent.
    public static func agent(_ id: String) -> MemoryReader { MemoryReader(agentId: id, isSystem: false) }

    /// Whether this reader may see an entry with this owner and level.
    public func canRead(owner: String, level: MemoryAccessLevel) -> Bool {
        switch level {
        case .public: true
        case .swarm: isSystem || agentId != nil
        case .system: isSystem
        case .private: agentId == owner
        }
    }

    /// Whether this identity may replace or delete an entry owned by `owner`.
    public func canModify(owner: String) -> Bool {
        isSystem || agentId == owner
    }

    /// The owner name written for entries stored under this identity.
    var ownerName: String { agentId ?? (isSystem ? "system" : "anonymous") }
}
