import Foundation
import GRDB
import Store
import Testing

/// A batch the store refuses is kept and written once the store takes writes again; a newer
/// record for the same address wins; what is kept stays bounded.
@Suite struct WriteBehindRefusalTests {
    struct Note: Codable, Sendable, Equatable { var text: String }

    /// The store refuses every memory write until the trigger goes (as a lost disk or server would).
    static func refuseWrites(_ database: StoreDatabase) async throws {
        try await database.write("test: refuse memory writes") { db in
            try db.execute(sql: """
                CREATE TRIGGER refuse_memory BEFORE INSERT ON memory_entries
                BEGIN SELECT RAISE(ABORT, 'test: the store is away'); END
                """)
        }
    }

    static func acceptWrites(_ database: StoreDatabase) async throws {
        try await database.write("test: accept memory writes") { db in try db.execute(sql: "DROP TRIGGER refuse_memory") }
    }

    @Test func aRefusedBatchIsWrittenWhenTheStoreReturns() async throws {
        let directory = try StoreTempDirectory()
        defer { directory.remove() }
        let database = try await StoreDatabase(path: directory.path())
        let store = MemoryStore(database: database)
        let recorder = WriteBehindRecorder(store: store, batchSize: 4, capacity: 8, interval: .seconds(3600))

        try await Self.refuseWrites(database)
        try await recorder.enqueue(Note(text: "a1"), partition: "notes", key: "a", owner: "system", accessLevel: .system)
        try await recorder.enqueue(Note(text: "b1"), partition: "notes", key: "b", owner: "system", accessLevel: .system)
        await recorder.flush()
        #expect(try await store.count(partition: "notes") == 0, "the store refused the batch")

        // A newer record for "a" arrives while the old one waits for a retry: the newer wins.
        try await recorder.enqueue(Note(text: "a2"), partition: "notes", key: "a", owner: "system", accessLevel: .system)
        try await Self.acceptWrites(database)
        await recorder.flush()
        #expect(try await store.retrieve(Note.self, partition: "notes", key: "a") == Note(text: "a2"))
        #expect(try await store.retrieve(Note.self, partition: "notes", key: "b") == Note(text: "b1"), "the refused record is kept, not lost")
    }

    @Test func whatARefusingStoreLeavesIsBoundedOldestFirst() async throws {
        let directory = try StoreTempDirectory()
        defer { directory.remove() }
        let database = try await StoreDatabase(path: directory.path())
        let store = MemoryStore(database: database)
        let recorder = WriteBehindRecorder(store: store, batchSize: 2, capacity: 4, interval: .seconds(3600))

        try await Self.refuseWrites(database)
        for index in 0..<6 {
            try await recorder.enqueue(Note(text: "n\(index)"), partition: "notes", key: "k\(index)", owner: "system", accessLevel: .system)
            await recorder.flush()
        }
        try await Self.acceptWrites(database)
        await recorder.flush()
        let kept = try await store.query(partition: "notes", prefix: "").map(\.key).sorted()
        #expect(kept == ["k2", "k3", "k4", "k5"], "capacity 4: the two oldest went")
    }

    /// A reader's flush while the periodic flush's batch is still being written waits for it: what
    /// was queued before the reader's flush is in the store when it returns.
    @Test func aFlushReturnsOnlyOnceAnEarlierFlushsBatchIsWritten() async throws {
        let directory = try StoreTempDirectory()
        defer { directory.remove() }
        let database = try await StoreDatabase(path: directory.path())
        let store = MemoryStore(database: database)
        let recorder = WriteBehindRecorder(store: store, batchSize: 4, capacity: 8, interval: .seconds(3600))
        try await recorder.enqueue(Note(text: "queued"), partition: "notes", key: "a", owner: "system", accessLevel: .system)
        try holdWriteLock(at: directory.path(), for: 0.5) // another process holds the write lock
        let first = Task { await recorder.flush() } // takes the record, then waits for the lock
        try await Task.sleep(for: .milliseconds(100))
        await recorder.flush()
        #expect(try await store.retrieve(Note.self, partition: "notes", key: "a") == Note(text: "queued"))
        await first.value
    }
}
