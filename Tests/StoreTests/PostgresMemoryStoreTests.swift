import FakeProvider
import FleetSupport
import Foundation
import GRDB
import Logging
import PostgresNIO
import Store
import Testing

/// The memory store on the shared database, seen through two stores (two instances) on it.
@Suite("PostgreSQL memory store: partitions and TTLs shared by every instance", PostgresTestCluster.trait)
struct PostgresMemoryStoreTests {
    struct Note: Codable, Sendable, Equatable {
        var text: String
    }

    static func twoInstances(clock: ManualWallClock,
                             _ body: @escaping @Sendable (MemoryStore, MemoryStore, PostgresConfiguration) async throws -> Void) async throws {
        let database = try await PostgresTestCluster.freshDatabase()
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let fileA = try await StoreDatabase(path: dir.path("a.db")), fileB = try await StoreDatabase(path: dir.path("b.db"))
        let ttls = MemoryStoreConfiguration(partitionTTLOverrides: ["routing/selections": 60])
        try await PostgresTestCluster.withStore(database) { first in
            var second = database
            second.instanceId = "instance-b"
            try await PostgresTestCluster.withStore(second) { other in
                try await body(MemoryStore(database: fileA, configuration: ttls, clock: clock, shared: first),
                               MemoryStore(database: fileB, configuration: ttls, clock: clock, shared: other), database)
            }
        }
    }

    @Test func whatOneInstanceWritesTheOtherReadsUnderTheSameRules() async throws {
        let clock = ManualWallClock(storeTestDate("2026-04-01T10:00:00Z"))
        try await Self.twoInstances(clock: clock) { a, b, database in
            try await a.store(Note(text: "chosen"), partition: "routing/selections", key: "task-1")
            #expect(try await b.retrieve(Note.self, partition: "routing/selections", key: "task-1") == Note(text: "chosen"))
            // Nothing of it is in either instance's SQLite file.
            #expect(try await b.database.read("count") { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM memory_entries") } == 0)
            // The partition's TTL: invisible on every instance once it has passed.
            clock.advance(by: 61)
            #expect(try await b.retrieve(Note.self, partition: "routing/selections", key: "task-1") == nil)
            #expect(try await a.count(partition: "routing/selections") == 0)

            // Prefix and pattern queries, byte-wise order; LIKE's own wildcards are plain characters.
            let keys = ["a%b", "a_b", "aXb", "ab", "b", "a\\b"]
            try await a.storeAll(keys.map { MemoryEntry(partition: "p", key: $0, value: Data("{}".utf8), owner: "system",
                                                        accessLevel: .swarm, createdAt: clock.now, expiresAt: nil) })
            #expect(try await b.query(partition: "p", prefix: "a").map(\.key) == ["a%b", "aXb", "a\\b", "a_b", "ab"])
            #expect(try await b.query(partition: "p", pattern: MemoryPattern("a?b")).map(\.key) == ["a%b", "aXb", "a\\b", "a_b"])
            #expect(try await b.query(partition: "p", pattern: MemoryPattern("a%b")).map(\.key) == ["a%b"])
            #expect(try await b.query(partition: "p", pattern: MemoryPattern("a_*")).map(\.key) == ["a_b"])
            #expect(try await b.query(partition: "p", pattern: MemoryPattern("*b"), limit: 2).map(\.key) == ["a%b", "aXb"])
            #expect(try await b.count(partition: "p", prefix: "a") == 5)

            // Owners and access levels hold across instances.
            try await a.store(Note(text: "mine"), partition: "agents", key: "k", as: .agent("alice"), accessLevel: .private)
            await #expect(throws: StoreError.self) { _ = try await b.retrieve(partition: "agents", key: "k", as: .agent("bob")) }
            await #expect(throws: StoreError.self) { try await b.store(Note(text: "theirs"), partition: "agents", key: "k", as: .agent("bob")) }
            await #expect(throws: StoreError.self) { try await b.delete(partition: "agents", key: "k", as: .agent("bob")) }
            #expect(try await b.query(partition: "agents", prefix: "", as: .agent("bob")).isEmpty)
            #expect(try await b.retrieve(Note.self, partition: "agents", key: "k", as: .agent("alice")) == Note(text: "mine"))
            #expect(try await b.delete(partition: "agents", key: "k", as: .agent("alice")))
            #expect(try await a.retrieve(partition: "agents", key: "k") == nil)

            // A bounded partition keeps its newest entries.
            for n in 0..<5 {
                clock.advance(by: 1)
                try await a.store(Note(text: "\(n)"), partition: "cache", key: "c\(n)", expiry: .never)
            }
            #expect(try await b.evictOldest(partition: "cache", keeping: 2) == 3)
            #expect(try await a.query(partition: "cache", prefix: "").map(\.key) == ["c3", "c4"])
            #expect(try await PostgresTestCluster.number(database, "SELECT count(*) FROM memory_entries WHERE partition = 'cache'") == 2)
        }
    }

