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

    @Test func aPortChangeIsNamedByEveryReloadUntilTheRestartEvenAfterTheWatcherLoadedIt() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reloader-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("fleet.yaml")
        try yaml(port: 0, rateLimitMax: 0).write(to: file, atomically: true, encoding: .utf8)
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
}
