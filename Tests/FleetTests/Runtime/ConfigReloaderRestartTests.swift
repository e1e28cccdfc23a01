import FakeProvider
import Fleet
import Foundation
import Testing

/// What a reload says needs a restart is what the file changed from the config this process
/// started with, whichever reload loaded the change first: the file watcher (a reload that skips
/// unchanged text) often gets there a moment before an operator's `POST /v1/admin/reload`.
@Suite struct ConfigReloaderRestartTests {
    func yaml(port: Int, rateLimitMax: Int) -> String {
        """
        fleet: {id: restart-test, maxAgents: 1}
        agents: [{type: general, count: 1}]
        api: {host: 127.0.0.1, port: \(port), rateLimit: {windowMs: 60000, max: \(rateLimitMax)}}
        """
    }

    /// A fresh directory with the config file (`yaml(port: 0, rateLimitMax: 0)`) in it.
    func makeFile() throws -> (directory: URL, file: URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reloader-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("fleet.yaml")
        try yaml(port: 0, rateLimitMax: 0).write(to: file, atomically: true, encoding: .utf8)
        return (directory, file)
    }

    @Test func aPortChangeIsNamedByEveryReloadUntilTheRestartEvenAfterTheWatcherLoadedIt() async throws {
        let (directory, file) = try makeFile()
        defer { try? FileManager.default.removeItem(at: directory) }
        let reloader = try ConfigReloader(loaded: try ConfigLoader.load(path: file.path, environment: [:]), environment: [:])

        try yaml(port: 18_099, rateLimitMax: 2).write(to: file, atomically: true, encoding: .utf8)
        let watcher = try await reloader.reload(force: false)
        #expect(watcher.changed)
        #expect(watcher.needsRestart == ["api.port"])
        // The operator's reload, a moment later: the file's text is already loaded.
        let admin = try await reloader.reload()
        #expect(admin.needsRestart == ["api.port"], "the port still differs from the one this process listens on")
        #expect(await reloader.snapshot.config.api.rateLimit.max == 2)

        // Back to the port it started with: nothing needs a restart any more.
        try yaml(port: 0, rateLimitMax: 2).write(to: file, atomically: true, encoding: .utf8)
        #expect(try await reloader.reload().needsRestart == [])
    }

    /// A reload compares `api.port` with the port the listener runs on, not only with the file's
    /// first value: with `api.port: 0` the listener picked 43210, and a file that now names 43210
    /// has nothing to restart for. The one warning a reload logs names what still differs; before,
    /// the applier compared with the last config loaded, so setting the port back warned again.
    @Test func aPortSetToTheListenersOwnIsNotARestartToDo() async throws {
        let (directory, file) = try makeFile()
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = LogCapture()
        let reloader = try ConfigReloader(loaded: try ConfigLoader.load(path: file.path, environment: [:]), environment: [:],
                                          logger: log.logger)
        await reloader.listenerStarted(host: "127.0.0.1", port: 43_210)

        try yaml(port: 43_210, rateLimitMax: 1).write(to: file, atomically: true, encoding: .utf8)
        let listenersPort = try await reloader.reload()
        #expect(listenersPort.needsRestart == [], "the file names the port fleetd listens on")

        try yaml(port: 18_099, rateLimitMax: 1).write(to: file, atomically: true, encoding: .utf8)
        let otherPort = try await reloader.reload()
        #expect(otherPort.needsRestart == ["api.port"])

        // Back to the listener's port, then to the file's first value: nothing to restart for either.
        try yaml(port: 43_210, rateLimitMax: 2).write(to: file, atomically: true, encoding: .utf8)
        let back = try await reloader.reload()
        #expect(back.needsRestart == [])
        try yaml(port: 0, rateLimitMax: 2).write(to: file, atomically: true, encoding: .utf8)
        let first = try await reloader.reload()
        #expect(first.needsRestart == [])

        let warnings = log.all.filter { $0.contains("apply only after a restart") }
        #expect(warnings.count == 1 && warnings.first?.contains("api.port") == true, "one warning, for 18099: \(log.all)")
    }

    /// `fleetd serve --port` wins over the file at every reload as at start-up: before, every reload
    /// named `api.port` as needing a restart, and a restart changed nothing.
    @Test func aCommandLinePortIsNotARestartToDo() async throws {
        let (directory, file) = try makeFile()
        defer { try? FileManager.default.removeItem(at: directory) }
        let reloader = try ConfigReloader(loaded: try ConfigLoader.load(path: file.path, environment: [:]), environment: [:],
                                          listenOverride: .init(host: "127.0.0.2", port: 9_000))
        #expect(await reloader.snapshot.config.api.port == 9_000)
        try yaml(port: 0, rateLimitMax: 2).write(to: file, atomically: true, encoding: .utf8)
        let outcome = try await reloader.reload()
        #expect(outcome.needsRestart == [])
        let api = await reloader.snapshot.config.api
        #expect(api.port == 9_000 && api.host == "127.0.0.2")
        // And drainTimeoutSeconds, read once at start-up, is named when it changes.
        try (yaml(port: 0, rateLimitMax: 2).replacingOccurrences(of: "port: 0,", with: "port: 0, drainTimeoutSeconds: 5,"))
            .write(to: file, atomically: true, encoding: .utf8)
        #expect(try await reloader.reload().needsRestart == ["api.drainTimeoutSeconds"])
    }

    /// A flag change that cannot be saved is not applied, and is not carried in by the next change
    /// that can be (before, it was applied in memory first and published with the next one).
    @Test func aFlagChangeThatCannotBeSavedIsNotApplied() async throws {
        let (directory, file) = try makeFile()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = directory.appendingPathComponent("runtime-flags.json")
        let reloader = try ConfigReloader(loaded: try ConfigLoader.load(path: file.path, environment: [:]), environment: [:],
                                          flagStore: RuntimeFlagStore(url: store))
        // The data directory cannot take the file: a directory stands where it goes.
        try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: store.appendingPathComponent("x"), withIntermediateDirectories: true)
        await #expect(throws: (any Error).self) { try await reloader.setFlag("multiRegion", scope: .global, to: FlagSetting(enabled: true)) }
        #expect(await reloader.snapshot.config.features.setting("multiRegion", at: .global)?.enabled != true)
        try FileManager.default.removeItem(at: store)
        _ = try await reloader.setFlag("mcpTools", scope: .global, to: FlagSetting(enabled: true))
        let features = await reloader.snapshot.config.features
        #expect(features.setting("mcpTools", at: .global)?.enabled == true)
        #expect(features.setting("multiRegion", at: .global)?.enabled != true, "the refused change came in with the next one")
        #expect(try RuntimeFlagStore(url: store).load().map(\.flag) == ["mcpTools"])
    }
}
