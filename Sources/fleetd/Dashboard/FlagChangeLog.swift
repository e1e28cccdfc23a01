import Fleet
import Foundation
import Logging
import Synchronization

/// What changed in the flags, when, and by whom: every `PUT /v1/flags/{name}` that succeeded, and
/// every runtime change a config reload dropped (by `config reload`), with the setting before and after. Bounded (the newest ``capacity`` entries) and kept in memory:
/// a restart starts it empty, while the changes themselves persist in `runtime-flags.json`.
/// Read by `GET /v1/flags/history`.
final class FlagChangeLog: Sendable {
    struct Entry: Sendable, Encodable {
        var at: Date
        var flag: String
        /// `global`, `agentType:<type>` or `environment:<name>`.
        var scope: String
        /// The setting at that scope before the change; `nil` when the scope had none.
        var before: FlagSetting?
        var after: FlagSetting
        /// Who: `admin`, with the operator's name when the request gave one (`X-Fleetd-Operator`), or
        /// `config reload` for a runtime change a reload dropped.
        var by: String
        /// The client's address.
        var from: String?
        /// The config generation the change produced.
        var generation: Int
    }

    let capacity: Int
    private let entries = Mutex<[Entry]>([])

    init(capacity: Int = 500) {
        self.capacity = max(1, capacity)
    }

    func append(_ entry: Entry) {
        entries.withLock { entries in
            entries.append(entry)
            if entries.count > capacity { entries.removeFirst(entries.count - capacity) }
        }
    }

    /// Records the runtime changes a reload dropped: by `config reload`, the setting after it the
    /// file's. Called after the reload returned (a lock of its own, never the reloader's turn).
    func record(dropped: [ConfigReloader.DroppedFlagChange], generation: Int) {
        for item in dropped {
            append(Entry(at: Date(), flag: item.change.flag, scope: item.change.scope.label, before: item.change.setting,
                         after: item.fileSetting, by: "config reload", from: nil, generation: generation))
        }
    }

    /// Applies a runtime flag change through `reloader` and logs it (`log` may be `nil`: applied,
    /// not logged). The `before` is read apart from the change: two admins changing the same flag
    /// at the same instant may both log the same `before`; the settings themselves are never lost.
    static func apply(_ name: String, scope: FlagScope, to setting: FlagSetting, through reloader: ConfigReloader,
                      log: FlagChangeLog?, by: String, from: String?) async throws -> ConfigReloader.Snapshot {
        let before = await reloader.snapshot.config.features.setting(name, at: scope)
        let snapshot: ConfigReloader.Snapshot
        do {
            snapshot = try await reloader.setFlag(name, scope: scope, to: setting)
        } catch let error as ConfigApplyError {
            throw APIError(.internalServerError, code: ConfigApplyError.code,
                           message: "the change to '\(name)' could not be put in force, so it is not applied: \(error.message)")
        } catch {
            Logger(label: "fleetd.flags").error("a flag change could not be saved; not applied", metadata: [
                "flag": "\(name)", "scope": "\(scope.label)", "error": "\(error)",
            ])
            throw APIError(.internalServerError, code: "FLAG_NOT_SAVED",
                           message: "the change to '\(name)' could not be saved, so it is not applied: \(error)")
        }
        log?.append(Entry(at: Date(), flag: name, scope: scope.label, before: before, after: setting,
                          by: by, from: from, generation: snapshot.generation))
        return snapshot
    }

    /// Newest first.
    func newestFirst(limit: Int) -> [Entry] {
        entries.withLock { Array($0.reversed().prefix(max(0, limit))) }
    }

    /// The operator's name from `X-Fleetd-Operator` (percent-encoded by the dashboard: a header
    /// carries Latin-1 only): printable, at most 64 characters.
    static func actor(operatorName: String?) -> String {
        let cleaned = (operatorName.flatMap { $0.removingPercentEncoding ?? $0 } ?? "").unicodeScalars.filter { $0.properties.isAlphabetic || $0.properties.numericType != nil
            || " .-_@".unicodeScalars.contains($0) }
        let name = String(String.UnicodeScalarView(cleaned)).trimmingCharacters(in: .whitespaces).prefix(64)
        return name.isEmpty ? "admin" : "admin (\(name))"
    }
}

extension FlagScope {
    /// `global`, `agentType:<type>`, `environment:<name>`.
    var label: String {
        switch self {
        case .global: "global"
        case .agentType(let type): "agentType:\(type)"
        case .environment(let name): "environment:\(name)"
        }
    }
}

extension FeatureFlags {
    /// The setting a scope holds for a flag, if any.
    func setting(_ flag: String, at scope: FlagScope) -> FlagSetting? {
        switch scope {
        case .global: global[flag]
        case .agentType(let type): agentTypes[type]?[flag]
        case .environment(let name): environments[name]?[flag]
        }
    }
}
