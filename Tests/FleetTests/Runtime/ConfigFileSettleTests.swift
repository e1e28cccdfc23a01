import Fleet
import Foundation
import Testing

/// The file watcher reads a changed file only once it has stopped changing for one poll: a file
/// saved in place, caught while half written but valid YAML (its last section missing), is not
/// applied.
@Suite struct ConfigFileSettleTests {
    @Test func aChangedFileIsReadOnceItHasStoppedChanging() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("settle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("fleet.yaml")
        let whole = "fleet: {id: settle, maxAgents: 1}\nagents: [{type: general, count: 1}]\nlogging: {level: info}\n"
        try whole.write(to: file, atomically: true, encoding: .utf8)
        let reloader = try ConfigReloader(loaded: try ConfigLoader.load(path: file.path, environment: [:]), environment: [:])
        #expect(await reloader.fileChanged() == false, "nothing changed")

        // Written in place in two steps: the first poll sees the half, the second the rest.
        let handle = try FileHandle(forWritingTo: file)
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data("fleet: {id: settle, maxAgents: 1}\n".utf8))
        #expect(await reloader.fileChanged() == false, "a change is not read at the poll that first sees it")
        try await Task.sleep(for: .milliseconds(20)) // a later modification time
        try handle.write(contentsOf: Data("agents: [{type: general, count: 1}]\nlogging: {level: debug}\n".utf8))
        try handle.close()
        #expect(await reloader.fileChanged() == false, "still changing: not read")
        #expect(await reloader.fileChanged() == true, "unchanged for one poll: read")
        let outcome = try await reloader.reload(force: false)
        let level = await reloader.snapshot.config.logging.level
        #expect(outcome.changed && level == .debug)
    }
}
