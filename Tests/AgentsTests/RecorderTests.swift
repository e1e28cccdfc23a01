import Agents
import Foundation
import Routing
import Store
import Testing

@Suite("Write-behind recorder")
struct WriteBehindRecorderTests {
    @Test("batches records, keeps the latest per key, flushes at capacity and on demand")
    func batching() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let database = try await StoreDatabase(path: directory.appendingPathComponent("s.sqlite").path)
        let store = MemoryStore(database: database)
        let recorder = WriteBehindRecorder(store: store, batchSize: 4, capacity: 8, interval: .seconds(3600))
        for index in 0..<5 {
            try await recorder.saveStats(ModelStats(model: "m\(index % 3)", successes: index))
        }
        // Nothing is written until a flush: three distinct keys wait, the latest value each.
        #expect(try await store.count(partition: MemoryPartitions.stats) == 0)
        await recorder.flush()
        let stats = try await store.loadStats().sorted { $0.model < $1.model }
        #expect(stats.map(\.model) == ["m0", "m1", "m2"])
        #expect(stats.map(\.successes) == [3, 4, 2])
        // Reaching capacity makes the writer flush by itself: the queue never grows past it.
        for index in 0..<8 {
            try await recorder.saveStats(ModelStats(model: "cap\(index)"))
        }
        #expect(try await store.count(partition: MemoryPartitions.stats) == 11)
        // Loading through the recorder sees what is still waiting.
        try await recorder.saveStats(ModelStats(model: "late"))
        #expect(try await recorder.loadStats().contains { $0.model == "late" })
    }
}
