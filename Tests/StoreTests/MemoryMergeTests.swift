import Foundation
import Store
import Testing

/// `MemoryStore.merge`: read-modify-writes in one transaction, for a partition several processes
/// write on one SQLite file (predictive routing's cells: a running fleetd and `fleetd feedback`).
@Suite("Memory store: merging into a file another process writes")
struct MemoryMergeTests {
    static func adding(_ n: Int, to key: String) -> MemoryChange<Int> {
        MemoryChange(key: key) { ($0 ?? 0) + n }
    }

    @Test("changes add to what another connection stored; the whole partition comes back only when another connection wrote")
    func mergeAcrossConnections() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        // Two connections to one file, as two processes have.
        let server = MemoryStore(database: try await StoreDatabase(path: dir.path()))
        let importer = MemoryStore(database: try await StoreDatabase(path: dir.path()))
        let partition = "routing/learning"

        let first = try await server.merge(Int.self, partition: partition, changes: [Self.adding(1, to: "a")], knownVersion: nil)
        #expect(first.complete && first.values == [1])
        // Nobody else wrote: only the merged value comes back.
        let quiet = try await server.merge(Int.self, partition: partition, changes: [Self.adding(2, to: "a")], knownVersion: first.version)
        #expect(!quiet.complete && quiet.values == [3])
        #expect(quiet.version == first.version)

        // Another process adds to "a" and makes "b".
        _ = try await importer.merge(Int.self, partition: partition, changes: [Self.adding(10, to: "a"), Self.adding(5, to: "b")], knownVersion: nil)
        let after = try await server.merge(Int.self, partition: partition, changes: [Self.adding(1, to: "a")], knownVersion: quiet.version)
        #expect(after.complete, "another connection wrote: every value comes back")
        #expect(after.values.sorted() == [5, 14], "nothing written over: 1 + 2 + 10 + 1 and 5")
        // Nothing to merge still tells whether another connection wrote.
        let idle = try await server.merge(Int.self, partition: partition, changes: [], knownVersion: after.version)
        #expect(!idle.complete && idle.values.isEmpty)
        #expect(try await server.retrieve(Int.self, partition: partition, key: "a") == 14)
    }
}
