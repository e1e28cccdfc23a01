import FleetSupport
import Foundation
import Store

/// `fleetd-bench shared`: the money path of a task (one reservation, then its settlement) per
/// second and per instance, with 32 tasks in flight per instance: SQLite (one process), then
/// PostgreSQL with one and with three instances (trackers with their own pools) on one database.
/// PostgreSQL comes from `FLEETD_BENCH_PG_HOST`/`FLEETD_BENCH_PG_PORT` (or the test cluster's
/// `FLEETD_TEST_PG_*`, see scripts/pg-cluster); without it that row is skipped, and says so.
struct SharedStoreBench: BenchSuite {
    let name = "shared"
    let summary = "money path per task (reserve + settle), tasks/s per instance: SQLite beside PostgreSQL with 1 and 3 instances"

    func run(scale: Double) async throws {
        let tasks = max(200, Int(4_000 * scale))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fleetd-shared-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try await StoreDatabase(path: directory.appendingPathComponent("bench.sqlite").path)
        let sqlite = try CostTracker(database: database, configuration: Self.budget)
        let rate = try await Self.measure([sqlite], tasks: tasks)
        print(String(format: "sqlite, 1 instance: %d tasks, %.0f tasks/s per instance", tasks, rate))

        let env = ProcessInfo.processInfo.environment
        guard let host = env["FLEETD_BENCH_PG_HOST"] ?? env["FLEETD_TEST_PG_HOST"],
              let port = (env["FLEETD_BENCH_PG_PORT"] ?? env["FLEETD_TEST_PG_PORT"]).flatMap(Int.init) else {
            print("postgres: skipped (set FLEETD_BENCH_PG_HOST and FLEETD_BENCH_PG_PORT, or eval \"$(scripts/pg-cluster start)\")")
            return
        }
        let dbName = env["FLEETD_BENCH_PG_DATABASE"] ?? "fleetd_test"
        for count in [1, 3] {
            var stores: [PostgresStore] = []
            for index in 0..<count {
                stores.append(PostgresStore(configuration: PostgresConfiguration(
                    host: host, port: port, database: dbName, username: env["FLEETD_BENCH_PG_USER"] ?? "fleetd",
                    password: env["DB_PASSWORD"], tls: .disable, poolSize: 10, instanceId: "bench-\(index)")))
            }
            let all = stores
            let label = "postgres \(host):\(port), \(count) instance\(count == 1 ? "" : "s")"
            do {
                let rate = try await withThrowingTaskGroup(of: Double?.self) { group in
                    for store in all { group.addTask { try await store.run(); return nil } }
                    defer { group.cancelAll() }
                    for store in all { try await store.open() }
                    let trackers = try all.map { try PostgresCostTracker(store: $0, configuration: Self.budget) }
                    return try await Self.measure(trackers, tasks: tasks)
                }
                print(String(format: "%@: %d tasks each, %.0f tasks/s per instance", label, tasks, rate))
            } catch {
                // A failed row is a finding too (e.g. operations timing out on the hot total rows).
                print("\(label): failed: \(error)")
            }
        }
    }

    static let budget = CostConfiguration(budgetLimits: .init(daily: 1e12))

    /// Runs `tasks` reserve+settle cycles on each tracker at once (32 in flight per tracker);
    /// returns the mean tasks per second per tracker.
    static func measure(_ trackers: [any CostAccounting], tasks: Int) async throws -> Double {
        let pricing = ModelPricing(input: 0.003, output: 0.015)
        let usage = CostUsage(inputTokens: 1_200, outputTokens: 400)
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (t, tracker) in trackers.enumerated() {
                for lane in 0..<32 {
                    group.addTask {
                        var i = lane
                        while i < tasks {
                            let call = CostCall(model: "model-\(i % 4)", provider: "anthropic", taskId: "bench-\(t)-\(i)", agentId: "a", taskType: "bench")
                            let reservation = try await tracker.reserve(call, estimatedCost: 0.01, isCheaperAlternative: false, keyLimits: nil)
                            try await tracker.settle(reservation, usage: usage, pricing: pricing, basis: .reported)
                            i += 32
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        return Double(tasks) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}
