import FakeProvider
import Foundation
import GRDB
import Store
import Testing

@Suite("WAL checkpoints off the write path")
struct WALCheckpointerTests {
    private func autocheckpoint(_ db: StoreDatabase) async throws -> Int {
        try await db.pool.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA wal_autocheckpoint") ?? -1 }
    }

    @Test func checkpointsInTheBackgroundAndHandsBackWhenStopped() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        let store = MemoryStore(database: db)
        #expect(try await autocheckpoint(db) == 1000)

        let checkpointer = WALCheckpointer(database: db, interval: .milliseconds(20), restartFrames: 50)
        let running = Task { try await checkpointer.run() }
        // The writer stops checkpointing on commit as soon as the service runs.
        var off = false
        for _ in 0..<200 where !off {
            off = try await autocheckpoint(db) == 0
            if !off { try await Task.sleep(for: .milliseconds(5)) }
        }
        #expect(off)

        // Until a checkpoint copies them, new pages live only in the WAL: the database file
        // grows only because the service checkpointed.
        let size = { (file: String) in (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? -1 }
        let before = size(dir.path())
        let value = String(repeating: "x", count: 3_000)
        for i in 0..<600 {
            try await store.store(value, partition: "test/wal", key: "k\(i)")
        }
        var grown = 0
        for _ in 0..<100 where grown < 1_500_000 {
            try await Task.sleep(for: .milliseconds(20))
            grown = size(dir.path()) - before
        }
        #expect(grown >= 1_500_000)
        #expect(size(dir.path() + "-wal") <= 64 << 20)

        running.cancel()
        _ = try? await running.value
        #expect(try await autocheckpoint(db) == 1000)
        #expect(try await store.count(partition: "test/wal", prefix: "") == 600)
    }

    @Test("a checkpoint that finds the writer busy is retried; a warning comes only when three fail in a row, a notice when they run again")
    func failuresInARow() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        let store = MemoryStore(database: db)
        let capture = LogCapture()
        let checkpointer = WALCheckpointer(database: db, interval: .milliseconds(20), restartFrames: 1, busyTimeout: 0.01, logger: capture.logger)
        let running = Task { try await checkpointer.run() }
        defer { running.cancel() }
        for i in 0..<20 { try await store.store(String(repeating: "x", count: 2_000), partition: "test/wal", key: "k\(i)") }
        // The writer holds its lock until the warning came (every RESTART checkpoint meanwhile
        // fails), and a few intervals more, on a slow machine at most 20 s.
        let deadline = Date().addingTimeInterval(20)
        try await db.pool.write { db in
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS held (x INTEGER)")
            try db.execute(sql: "INSERT INTO held VALUES (1)")
            while !capture.all.contains(where: { $0.hasPrefix("warning") }), Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            Thread.sleep(forTimeInterval: 0.1)
        }
        var lines = capture.all
        while !lines.contains(where: { $0.hasPrefix("notice WAL checkpoints run again") }), Date() < deadline {
            try await Task.sleep(for: .milliseconds(10))
            lines = capture.all
        }
        let warnings = lines.filter { $0.hasPrefix("warning") }
        #expect(warnings.count == 1 && warnings.first?.contains("WAL checkpoints keep failing") == true, "\(lines)")
        #expect(lines.filter { $0.hasPrefix("debug WAL checkpoint failed") }.count >= 2, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("notice WAL checkpoints run again") }, "\(lines)")
    }
}
