import FleetSupport
import Foundation
import Store

/// `fleetd-bench shared`: the money path of a task (one reservation, then its settlement) per
/// second and per instance, with 32 tasks in flight per instance: SQLite (one process), then
/// PostgreSQL with one and with three instances (trackers with their own pools) on one database;
/// and after each, a call's provider-quota work (admission and token count) the same way.
/// PostgreSQL comes from `FLEETD_BENCH_PG_HOST`/`FLEETD_BENCH_PG_PORT` (or the test cluster's
/// `FLEETD_TEST_PG_*`, see scripts/pg-cluster); without it that row is skipped, and says so.
struct SharedStoreBench: BenchSuite {
    let name = "shared"
    let summary = "money path per task (reserve + settle) and provider quota per call, per instance: SQLite beside PostgreSQL with 1 and 3 instances"

    func run(scale: Double) async throws {
        let tasks = max(200, Int(4_000 * scale))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fleetd-shared-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try await StoreDatabase(path: directory.appendingPathComponent("bench.sqlite").path)
        let sqlite = try CostTracker(database: database, configuration: Self.budget)
        let rate = try await Self.measure([sqlite], tasks: tasks)
        print(String(format: "sqlite, 1 instance: %d tasks, %.0f tasks/s per instance", tasks, rate))
        let quotaRate = try await Self.measureQuotas([try await QuotaManager(database: database, configuration: Self.quotas)], calls: tasks)
        print(String(format: "sqlite, 1 instance, provider quota (count after the call): %d calls, %.0f calls/s", tasks, quotaRate))

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
                let (rate, calls) = try await withThrowingTaskGroup(of: (Double, Double)?.self) { group in
                    for store in all { group.addTask { try await store.run(); return nil } }
                    defer { group.cancelAll() }
                    for store in all { try await store.open() }
                    let trackers = try all.map { try PostgresCostTracker(store: $0, configuration: Self.budget) }
                    let rate = try await Self.measure(trackers, tasks: tasks)
                    let quotas = try all.map { try PostgresQuotaManager(store: $0, configuration: Self.quotas) }
                    return (rate, try await Self.measureQuotas(quotas, calls: tasks))
                }
                print(String(format: "%@: %d tasks each, %.0f tasks/s per instance", label, tasks, rate))
                print(String(format: "%@, provider quota (admit + tokens): %d calls each, %.0f calls/s per instance", label, tasks, calls))
            } catch {
                // A failed row is a finding too (e.g. operations timing out on the hot total rows).
                print("\(label): failed: \(error)")
            }
        }
    }

    static let budget = CostConfiguration(budgetLimits: .init(daily: 1e12))
    static let quotas = QuotaConfiguration(providers: ["anthropic": .init(requestsPerDay: 1_000_000_000, tokensPerDay: 1_000_000_000_000)])

    /// Each call's quota work on each manager (32 in flight per manager): the admission (which
    /// counts the request on PostgreSQL; nothing on SQLite), then the tokens counted after the
    /// call. Returns the mean calls per second per manager.
    static func measureQuotas(_ managers: [any ProviderQuotaAccounting], calls: Int) async throws -> Double {
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for manager in managers {
                for lane in 0..<32 {
                    group.addTask {
                        var i = lane
                        while i < calls {
                            if let refusal = await manager.admit(provider: "anthropic") {
                                throw QuotaError(.invalidArgument, "admission refused in the benchmark: \(refusal.reason ?? "")")
                            }
                            try await manager.record(provider: "anthropic", requests: manager.countsRequestsOnAdmission ? 0 : 1, tokens: 1_600)
                            i += 32
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        return Double(calls) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

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
