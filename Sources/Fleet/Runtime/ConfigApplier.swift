/// What puts a new config in force in the parts that run on it (the fleet manager, the HTTP
/// layer's live settings, the log level).
///
/// ``ConfigReloader`` calls it for every change (a reload from the file watcher, SIGHUP or the
/// admin API; a runtime flag change; flag changes adopted from other instances), one change at a
/// time, and only then makes the new snapshot the one readers see and answers its caller: so a
/// reload's answer comes after its config is in force, never before.
public protocol ConfigApplier: Sendable {
    /// Puts `next` in force in place of `current`. Throwing refuses `next`: nothing it would have
    /// changed is changed, and `current` stays in force.
    func apply(_ next: ConfigReloader.Snapshot, replacing current: ConfigReloader.Snapshot) async throws
}

/// A valid config that could not be put in force (a component refused its settings): the running
/// config stays.
public struct ConfigApplyError: Error, Sendable, CustomStringConvertible {
    /// Stable code for logs, metrics and error bodies.
    public static let code = "CONFIG_002"

    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { "\(Self.code): \(message)" }

    /// Suitable for a metric label.
    public var shortDescription: String { "config_not_applied" }
}
