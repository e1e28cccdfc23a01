import Foundation
import Testing
@testable import Fleet

/// A reload (or flag change) returns once its ``ConfigApplier`` has put the config in force, a
/// config the applier refuses is not taken, and changes run one at a time in the order they came.
@Suite("ConfigReloader applies before it answers", .timeLimit(.minutes(1)))
struct ConfigReloaderApplyTests {
    func yaml(maxAgents: Int, streaming: Bool) -> String {
        """
        fleet: {id: apply-test, maxAgents: \(maxAgents)}
        agents: [{type: general, count: 1}]
        features: {streaming: \(streaming)}
        """
    }

    /// A reloader on a fresh file holding `yaml(maxAgents: 1, streaming: false)`.
    func makeReloader() throws -> (reloader: ConfigReloader, directory: URL, file: URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reloader-apply-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("fleet.yaml")
        try yaml(maxAgents: 1, streaming: false).write(to: file, atomically: true, encoding: .utf8)
        let reloader = try ConfigReloader(loaded: try ConfigLoader.load(path: file.path, environment: [:]), environment: [:])
        return (reloader, directory, file)
    }

    @Test("the reload returns after the applier put its config in force, and names what changed")
    func reloadReturnsOnceApplied() async throws {
        let (reloader, directory, file) = try makeReloader()
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = ApplyLog()
        await reloader.setApplier(SlowApplier(log: log))

        try yaml(maxAgents: 2, streaming: true).write(to: file, atomically: true, encoding: .utf8)
        let outcome = try await reloader.reload()
        // The applier sleeps before it records: a reload that only handed the config over (to a
        // stream a follower reads later) returns before this is written.
        #expect(await log.applied == [outcome.generation])
        #expect(await reloader.snapshot.generation == outcome.generation)
        #expect(outcome.changedSettings == ["features", "fleet"], "\(outcome.changedSettings)")

        // The same text again: reloaded, nothing a reload applies changed.
        let again = try await reloader.reload()
        #expect(again.changedSettings == [])
        #expect(await log.applied == [outcome.generation, again.generation])
    }

    @Test("a config the applier refuses is not taken: the reload throws and the running config stays")
    func refusedConfigIsNotTaken() async throws {
        let (reloader, directory, file) = try makeReloader()
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = ApplyLog()
        await reloader.setApplier(SlowApplier(log: log, refusedMaxAgents: 3))
        _ = try await reloader.setFlag("mcpTools", scope: .global, to: FlagSetting(enabled: true))
        let before = await reloader.snapshot

        try yaml(maxAgents: 3, streaming: true).write(to: file, atomically: true, encoding: .utf8)
        await #expect(throws: ConfigApplyError.self) { try await reloader.reload() }
        let after = await reloader.snapshot
        #expect(after.generation == before.generation)
        #expect(after.config.fleet.maxAgents == 1)
        #expect(after.config.features.setting("streaming", at: .global)?.enabled == false)
        #expect(after.runtimeFlagChanges.map(\.flag) == ["mcpTools"], "a refused reload clears no runtime change")
        #expect(await log.applied == [before.generation])

        // The next valid file goes in, as the next generation.
        try yaml(maxAgents: 2, streaming: true).write(to: file, atomically: true, encoding: .utf8)
        let outcome = try await reloader.reload()
        #expect(outcome.generation == before.generation + 1)
        #expect(await reloader.snapshot.config.fleet.maxAgents == 2)
    }

    @Test("reloads and flag changes made at once are applied one at a time, each generation once and in order")
    func changesRunOneAtATime() async throws {
        let (reloader, directory, file) = try makeReloader()
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = ApplyLog()
        await reloader.setApplier(SlowApplier(log: log, delay: .milliseconds(20)))
        try yaml(maxAgents: 2, streaming: true).write(to: file, atomically: true, encoding: .utf8)

        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<4 {
                group.addTask { _ = try await reloader.reload() }
                group.addTask { _ = try await reloader.setFlag("mcpTools", scope: .global, to: FlagSetting(enabled: index % 2 == 0)) }
            }
            try await group.waitForAll()
        }
        #expect(await log.mostAtOnce == 1, "two changes were applied at the same time")
        let applied = await log.applied
        #expect(applied == Array(2...9), "\(applied)")
        #expect(await reloader.snapshot.generation == 9)
    }

    @Test("the fleet manager refuses a config whose cost settings it cannot take, and keeps the one it runs")
    func managerRefusesWhatItCannotApply() async throws {
        let fleet = try await FleetHarness.start(RuntimeConfig.builtin([("general", 1)]))
        defer { fleet.stop() }
        var next = await fleet.reloader.snapshot
        let generation = await fleet.manager.generation
        next.generation = generation + 1
        next.config.fleet.maxAgents = 7
        next.config.cost.budgetLimits.daily = -1
        await #expect(throws: ConfigApplyError.self) { try await fleet.manager.apply(next) }
        #expect(await fleet.manager.generation == generation)
        #expect(await fleet.manager.config.fleet.maxAgents != 7)
    }
}

/// What a ``SlowApplier`` applied, and the most applications that ran at once.
private actor ApplyLog {
    private(set) var applied: [Int] = []
    private(set) var mostAtOnce = 0
    private var running = 0

    func begin() {
        running += 1
        mostAtOnce = max(mostAtOnce, running)
    }

    func end(applied generation: Int?) {
        running -= 1
        if let generation { applied.append(generation) }
    }
}

/// Takes `delay` to apply each config; refuses one whose `fleet.maxAgents` is `refusedMaxAgents`.
private struct SlowApplier: ConfigApplier {
    let log: ApplyLog
    var delay: Duration = .milliseconds(50)
    var refusedMaxAgents: Int?

    func apply(_ next: ConfigReloader.Snapshot, replacing current: ConfigReloader.Snapshot) async throws {
        await log.begin()
        try? await Task.sleep(for: delay)
        if next.config.fleet.maxAgents == refusedMaxAgents {
            await log.end(applied: nil)
            throw ConfigApplyError("refused by the test")
        }
        await log.end(applied: next.generation)
    }
}
