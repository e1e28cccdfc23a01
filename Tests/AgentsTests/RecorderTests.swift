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

    @Test("running, it writes a record that comes after a quiet spell within its interval, again and again, and stops at once when cancelled")
    func runLoopWakesForRecords() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = MemoryStore(database: try await StoreDatabase(path: directory.appendingPathComponent("s.sqlite").path))
        func written() async throws -> Int { try await store.count(partition: MemoryPartitions.stats) }
        func eventually(_ count: Int) async throws -> Bool {
            for _ in 0..<200 {
                if try await written() == count { return true }
                try await Task.sleep(for: .milliseconds(10))
            }
            return false
        }

        let recorder = WriteBehindRecorder(store: store, interval: .milliseconds(50))
        let running = Task { try await recorder.run() }
        for round in 1...3 {
            try await Task.sleep(for: .milliseconds(200)) // idle: the loop waits for a record
            try await recorder.saveStats(ModelStats(model: "m\(round)"))
            #expect(try await eventually(round), "record \(round) is written without a flush")
        }
        running.cancel()
        _ = try? await running.value

        // Cancelled while a record waits for its batch (an hour away): the loop ends at once, and
        // the record is still queued for the next flush (a cancelled task's own last flush is
        // refused by the database; fleetd stops its services by graceful shutdown, not cancellation).
        let slow = WriteBehindRecorder(store: store, interval: .seconds(3600))
        let slowRun = Task { try await slow.run() }
        try await slow.saveStats(ModelStats(model: "last"))
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await written() == 3)
        let stopping = ContinuousClock.now
        slowRun.cancel()
        _ = try? await slowRun.value
        #expect(ContinuousClock.now - stopping < .seconds(5))
        await slow.flush()
        #expect(try await written() == 4)
    }
}
