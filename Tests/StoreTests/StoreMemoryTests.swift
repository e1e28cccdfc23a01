import FleetSupport
import Foundation
import GRDB
import Store
import Testing

@Suite("MemoryStore: TTL, queries, access")
struct StoreMemoryTests {
    struct Fixture {
        let dir: StoreTempDirectory
        let database: StoreDatabase
        let clock: ManualWallClock
        let store: MemoryStore

        init(configuration: MemoryStoreConfiguration = MemoryStoreConfiguration(), label: String = #function) async throws {
            dir = try StoreTempDirectory(label)
            database = try await StoreDatabase(path: dir.path())
            clock = ManualWallClock()
            store = MemoryStore(database: database, configuration: configuration, clock: clock)
        }

        func rowCount() async throws -> Int {
            try await database.read("test") { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM memory_entries") ?? -1 }
        }
    }

    @Test func partitionDefaultsFollowSeed001() {
        let config = MemoryStoreConfiguration()
        #expect(config.ttl(forPartition: "routing/costs") == TimeInterval(30 * 86_400))
        #expect(config.ttl(forPartition: "routing/selections") == TimeInterval(7 * 86_400))
        #expect(config.ttl(forPartition: "routing/stats") == nil)
        #expect(config.ttl(forPartition: "streaming/sessions") == 3_600)
        #expect(config.ttl(forPartition: "streaming/buffer") == 300)
        #expect(config.ttl(forPartition: "streaming/metadata") == 86_400)
        #expect(config.ttl(forPartition: "performance/router") == TimeInterval(7 * 86_400))
        #expect(config.ttl(forPartition: "performance/streaming/x") == TimeInterval(7 * 86_400))
        #expect(config.ttl(forPartition: "elsewhere") == nil)
        let custom = MemoryStoreConfiguration(partitionTTLOverrides: ["streaming/buffer": 60, "routing/costs": 0], defaultTTL: 10)
        #expect(custom.ttl(forPartition: "streaming/buffer") == 60)
        #expect(custom.ttl(forPartition: "routing/costs") == nil)
        #expect(custom.ttl(forPartition: "elsewhere") == 10)
        #expect(custom.ttl(forPartition: "streaming/sessions") == 3_600)
        // A wildcard from the config wins over the defaults of the partitions under it.
        let shorter = MemoryStoreConfiguration(partitionTTLOverrides: ["streaming/*": 600, "cache/*": 300])
        #expect(shorter.ttl(forPartition: "streaming/sessions") == 600 && shorter.ttl(forPartition: "streaming/metadata") == 600)
        #expect(shorter.ttl(forPartition: "cache/responses") == 300)
        #expect(shorter.ttl(forPartition: "routing/costs") == TimeInterval(30 * 86_400))
    }

    @Test func expiredEntriesVanishAtOnceAndTheSweepRemovesThem() async throws {
        let f = try await Fixture()
        defer { f.dir.remove() }
        try await f.store.store("chunk", partition: "streaming/buffer", key: "s1/0")           // 5 min
        try await f.store.store("session", partition: "streaming/sessions", key: "s1")        // 1 h
        try await f.store.store("short", partition: "routing/stats", key: "t", expiry: .after(10))
        try await f.store.store("forever", partition: "routing/stats", key: "f")              // never
        #expect(try await f.store.retrieve(String.self, partition: "streaming/buffer", key: "s1/0") == "chunk")

        f.clock.advance(by: 10)
        #expect(try await f.store.retrieve(partition: "routing/stats", key: "t") == nil)
        #expect(try await f.store.count(partition: "routing/stats") == 1)
        f.clock.advance(by: 290)
        #expect(try await f.store.retrieve(partition: "streaming/buffer", key: "s1/0") == nil)
        #expect(try await f.store.query(partition: "streaming/buffer", prefix: "s1").isEmpty)
        #expect(try await f.store.retrieve(String.self, partition: "streaming/sessions", key: "s1") == "session")
        #expect(try await f.rowCount() == 4) // invisible, not yet deleted

        #expect(try await f.store.cleanExpired() == 2)
        #expect(try await f.rowCount() == 2)
        f.clock.advance(by: 3_600)
        #expect(try await f.store.cleanExpired() == 1)
        #expect(try await f.store.retrieve(String.self, partition: "routing/stats", key: "f") == "forever")
    }

    @Test func sweeperServiceDeletesInBatchesUntilDone() async throws {
        let f = try await Fixture()
        defer { f.dir.remove() }
        for i in 0..<35 { try await f.store.store(i, partition: "streaming/buffer", key: "s/\(i)") }
        for i in 0..<5 { try await f.store.store(i, partition: "routing/stats", key: "keep/\(i)") }
        f.clock.advance(by: 301)
        let sweeper = ExpiredEntrySweeper(store: f.store, interval: .milliseconds(20), batchSize: 10, pauseBetweenBatches: .milliseconds(1))
        #expect(await sweeper.sweepOnce() == 35)
        #expect(try await f.rowCount() == 5)

        // As a running service: it sweeps on its own and stops when cancelled.
        for i in 0..<12 { try await f.store.store(i, partition: "streaming/buffer", key: "t/\(i)") }
        f.clock.advance(by: 301)
        let running = Task { try await sweeper.run() }
        var rows = try await f.rowCount()
        for _ in 0..<200 where rows != 5 {
            try await Task.sleep(for: .milliseconds(10))
            rows = try await f.rowCount()
        }
        running.cancel()
        try await running.value
        #expect(rows == 5)
    }