    @Test func oneSweeperAtATimeRemovesExpiredEntries() async throws {
        let clock = ManualWallClock(storeTestDate("2026-04-01T10:00:00Z"))
        try await Self.twoInstances(clock: clock) { a, b, database in
            try await a.storeAll((0..<25).map { MemoryEntry(partition: "streaming/sessions", key: "s\($0)", value: Data("{}".utf8), owner: "system",
                                                            accessLevel: .system, createdAt: clock.now, expiresAt: clock.now.addingTimeInterval(5)) })
            try await a.store(Note(text: "kept"), partition: "streaming/sessions", key: "live", expiry: .never)
            clock.advance(by: 6)
            // Another instance is sweeping (it holds the lock): this one leaves the rows alone.
            let holder = try await PostgresTestCluster.connect(database)
            try await holder.query("SELECT pg_advisory_lock(\(0x666C_6565_7464_0003 as Int64))", logger: Logger(label: "test.pg"))
            #expect(try await b.cleanExpired(batchSize: 10) == 0)
            #expect(try await PostgresTestCluster.number(database, "SELECT count(*) FROM memory_entries") == 26)
            try await holder.query("SELECT pg_advisory_unlock(\(0x666C_6565_7464_0003 as Int64))", logger: Logger(label: "test.pg"))
            try await holder.close()
            // Free: in batches of 10, every expired row goes; the live one stays.
            #expect(await ExpiredEntrySweeper(store: b, batchSize: 10, pauseBetweenBatches: .zero).sweepOnce() == 25)
            #expect(try await PostgresTestCluster.number(database, "SELECT count(*) FROM memory_entries") == 1)
            #expect(try await a.retrieve(Note.self, partition: "streaming/sessions", key: "live") == Note(text: "kept"))
        }
    }

    @Test func anUnreachableStoreFailsWritesAndReadsWithAnErrorNamingTheServer() async throws {
        // A port that refuses connections for the whole test (bound, never listening).
        let refusing = try RefusingPort()
        defer { withExtendedLifetime(refusing) {} }
        let port = refusing.port
        let store = PostgresStore(configuration: PostgresConfiguration(host: "127.0.0.1", port: port, database: "x", username: "fleetd",
                                                                       tls: .disable, operationTimeout: .seconds(1)))
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let memory = MemoryStore(database: try await StoreDatabase(path: dir.path()), shared: store)
        let (write, read, swept) = await withTaskGroup(of: (PostgresStoreError?, PostgresStoreError?, Int)?.self) { group in
            group.addTask { try? await store.run(); return nil }
            defer { group.cancelAll() }
            var write: PostgresStoreError?, read: PostgresStoreError?
            do { try await memory.store(Note(text: "x"), partition: "p", key: "k") } catch { write = error as? PostgresStoreError }
            do { _ = try await memory.retrieve(partition: "p", key: "k") } catch { read = error as? PostgresStoreError }
            let swept = await ExpiredEntrySweeper(store: memory).sweepOnce()
            return (write, read, swept)
        }
        #expect(write?.message.contains("127.0.0.1:\(port)") == true)
        #expect(read?.message.contains("127.0.0.1:\(port)") == true)
        #expect(swept == 0, "a failed sweep is logged and retried later")
    }
}

@Suite("PostgreSQL memory store: atomic updates across instances", PostgresTestCluster.trait)
struct PostgresMemoryUpdateTests {
    @Test func concurrentUpdatesFromTwoInstancesAllCount() async throws {
        let clock = ManualWallClock(storeTestDate("2026-04-01T10:00:00Z"))
        try await PostgresMemoryStoreTests.twoInstances(clock: clock) { a, b, _ in
            // 40 increments at once, half through each instance, of an entry that does not exist yet.
            await withTaskGroup(of: Void.self) { group in
                for n in 0..<40 {
                    let store = n.isMultiple(of: 2) ? a : b
                    group.addTask { _ = try? await store.update(Int.self, partition: "routing/learning", key: "cell") { ($0 ?? 0) + 1 } }
                }
            }
            let total = try await b.retrieve(Int.self, partition: "routing/learning", key: "cell")
            #expect(total == 40)
            // A transform that throws changes nothing.
            await #expect(throws: StoreError.self) {
                _ = try await a.update(Int.self, partition: "routing/learning", key: "cell") { _ in throw StoreError(.invalidValue, "no") }
            }
            let after = try await a.retrieve(Int.self, partition: "routing/learning", key: "cell")
            #expect(after == 40)
        }
        // The same on SQLite, in one write transaction.
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let local = MemoryStore(database: try await StoreDatabase(path: dir.path()))
        for _ in 0..<3 { _ = try await local.update(Int.self, partition: "p", key: "k") { ($0 ?? 0) + 1 } }
        #expect(try await local.retrieve(Int.self, partition: "p", key: "k") == 3)
    }
}
