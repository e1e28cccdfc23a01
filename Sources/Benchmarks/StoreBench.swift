import FleetSupport
import Foundation
import Store
import Synchronization

/// `fleetd-bench store`: ledger settle throughput, prefix-query latency on 1M entries, and a
/// sweep of 1M expired entries with the longest wait a concurrent reader saw. Temporary file.
struct StoreBench: BenchSuite {
    let name = "store"
    let summary = "SQLite store: settles/s single and batched, prefix p50/p99 on 1M rows, 1M-row sweep vs a reader"

    func run(scale: Double) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fleetd-store-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let rows = max(1_000, Int(1_000_000 * scale))
        print("file: \(directory.path)/bench.sqlite (WAL, synchronous=NORMAL), rows: \(rows)")
        let database = try await StoreDatabase(path: directory.appendingPathComponent("bench.sqlite").path)
        try await settles(database, count: max(200, Int(2_000 * scale)), batched: max(1_000, Int(50_000 * scale)))
        try await prefixQueries(database, rows: rows)
        try await sweep(database, rows: rows)
    }

    // MARK: - Ledger

    private func settles(_ database: StoreDatabase, count: Int, batched: Int) async throws {
        let tracker = try CostTracker(database: database, configuration: CostConfiguration(budgetLimits: .init(daily: 1e12)))
        let pricing = ModelPricing(input: 0.003, output: 0.015)
        let usage = CostUsage(inputTokens: 1_200, outputTokens: 400)
        func call(_ i: Int) -> CostCall {
            CostCall(model: "model-\(i % 4)", provider: "anthropic", taskId: "task-\(i)", agentId: "agent-\(i % 16)", taskType: "bench")
        }
        let clock = ContinuousClock()
        var start = clock.now
        for i in 0..<count {
            let reservation = try await tracker.reserve(call(i), estimatedCost: 0.01)
            try await tracker.settle(reservation, usage: usage, pricing: pricing)
        }
        let single = clock.now - start
        print(String(format: "settle, one transaction each: %d entries in %.3f s = %.0f entries/s", count, single.seconds, Double(count) / single.seconds))

        let batchSize = 100
        start = clock.now
        var done = 0
        while done < batched {
            var settlements: [CostSettlement] = []
            for i in done..<min(batched, done + batchSize) {
                settlements.append(CostSettlement(reservation: try await tracker.reserve(call(count + i), estimatedCost: 0.01), usage: usage, pricing: pricing))
            }
            done += try await tracker.settleAll(settlements).count
        }
        let batchedTime = clock.now - start
        print(String(format: "settle, %d per transaction: %d entries in %.3f s = %.0f entries/s", batchSize, batched, batchedTime.seconds, Double(batched) / batchedTime.seconds))
    }

    // MARK: - Prefix queries

    private func prefixQueries(_ database: StoreDatabase, rows: Int) async throws {
        let store = MemoryStore(database: database)
        let groups = max(1, rows / 1_000)
        let generation = try await load(store, partition: "bench/prefix", rows: rows, expiresAt: nil)
        print(String(format: "generate %d entries (100k per transaction, prepared statement): %.2f s", rows, generation.seconds))
        // Keys are agent-NNNNN/item-NNNNN: "agent-00042/item-0001" matches 10 keys, "agent-00042/" 1,000.
        let shapes: [(label: String, prefix: () -> String)] = [
            ("~10 rows", { String(format: "agent-%05d/item-%04d", Int.random(in: 0..<groups), Int.random(in: 0..<100)) }),
            ("~1,000 rows", { String(format: "agent-%05d/", Int.random(in: 0..<groups)) }),
        ]
        for shape in shapes {
            var samples: [Duration] = []
            var returned = 0
            for _ in 0..<1_000 {
                let prefix = shape.prefix()
                let start = ContinuousClock.now
                returned += try await store.query(partition: "bench/prefix", prefix: prefix).count
                samples.append(ContinuousClock.now - start)
            }
            samples.sort()
            print("prefix query (\(shape.label), \(returned / 1_000) rows returned on average) over \(rows) entries: "
                + String(format: "p50 %.3f ms, p99 %.3f ms, max %.3f ms", samples[499].milliseconds, samples[989].milliseconds, samples[999].milliseconds))
        }
    }

    // MARK: - Sweep

    private func sweep(_ database: StoreDatabase, rows: Int) async throws {
        let clock = ManualWallClock(Date())
        let store = MemoryStore(database: database, clock: clock)
        try await store.store("live", partition: "bench/live", key: "probe", expiry: .never)
        let generation = try await load(store, partition: "bench/expiring", rows: rows, expiresAt: clock.now.addingTimeInterval(1))
        print(String(format: "generate %d expiring entries: %.2f s", rows, generation.seconds))
        clock.advance(by: 2)

        let stop = Atomic<Bool>(false)
        let reader = Task {
            var longest = Duration.zero
            var reads = 0
            while !stop.load(ordering: .relaxed) {
                let start = ContinuousClock.now
                _ = try await store.retrieve(partition: "bench/live", key: "probe")
                longest = max(longest, ContinuousClock.now - start)
                reads += 1
            }
            return (longest, reads)
        }
        let start = ContinuousClock.now
        let removed = try await store.cleanExpired(batchSize: 1_000, pause: .zero)
        let sweepTime = ContinuousClock.now - start
        stop.store(true, ordering: .relaxed)
        let (longest, reads) = try await reader.value
        print(String(format: "sweep %d expired entries (1,000 per transaction): %.2f s; concurrent reader: %d reads, longest wait %.3f ms",
                     removed, sweepTime.seconds, reads, longest.milliseconds))
    }

    /// Inserts `rows` entries keyed `agent-NNNNN/item-NNNNN` (1,000 per agent), 100k per transaction.
    private func load(_ store: MemoryStore, partition: String, rows: Int, expiresAt: Date?) async throws -> Duration {
        let start = ContinuousClock.now
        let value = Data("{\"cost\":0.0123,\"model\":\"model-1\"}".utf8)
        let now = Date()
        var next = 0
        while next < rows {
            let end = min(rows, next + 100_000)
            let entries = (next..<end).map { i in
                MemoryEntry(partition: partition, key: String(format: "agent-%05d/item-%05d", i / 1_000, i % 1_000), value: value,
                            owner: "system", accessLevel: .system, createdAt: now, expiresAt: expiresAt)
            }
            try await store.storeAll(entries)
            next = end
        }
        return ContinuousClock.now - start
    }
}

fileprivate extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var milliseconds: Double { seconds * 1_000 }
}
