import Foundation

/// Flag changes made at runtime (`PUT /v1/flags/{name}`), kept in a small JSON file in the data
/// directory so a restart does not lose them.
///
/// The rule: runtime changes are layered over the file's flags and survive restarts and reloads
/// (file edit, SIGHUP, `POST /v1/admin/reload`), except a change to a flag at a scope whose value
/// in the file that reload's edit changed: the file's new value wins there. The admin reload can
/// keep every change (`?keepRuntimeFlags=true`) or drop them all (`?keepRuntimeFlags=false`).
public struct RuntimeFlagStore: Sendable {
    /// One runtime change: which level it sets and the new setting.
    public struct Change: Sendable, Hashable, Codable {
        public var flag: String
        public var scope: FlagScope
        public var setting: FlagSetting
        public var changedAt: Date

        public init(flag: String, scope: FlagScope, setting: FlagSetting, changedAt: Date = Date()) {
            self.flag = flag
            self.scope = scope
            self.setting = setting
            self.changedAt = changedAt
        }
    }

    public let url: URL?

    /// `url == nil` keeps changes in memory only (tests, `--data-dir` unset).
    public init(url: URL?) {
        self.url = url
    }

    public func load() throws -> [Change] {
        guard let url, FileManager.default.fileExists(atPath: url.path) else { return [] }
        do {
            return try JSONDecoder.fleetd.decode([Change].self, from: try Data(contentsOf: url))
        } catch {
            throw RuntimeFlagStoreError(message: "cannot read the runtime flag changes in \(url.path) (\(error)); "
                + "fix or remove the file (removing it drops the changes made at runtime and keeps the config file's flags)")
        }
    }

    /// Writes atomically: a temporary file renamed over the old one.
    public func save(_ changes: [Change]) throws {
        guard let url else { return }
        let encoder = JSONEncoder.fleetd
        let data = try encoder.encode(changes)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp")
        try data.write(to: temporary)
        guard rename(temporary.path, url.path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
        }
    }
}

/// Where a flag setting applies.
public enum FlagScope: Sendable, Hashable, Codable, CustomStringConvertible {
    case global
    case agentType(String)
    case environment(String)

    public var description: String {
        switch self {
        case .global: "global"
        case .agentType(let type): "agent type '\(type)'"
        case .environment(let name): "environment '\(name)'"
        }
    }
}

extension FeatureFlags {
    /// These flags with a runtime change applied on top.
    public func applying(_ change: RuntimeFlagStore.Change) -> FeatureFlags {
        var flags = self
        switch change.scope {
        case .global: flags.global[change.flag] = change.setting
        case .agentType(let type): flags.agentTypes[type, default: [:]][change.flag] = change.setting
        case .environment(let name): flags.environments[name, default: [:]][change.flag] = change.setting
        }
        flags.changedAtRuntime.insert(FeatureFlags.runtimeKey(change.flag, change.scope))
        return flags
    }
}

extension JSONEncoder {
    /// Sorted keys and ISO 8601 dates: stable files and readable output.
    static var fleetd: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}

extension JSONDecoder {
    static var fleetd: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

extension FeatureFlags {
    /// The setting written for `flag` at `scope` itself (not what a context resolves to).
    public func setting(_ flag: String, at scope: FlagScope) -> FlagSetting? {
        switch scope {
        case .global: global[flag]
        case .agentType(let type): agentTypes[type]?[flag]
        case .environment(let name): environments[name]?[flag]
        }
    }
}

/// The file of runtime flag changes cannot be read.
public struct RuntimeFlagStoreError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
