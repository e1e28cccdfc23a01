import Foundation
import Logging

/// The running configuration and how it changes: atomically, or not at all.
///
/// A new config is loaded and validated first; only a valid one goes on, and only once the
/// ``ConfigApplier`` has put it in force does it replace the running one, in one step, with a new
/// generation number. So a reload (file watcher, SIGHUP, admin API) or a runtime flag change
/// returns once what it changed is in force, or throws with the running config kept. Changes run
/// one at a time, in the order they came. Readers always see one whole config. Runtime flag
/// changes are layered on top (see ``RuntimeFlagStore``).
public actor ConfigReloader {
    /// What a reload did.
    public struct Outcome: Sendable {
        public var generation: Int
        public var changed: Bool
        public var warnings: [ConfigDiagnostic]
        /// Settings whose value in the file differs from the one this process started with and
        /// that apply only after a restart (``FleetConfig/changesNeedingRestart(from:)``): named by
        /// every reload until the restart, whichever reload (the file watcher's, SIGHUP, the
        /// admin API) first loaded the change. `api.host` and `api.port` are left out when the
        /// file's value is the address the listener runs on (``listenerStarted(host:port:)``), as
        /// when `api.port: 0` picked the port the file now names.
        public var needsRestart: [String] = []
        /// The settings a reload applies at once whose value in force this reload changed
        /// (``FleetConfig/changesAppliedAtOnce(from:)``), all in force when the reload returns;
        /// empty when an earlier reload (the file watcher's) had already loaded the same text.
        public var changedSettings: [String] = []
        /// The runtime flag changes this reload dropped, and why (see ``reload(keepRuntimeFlags:force:)``).
        public var droppedRuntimeFlagChanges: [DroppedFlagChange] = []
    }

    /// A runtime flag change a reload dropped.
    public struct DroppedFlagChange: Sendable {
        public var change: RuntimeFlagStore.Change
        /// The file's setting now in force for the flag at that scope (its global value when the
        /// file no longer sets one there).
        public var fileSetting: FlagSetting
        public var reason: String
    }

    /// A config in force: the file's values with runtime flag changes applied.
    public struct Snapshot: Sendable {
        public var config: FleetConfig
        public var generation: Int
        public var loadedAt: Date
        public var runtimeFlagChanges: [RuntimeFlagStore.Change]
    }

    /// `fleetd serve --host/--port`: they win over the file's `api.host` / `api.port` on every
    /// reload as at start-up (so a reload never reports them as needing a restart).
    public struct ListenOverride: Sendable, Hashable {
        public var host: String?
        public var port: Int?
        public init(host: String? = nil, port: Int? = nil) {
            self.host = host
            self.port = port
        }
        public func apply(to config: inout FleetConfig) {
            if let host { config.api.host = host }
            if let port { config.api.port = port }
        }
    }

    public let path: String?
    private let listenOverride: ListenOverride
    private let logger: Logger
    /// The address the HTTP listener runs on, once it does (``listenerStarted(host:port:)``).
    private var listening: (host: String, port: Int)?
    private let environment: [String: String]
    let flagStore: RuntimeFlagStore
    var fileConfig: FleetConfig
    /// The file's config when this process started: what restart-only settings still are.
    private let startConfig: FleetConfig
    private var fileText: String?
    /// The text of the last reload attempt, valid or not, so a bad file is reported once.
    private var lastSeenText: String?
    /// The file's identity (size, modification time, inode) when it was last read, so the watcher
    /// can tell a change from a `stat` and read the file only then.
    private var lastSeenStamp: FileStamp?
    /// A change seen by the last poll, not yet read: the file may still be being written.
    private var settlingStamp: FileStamp?
    var runtimeChanges: [RuntimeFlagStore.Change]
    /// The runtime flag file's identity when this process last read or wrote it (``adoptFlagFileChanges()``).
    var flagFileStamp: FileStamp?
    private(set) public var snapshot: Snapshot
    private var listeners: [UUID: AsyncStream<Snapshot>.Continuation] = [:]
    /// With `database.type: postgres`: where runtime flag changes are shared with every instance.
    var shared: SharedFlagChanges?
    /// Puts each new config in force before it becomes ``snapshot`` (`nil`: nothing runs on it).
    private var applier: (any ConfigApplier)?
    /// Whether a change (reload, flag change, adoption) is under way: the others wait their turn in
    /// `waitingChanges`, first come first served, so two never interleave while one awaits.
    private var changing = false
    private var waitingChanges: [CheckedContinuation<Void, Never>] = []

    /// - Parameter logger: where a reload says what needs a restart, which environment variables
    ///   override the file (here for `loaded`, then at every reload) and which runtime flag changes
    ///   it dropped.
    public init(loaded: LoadedConfig, environment: [String: String] = ProcessInfo.processInfo.environment,
                flagStore: RuntimeFlagStore = RuntimeFlagStore(url: nil), listenOverride: ListenOverride = ListenOverride(),
                logger: Logger = Logger(label: "fleetd.config")) throws {
        var loaded = loaded
        listenOverride.apply(to: &loaded.config)
        ConfigReloader.logEnvironmentOverrides(loaded, logger: logger)
        self.listenOverride = listenOverride
        self.logger = logger
        self.path = loaded.path
        self.environment = environment
        self.flagStore = flagStore
        self.fileConfig = loaded.config
        self.startConfig = loaded.config
        self.fileText = loaded.path.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }
        self.lastSeenText = fileText
        self.lastSeenStamp = loaded.path.flatMap(FileStamp.init(path:))
        self.flagFileStamp = flagStore.url.flatMap { FileStamp(path: $0.path) }
        let changes = try flagStore.load()
        self.runtimeChanges = changes
        self.snapshot = Snapshot(config: Self.apply(changes, to: loaded.config), generation: 1, loadedAt: Date(), runtimeFlagChanges: changes)
    }

    /// What puts every new config in force from now on (fleetd's manager, HTTP settings, log
    /// level): each reload and flag change returns only once it has, and a config it refuses is
    /// not taken. Set it before anything can change the config (before the services start).
    public func setApplier(_ applier: any ConfigApplier) {
        self.applier = applier
    }

    /// Reloads from the file and returns once the new config is in force. Throws ``ConfigError``
    /// when the new file is invalid, or the applier's error (``ConfigApplyError``) when it could
    /// not be put in force; either way the running config stays. Unchanged text is a no-op unless
    /// `force` is set.
    ///
    /// Runtime flag changes: `nil` (the file watcher, SIGHUP, an admin reload that does not say)
    /// keeps them, except a change to a flag at a scope whose value in the file this reload's edit
    /// changed: the operator edited it on purpose, so the file's new value wins there. `true` keeps
    /// every one, `false` drops every one. Each dropped change is logged and named in the outcome.
    @discardableResult
    public func reload(keepRuntimeFlags: Bool? = nil, force: Bool = true) async throws -> Outcome {
        guard let path else {
            return Outcome(generation: snapshot.generation, changed: false, warnings: [])
        }
        await beginChange()
        defer { endChange() }
        lastSeenStamp = FileStamp(path: path)
        let text = try? String(contentsOfFile: path, encoding: .utf8)
        if !force, let text, text == fileText {
            return Outcome(generation: snapshot.generation, changed: false, warnings: [])
        }
        lastSeenText = text
        var loaded = try ConfigLoader.load(path: path, environment: environment)
        listenOverride.apply(to: &loaded.config)
        Self.logEnvironmentOverrides(loaded, logger: logger)
        let needsRestart = restartSettings(for: loaded.config)
        let dropped = droppedRuntimeChanges(keep: keepRuntimeFlags, oldFile: fileConfig.features, newFile: loaded.config.features)
        let droppedKeys = Set(dropped.map { FeatureFlags.runtimeKey($0.change.flag, $0.change.scope) })
        let changes = runtimeChanges.filter { !droppedKeys.contains(FeatureFlags.runtimeKey($0.flag, $0.scope)) }
        let previous = snapshot.config
        try await commit(Self.apply(changes, to: loaded.config), runtimeChanges: changes)
        fileConfig = loaded.config
        fileText = text
        if !needsRestart.isEmpty {
            logger.warning("these settings changed in the file but apply only after a restart", metadata: [
                "settings": .array(needsRestart.map { .string($0) }), "generation": "\(snapshot.generation)",
            ])
        }
        if !dropped.isEmpty {
            for item in dropped {
                logger.notice("a reload dropped a runtime flag change; the file's value is in force", metadata: [
                    "flag": "\(item.change.flag)", "scope": "\(item.change.scope)", "runtimeValue": "\(item.change.setting.summary)",
                    "fileValue": "\(item.fileSetting.summary)", "reason": "\(item.reason)",
                ])
            }
            runtimeChanges = changes
            try? flagStore.save(changes)
            if let shared {
                do {
                    try await shared.replace(with: changes)
                } catch {
                    logger.warning("the fleet's runtime flag changes could not be updated", metadata: ["error": "\(error)"])
                }
            }
        }
        return Outcome(generation: snapshot.generation, changed: true, warnings: loaded.warnings, needsRestart: needsRestart,
                       changedSettings: snapshot.config.changesAppliedAtOnce(from: previous), droppedRuntimeFlagChanges: dropped)
    }

    /// Tells the reloader the address the HTTP listener runs on (`api.port: 0` picks a port only
    /// then): a reload whose `api.host` or `api.port` names it has nothing to restart for.
    public func listenerStarted(host: String, port: Int) {
        listening = (host, port)
    }

    /// What a reload to `config` leaves to a restart: what differs from the config this process
    /// started with, but not `api.host` / `api.port` when they name the running listener's.
    private func restartSettings(for config: FleetConfig) -> [String] {
        let listening = self.listening
        return config.changesNeedingRestart(from: startConfig).filter { setting in
            guard let listening else { return true }
            switch setting {
            case "api.host": return config.api.host != listening.host
            case "api.port": return config.api.port != listening.port
            default: return true
            }
        }
    }

    /// One line per environment variable that overrides a value the file sets otherwise, at every
    /// load (start-up and each reload): the variable and the setting, never the value.
    private static func logEnvironmentOverrides(_ loaded: LoadedConfig, logger: Logger) {
        for item in loaded.environmentOverrides {
            logger.notice("an environment variable overrides the config file", metadata: [
                "variable": "\(item.variable)", "setting": "\(item.setting)", "file": "\(loaded.path ?? "(none)")",
            ])
        }
    }

    /// The runtime changes a reload from `oldFile` to `newFile` drops (see ``reload(keepRuntimeFlags:force:)``).
    private func droppedRuntimeChanges(keep: Bool?, oldFile: FeatureFlags, newFile: FeatureFlags) -> [DroppedFlagChange] {
        runtimeChanges.compactMap { change in
            let before = oldFile.setting(change.flag, at: change.scope)
            let after = newFile.setting(change.flag, at: change.scope)
            // Where the edit removed the setting at this scope, the file's global value is what is left.
            let fileSetting = after ?? newFile.global[change.flag] ?? .off
            if keep == true { return nil }
            if keep == false {
                return DroppedFlagChange(change: change, fileSetting: fileSetting,
                                         reason: "the reload was asked to drop runtime flag changes (keepRuntimeFlags=false)")
            }
            guard before != after else { return nil }
            let was = before?.summary ?? "not set"
            let now = after?.summary ?? "not set"
            return DroppedFlagChange(change: change, fileSetting: fileSetting,
                                     reason: "the file's value at \(change.scope) changed in this edit (\(was) → \(now)), so the file's new value wins")
        }
    }

    /// Whether the file's text differs from the last text loaded or rejected (for the file watcher).
    public func fileChanged() -> Bool {
        guard let path else { return false }
        // A `stat` first: the file is read only when its size, time or inode moved.
        let stamp = FileStamp(path: path)
        guard stamp != lastSeenStamp else {
            settlingStamp = nil
            return false
        }
        // A file being saved in place changes between two polls: it is read once it has kept the
        // same size, time and inode for one poll, so that a half-written file that happens to be
        // valid YAML (its last section missing) is never applied. Saves by rename are whole at once.
        guard stamp == settlingStamp else {
            settlingStamp = stamp
            return false
        }
        settlingStamp = nil
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return false }
        if text == lastSeenText { lastSeenStamp = stamp }
        return text != lastSeenText
    }

    /// Changes one flag at runtime and keeps the change across restarts (and, when shared, on
    /// every instance: written to the shared store first, so a change the store refused is not
    /// made here either). Returns the snapshot in force with it.
    public func setFlag(_ flag: String, scope: FlagScope, to setting: FlagSetting) async throws -> Snapshot {
        await beginChange()
        defer { endChange() }
        let change = RuntimeFlagStore.Change(flag: flag, scope: scope, setting: setting)
        // Another process on this data directory (`fleetd mcp` beside `fleetd serve`) may have
        // changed other flags since this one last looked: they are kept, and in force here too.
        let current = shared == nil ? ((try? flagStore.load()) ?? runtimeChanges) : runtimeChanges
        let changes = current.filter { !($0.flag == flag && $0.scope == scope) } + [change]
        // Saved before anything changes, so a change that cannot be kept is not applied either
        // (nor carried in by the next change that can).
        try flagStore.save(changes)
        if let shared {
            do {
                try await shared.put(change)
            } catch {
                try? flagStore.save(runtimeChanges)
                throw error
            }
        }
        do {
            try await commit(Self.apply(changes, to: fileConfig), runtimeChanges: changes)
        } catch {
            // Not in force, so not kept here; the shared store, already written, keeps it until the
            // fleet's next change or reload. The file keeps what it had (another process's changes too).
            try? flagStore.save(current)
            logger.error("a runtime flag change could not be applied; the running config stays", metadata: [
                "flag": "\(flag)", "error": "\(error)",
            ])
            throw error
        }
        runtimeChanges = changes
        return snapshot
    }

    /// Shares runtime flag changes through `shared` from now on, starting from the ones it holds
    /// (they replace this instance's own file of changes).
    public func share(through shared: SharedFlagChanges) async throws {
        self.shared = shared
        try await adoptSharedFlagChanges(try await shared.load())
    }

    /// Takes the fleet's runtime flag changes as this instance's; puts a new snapshot in force
    /// only when they differ from the ones in force.
    public func adoptSharedFlagChanges(_ changes: [RuntimeFlagStore.Change]) async throws {
        await beginChange()
        defer { endChange() }
        guard Self.settings(changes) != Self.settings(runtimeChanges) else { return }
        try flagStore.save(changes)
        do {
            try await commit(Self.apply(changes, to: fileConfig), runtimeChanges: changes)
        } catch {
            try? flagStore.save(runtimeChanges)
            throw error
        }
        runtimeChanges = changes
    }

    /// Every new snapshot, from now on.
    public func updates() -> AsyncStream<Snapshot> {
        let (stream, continuation) = AsyncStream.makeStream(of: Snapshot.self, bufferingPolicy: .bufferingNewest(1))
        let id = UUID()
        listeners[id] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.removeListener(id) }
        }
        return stream
    }

    private func removeListener(_ id: UUID) {
        listeners[id] = nil
    }

    /// Puts `config` in force: through the applier first, then as the snapshot readers see, then
    /// to the listeners. Throws the applier's error, with nothing changed. Called within a change
    /// (``beginChange()``), so the snapshot cannot move while the applier runs.
    func commit(_ config: FleetConfig, runtimeChanges: [RuntimeFlagStore.Change]) async throws {
        let next = Snapshot(config: config, generation: snapshot.generation + 1, loadedAt: Date(), runtimeFlagChanges: runtimeChanges)
        if let applier {
            try await applier.apply(next, replacing: snapshot)
        }
        snapshot = next
        for continuation in listeners.values { continuation.yield(next) }
    }

    /// Waits for the change under way, and those that asked before, to end.
    func beginChange() async {
        guard changing else {
            changing = true
            return
        }
        await withCheckedContinuation { continuation in
            waitingChanges.append(continuation)
        }
    }

    /// Hands the turn to the next change waiting (it stays `changing`), or ends it.
    func endChange() {
        if waitingChanges.isEmpty {
            changing = false
        } else {
            waitingChanges.removeFirst().resume()
        }
    }

    public static func apply(_ changes: [RuntimeFlagStore.Change], to config: FleetConfig) -> FleetConfig {
        var config = config
        for change in changes { config.features = config.features.applying(change) }
        return config
    }
}

/// What `stat` says of a file: enough to see that it changed without reading it.
struct FileStamp: Equatable {
    var size: Int64
    var modified: timespec
    var inode: UInt64

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        size = Int64(info.st_size)
        #if canImport(Darwin)
        modified = info.st_mtimespec
        #else
        modified = info.st_mtim
        #endif
        inode = UInt64(info.st_ino)
    }

    static func == (a: FileStamp, b: FileStamp) -> Bool {
        a.size == b.size && a.inode == b.inode && a.modified.tv_sec == b.modified.tv_sec && a.modified.tv_nsec == b.modified.tv_nsec
    }
}
