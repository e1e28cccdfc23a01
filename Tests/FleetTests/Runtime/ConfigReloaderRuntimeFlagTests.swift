import Fleet
import Foundation
import Testing

/// A reload from the file keeps runtime flag changes (a kill switch stays off through an unrelated
/// edit), except a change to a flag whose value at that scope the edit changed: the file wins there.
@Suite struct ConfigReloaderRuntimeFlagTests {
    func yaml(streaming: String = "true", rateLimitMax: Int = 0) -> String {
        """
        fleet: {id: runtime-flag-test, maxAgents: 1}
        agents: [{type: general, count: 1}]
        api: {host: 127.0.0.1, port: 0, rateLimit: {windowMs: 60000, max: \(rateLimitMax)}}
        features: {streaming: \(streaming)}
        """
    }

    /// A reloader on a fresh file (`text`) with a file of runtime changes beside it.
    func makeReloader(_ text: String) throws -> (reloader: ConfigReloader, directory: URL, file: URL, store: RuntimeFlagStore) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("runtime-flags-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("fleet.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let store = RuntimeFlagStore(url: directory.appendingPathComponent("runtime-flags.json"))
        let reloader = try ConfigReloader(loaded: try ConfigLoader.load(path: file.path, environment: [:]), environment: [:], flagStore: store)
        return (reloader, directory, file, store)
    }

    @Test func aKillSwitchSurvivesAReloadOfAnUnrelatedEdit() async throws {
        let (reloader, directory, file, store) = try makeReloader(yaml())
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try await reloader.setFlag("streaming", scope: .global, to: .off)

        try yaml(rateLimitMax: 5).write(to: file, atomically: true, encoding: .utf8)
        let outcome = try await reloader.reload(force: false) // as the file watcher reloads
        #expect(outcome.changed)
        #expect(outcome.droppedRuntimeFlagChanges.isEmpty)
        let snapshot = await reloader.snapshot
        #expect(snapshot.config.api.rateLimit.max == 5)
        #expect(snapshot.config.features.setting("streaming", at: .global)?.enabled == false, "the kill switch stays off")
        #expect(snapshot.runtimeFlagChanges.map(\.flag) == ["streaming"])
        #expect(try store.load().map(\.flag) == ["streaming"])
    }

    @Test func anEditOfTheFlagItselfWinsOverItsRuntimeChangeOnly() async throws {
        let (reloader, directory, file, store) = try makeReloader(yaml())
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try await reloader.setFlag("streaming", scope: .global, to: .off)
        _ = try await reloader.setFlag("mcpTools", scope: .global, to: .on)

        try yaml(streaming: "{enabled: true, rollout: {percentage: 50}}").write(to: file, atomically: true, encoding: .utf8)
        let outcome = try await reloader.reload()
        #expect(outcome.droppedRuntimeFlagChanges.map(\.change.flag) == ["streaming"])
        #expect(outcome.droppedRuntimeFlagChanges.first?.fileSetting.rollout?.percentage == 50)
        #expect(outcome.droppedRuntimeFlagChanges.first?.reason.contains("changed in this edit") == true)
        let snapshot = await reloader.snapshot
        #expect(snapshot.config.features.setting("streaming", at: .global)?.rollout?.percentage == 50)
        #expect(snapshot.runtimeFlagChanges.map(\.flag) == ["mcpTools"])
        #expect(try store.load().map(\.flag) == ["mcpTools"])
    }

    @Test func anExplicitReloadKeepsEveryRuntimeChangeOrDropsEveryOne() async throws {
        let (reloader, directory, file, _) = try makeReloader(yaml())
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try await reloader.setFlag("streaming", scope: .global, to: .off)
        try yaml(streaming: "false").write(to: file, atomically: true, encoding: .utf8)
        #expect(try await reloader.reload(keepRuntimeFlags: true).droppedRuntimeFlagChanges.isEmpty)
        #expect(await reloader.snapshot.runtimeFlagChanges.count == 1)
        let dropped = try await reloader.reload(keepRuntimeFlags: false).droppedRuntimeFlagChanges
        #expect(dropped.map(\.change.flag) == ["streaming"])
        #expect(await reloader.snapshot.runtimeFlagChanges.isEmpty)
    }

    /// After a restart the change comes back from runtime-flags.json: its rule says it is a
    /// runtime change, not the file's global value.
    @Test func aRestoredRuntimeChangeIsShownAsOne() async throws {
        let (reloader, directory, file, store) = try makeReloader(yaml())
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try await reloader.setFlag("streaming", scope: .global, to: .off)

        let restarted = try ConfigReloader(loaded: try ConfigLoader.load(path: file.path, environment: [:]), environment: [:], flagStore: store)
        let global = await restarted.snapshot.config.features.evaluate("streaming", in: FlagContext())
        #expect(global.rule == "runtime change (PUT /v1/flags): off")
        _ = try await restarted.setFlag("streaming", scope: .agentType("general"), to: .on)
        let typed = await restarted.snapshot.config.features.evaluate("streaming", in: FlagContext(agentType: "general"))
        #expect(typed.rule == "runtime change (PUT /v1/flags) for agent type 'general': on")
        // The file's own values keep their plain rule.
        let fileRule = try ConfigLoader.load(path: file.path, environment: [:]).config.features.evaluate("streaming", in: FlagContext()).rule
        #expect(fileRule == "global: on")
    }
}