    @Test func prefixAndPatternQueriesMatchWildcardsAndQuotesLiterally() async throws {
        let f = try await Fixture()
        defer { f.dir.remove() }
        let keys = ["a%b", "a%bc", "a_b", "axb", "a'b", "a\"b", "ab", "AB", "a*b", "a[b", "a\\b", "ä/1", "b"]
        for key in keys { try await f.store.store(key, partition: "routing/stats", key: key) }
        func prefix(_ p: String) async throws -> [String] {
            try await f.store.query(partition: "routing/stats", prefix: p).map(\.key)
        }
        func pattern(_ p: String) async throws -> [String] {
            try await f.store.query(partition: "routing/stats", pattern: try MemoryPattern(p)).map(\.key)
        }
        #expect(try await prefix("a%") == ["a%b", "a%bc"])
        #expect(try await prefix("a_") == ["a_b"])
        #expect(try await prefix("a'") == ["a'b"])
        #expect(try await prefix("a\"") == ["a\"b"])
        #expect(try await prefix("a[") == ["a[b"])
        #expect(try await prefix("a\\") == ["a\\b"])
        #expect(try await prefix("ä") == ["ä/1"])
        #expect(try await prefix("A") == ["AB"])
        #expect(try await prefix("") .count == keys.count)
        #expect(try await f.store.count(partition: "routing/stats", prefix: "a%") == 2)

        #expect(try await pattern("a?b") == ["a\"b", "a%b", "a'b", "a*b", "a[b", "a\\b", "a_b", "axb"])
        #expect(try await pattern("a%*") == ["a%b", "a%bc"])
        #expect(try await pattern("a\\*b") == ["a*b"])
        #expect(try await pattern("a[b") == ["a[b"])
        #expect(try await pattern("*'*") == ["a'b"])
        #expect(try await pattern("a_b") == ["a_b"])
        #expect(try await pattern("a\\\\b") == ["a\\b"])
        #expect(throws: StoreError.self) { try MemoryPattern("trailing\\") }
    }

    @Test func accessLevelsDenyWrongReaders() async throws {
        let f = try await Fixture()
        defer { f.dir.remove() }
        let alice = MemoryReader.agent("alice"), bob = MemoryReader.agent("bob")
        try await f.store.store("mine", partition: "routing/stats", key: "private", as: alice, accessLevel: .private)
        try await f.store.store("fleet", partition: "routing/selections", key: "task-1", as: alice, accessLevel: .swarm)
        try await f.store.store(1.5, partition: "routing/costs", key: "daily/x", as: .system, accessLevel: .system)
        try await f.store.store("hi", partition: "routing/stats", key: "public", as: bob, accessLevel: .public)

        func denied(_ partition: String, _ key: String, _ reader: MemoryReader) async -> Bool {
            do {
                _ = try await f.store.retrieve(partition: partition, key: key, as: reader)
                return false
            } catch let error as StoreError {
                return error.code == .accessDenied
            } catch { return false }
        }
        #expect(try await f.store.retrieve(String.self, partition: "routing/stats", key: "private", as: alice) == "mine")
        #expect(await denied("routing/stats", "private", bob))
        #expect(await denied("routing/stats", "private", .system))
        #expect(try await f.store.retrieve(String.self, partition: "routing/selections", key: "task-1", as: bob) == "fleet")
        #expect(await denied("routing/selections", "task-1", .anonymous))
        #expect(await denied("routing/costs", "daily/x", alice))
        #expect(try await f.store.retrieve(Double.self, partition: "routing/costs", key: "daily/x", as: .system) == 1.5)
        #expect(try await f.store.retrieve(String.self, partition: "routing/stats", key: "public", as: .anonymous) == "hi")
        // Queries leave out what the reader may not see.
        #expect(try await f.store.query(partition: "routing/stats", prefix: "p", as: bob).map(\.key) == ["public"])
        #expect(try await f.store.query(partition: "routing/stats", prefix: "p", as: alice).map(\.key) == ["private", "public"])
        #expect(try await f.store.count(partition: "routing/costs", as: alice) == 0)
        // Only the owner (or system) may overwrite or delete.
        await #expect { try await f.store.store("theirs", partition: "routing/stats", key: "private", as: bob) }
            throws: { ($0 as? StoreError)?.code == .accessDenied }
        await #expect { try await f.store.delete(partition: "routing/selections", key: "task-1", as: bob) }
            throws: { ($0 as? StoreError)?.code == .accessDenied }
        #expect(try await f.store.delete(partition: "routing/selections", key: "task-1", as: alice))
        #expect(try await f.store.delete(partition: "routing/selections", key: "task-1", as: alice) == false)
    }

    @Test func badInputIsATypedError() async throws {
        let f = try await Fixture()
        defer { f.dir.remove() }
        await #expect { try await f.store.store(1, partition: "", key: "k") } throws: { ($0 as? StoreError)?.code == .invalidValue }
        await #expect { try await f.store.store(1, partition: "p", key: "") } throws: { ($0 as? StoreError)?.code == .invalidValue }
        await #expect { try await f.store.store(1, partition: "p", key: "k", expiry: .after(-1)) } throws: { ($0 as? StoreError)?.code == .invalidValue }
        await #expect { try await f.store.store(Double.nan, partition: "p", key: "k") } throws: { ($0 as? StoreError)?.code == .invalidValue }
        try await f.store.store("text", partition: "p", key: "k")
        await #expect { _ = try await f.store.retrieve(Int.self, partition: "p", key: "k") } throws: { ($0 as? StoreError)?.code == .invalidValue }
    }
}
