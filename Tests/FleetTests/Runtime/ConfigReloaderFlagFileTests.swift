import Fleet
import Foundation
import Testing

/// Two fleetd processes on one data directory (`fleetd mcp` beside `fleetd serve`) share the file
/// of runtime flag changes: a change one makes is in force in the other at its next poll, and
/// neither's change drops the other's.
@Suite struct ConfigReloaderFlagFileTests {
    static let yaml = """
        fleet: {id: flag-file-test, maxAgents: 1}
        agents: [{type: general, count: 1}]
        api: {host: 127.0.0.1, port: 0}
        features: {streaming: true, mcpTools: false}
        """

    @Test func aChangeOneProcessMakesIsInForceInTheOtherAndNeitherDropsTheOthers() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flag-file-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("fleet.yaml")
        try Self.yaml.write(to: file, atomically: true, encoding: .utf8)
        let flags = directory.appendingPathComponent("runtime-flags.json")
        func process() throws -> ConfigReloader {
            try ConfigReloader(loaded: try ConfigLoader.load(path: file.path, environment: [:]), environment: [:],
                               flagStore: RuntimeFlagStore(url: flags))
        }
        let serve = try process(), mcp = try process()
        #expect(try await serve.adoptFlagFileChanges() == false, "nothing changed yet")

        _ = try await mcp.setFlag("streaming", scope: .global, to: .off)
        #expect(try await serve.adoptFlagFileChanges())
        #expect(await serve.snapshot.config.features.setting("streaming", at: .global)?.enabled == false)
        #expect(try await serve.adoptFlagFileChanges() == false, "taken in once")

        // serve's own change keeps mcp's; mcp takes serve's in and keeps its own.
        _ = try await serve.setFlag("mcpTools", scope: .global, to: .on)
        #expect(try await mcp.adoptFlagFileChanges())
        for reloader in [serve, mcp] {
            let features = await reloader.snapshot.config.features
            #expect(features.setting("streaming", at: .global)?.enabled == false)
            #expect(features.setting("mcpTools", at: .global)?.enabled == true)
        }
        // A change made before the other process polled still keeps the other's (read from the file).
        _ = try await mcp.setFlag("streaming", scope: .global, to: .on)
        _ = try await serve.setFlag("mcpTools", scope: .global, to: .off)
        let features = await serve.snapshot.config.features
        #expect(features.setting("streaming", at: .global)?.enabled == true, "mcp's change, taken from the file by serve's own")
        #expect(features.setting("mcpTools", at: .global)?.enabled == false)
        #expect(Set(try RuntimeFlagStore(url: flags).load().map(\.flag)) == ["streaming", "mcpTools"])

        // A broken file is an error once, and the running flags stay.
        try Data("{not json".utf8).write(to: flags)
        await #expect(throws: RuntimeFlagStoreError.self) { try await serve.adoptFlagFileChanges() }
        #expect(try await serve.adoptFlagFileChanges() == false, "reported once, not at every poll")
        #expect(await serve.snapshot.config.features.setting("streaming", at: .global)?.enabled == true)
    }
}
