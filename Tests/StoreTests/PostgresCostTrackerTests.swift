import Foundation
import Store
import Testing

/// Two trackers on one database stand for two fleetd instances: each has its own store (its own
/// connection pool and instance id), as separate processes would.
@Suite("PostgreSQL cost tracker: one budget for every instance", PostgresTestCluster.trait)
struct PostgresCostTrackerTests {
    static func call(_ n: Int, key: String? = nil) -> CostCall {
        CostCall(model: "m", provider: "openai", taskId: "t\(n)", agentId: "a", taskType: "simple", keyId: key)
    }

    /// Two stores on one fresh database, each running, with a tracker each.
    static func twoInstances<T: Sendable>(lease: Duration = .seconds(60), budget: CostConfiguration,
                                          _ body: @escaping @Sendable (PostgresCostTracker, PostgresCostTracker, PostgresConfiguration) async throws -> T) async throws -> T {
        let config = try await PostgresTestCluster.freshDatabase(lease: lease)
        return try await PostgresTestCluster.withStore(config) { first in
            var second = config
            second.instanceId = "instance-b"
            return try await PostgresTestCluster.withStore(second) { other in
                try await body(try PostgresCostTracker(store: first, configuration: budget),
                               try PostgresCostTracker(store: other, configuration: budget), config)
            }
        }
    }

    @Test func concurrentReservationsFromTwoInstancesNeverPassTheLimit() async throws {
        let budget = CostConfiguration(budgetLimits: .init(daily: 1.0))
        try await Self.twoInstances(budget: budget) { a, b, config in
            // 60 calls of $0.10 against $1.00, half through each instance, all at once.
            let held = await withTaskGroup(of: CostReservation?.self) { group in
                for n in 0..<60 {
                    let tracker = n.isMultiple(of: 2) ? a : b
                    group.addTask { try? await tracker.reserve(Self.call(n), estimatedCost: 0.1, isCheaperAlternative: false, keyLimits: nil) }
                }
                var held: [CostReservation] = []
                for await r in group { if let r { held.append(r) } }
                return held
            }
            #expect(held.count == 10)
            let status = await b.budgetStatus()
            #expect(abs((status.periods.first { $0.period == .day }?.reserved ?? 0) - 1.0) < 1e-9)
            let refusal = await #expect(throws: CostError.self) {
                try await a.reserve(Self.call(99), estimatedCost: 0.1, isCheaperAlternative: false, keyLimits: nil)
            }
            #expect(refusal?.code == .budgetExceeded)
            // Settled at half the estimate: half the budget comes back, for both instances.
            for (n, r) in held.enumerated() {
                try await (n.isMultiple(of: 2) ? a : b).settle(r, usage: CostUsage(inputTokens: 50, outputTokens: 0),
                                                               pricing: ModelPricing(input: 1), basis: .reported)
            }
            let day = await a.budgetStatus().periods.first { $0.period == .day }
            #expect(abs((day?.spent ?? 0) - 0.5) < 1e-9 && abs(day?.reserved ?? 1) < 1e-9)
            #expect(try await PostgresTestCluster.number(config, "SELECT count(*) FROM cost_ledger") == 10)
            #expect(try await PostgresTestCluster.number(config, "SELECT count(*) FROM cost_reservations") == 0)
            // And the report reads the same shared ledger from either.
            let report = try await b.report(period: .day, breakdowns: [], tenant: nil)
            #expect(report.total.entries == 10 && abs(report.total.cost - 0.5) < 1e-9)
        }
    }

    @Test func aKeysBudgetHoldsAcrossInstancesWhateverThePolicy() async throws {
        let budget = CostConfiguration(budgetLimits: .init(daily: 100), policy: .allowWithAlert)
        try await Self.twoInstances(budget: budget) { a, b, _ in
            let limits = CostConfiguration.BudgetLimits(daily: 0.25)
            _ = try await a.reserve(Self.call(1, key: "k1"), estimatedCost: 0.1, isCheaperAlternative: false, keyLimits: limits)
            _ = try await b.reserve(Self.call(2, key: "k1"), estimatedCost: 0.1, isCheaperAlternative: false, keyLimits: limits)
            let error = await #expect(throws: CostError.self) {
                try await b.reserve(Self.call(3, key: "k1"), estimatedCost: 0.1, isCheaperAlternative: false, keyLimits: limits)
            }
            #expect(error?.message.contains("key k1") == true)
            let status = await a.keyBudgetStatus(keyId: "k1", limits: limits)
            #expect(abs((status.periods.first { $0.period == .day }?.reserved ?? 0) - 0.2) < 1e-9)
        }
    }

    @Test func releaseAndSettleAreIdempotentAndAlertsAreRaisedOnceFleetWide() async throws {
        let budget = CostConfiguration(budgetLimits: .init(daily: 1.0), alertThresholds: .init(dailyPercent: 50, monthlyPercent: nil))
        try await Self.twoInstances(budget: budget) { a, b, _ in
            let r1 = try await a.reserve(Self.call(1), estimatedCost: 0.7, isCheaperAlternative: false, keyLimits: nil)
            let r2 = try await b.reserve(Self.call(2), estimatedCost: 0.2, isCheaperAlternative: false, keyLimits: nil)
            await b.release(r2)
            await b.release(r2)
            let entry = try await a.settle(r1, usage: CostUsage(inputTokens: 600, outputTokens: 0), pricing: ModelPricing(input: 1), basis: .reported)
            let again = try await b.settle(r1, usage: CostUsage(inputTokens: 900, outputTokens: 0), pricing: ModelPricing(input: 1), basis: .reported)
            #expect(again.cost == entry.cost)
            let r3 = try await b.reserve(Self.call(3), estimatedCost: 0.1, isCheaperAlternative: false, keyLimits: nil)
            try await b.settle(r3, usage: CostUsage(inputTokens: 100, outputTokens: 0), pricing: ModelPricing(input: 1), basis: .reported)
            let day = await b.budgetStatus().periods.first { $0.period == .day }
            #expect(abs((day?.spent ?? 0) - 0.7) < 1e-9 && abs(day?.reserved ?? 1) < 1e-9)
            // 50% crossed once, by a's settlement; b sees it raised and raises nothing again.
            let raised = try await b.raisedAlerts()
            #expect(raised.map(\.thresholdPercent) == [50])
        }
    }

    @Test func aDeadInstancesReservationsAreBilledAtTheirEstimateAfterTheLease() async throws {
        let budget = CostConfiguration(budgetLimits: .init(daily: 1.0))
        // A 6 s lease: long enough that nothing expires before the first check on a loaded machine.
        try await Self.twoInstances(lease: .seconds(6), budget: budget) { dead, live, config in
            _ = try await dead.reserve(Self.call(1), estimatedCost: 0.3, isCheaperAlternative: false, keyLimits: nil)
            let mine = try await live.reserve(Self.call(2), estimatedCost: 0.2, isCheaperAlternative: false, keyLimits: nil)
            #expect(try await live.billExpiredReservations().isEmpty) // nothing expired yet
            try await Task.sleep(for: .milliseconds(6_300))
            // Both leases ran out; the live instance's upkeep renews its own first, then bills the other.
            let billed = await live.maintain()
            #expect(!billed.contains { $0.entryId == mine.id })
            #expect(billed.count == 1 && billed.first?.basis == .estimated && billed.first?.cost == 0.3)
            let day = await live.budgetStatus().periods.first { $0.period == .day }
            #expect(abs((day?.spent ?? 0) - 0.3) < 1e-9 && abs((day?.reserved ?? 0) - 0.2) < 1e-9)
            #expect(try await PostgresTestCluster.number(config, "SELECT count(*) FROM cost_reservations") == 1)
        }
    }

    /// A release the store refused is released again by the next upkeep round: before, the row's
    /// lease was renewed with the instance's others, so its estimate stayed held (and counted
    /// against the budget) for as long as the instance ran.
    @Test func aReleaseTheStoreRefusedIsReleasedByTheNextUpkeep() async throws {
        let budget = CostConfiguration(budgetLimits: .init(daily: 1.0))
        try await Self.twoInstances(lease: .seconds(60), budget: budget) { a, _, config in
            let kept = try await a.reserve(Self.call(1), estimatedCost: 0.2, isCheaperAlternative: false, keyLimits: nil)
            let dropped = try await a.reserve(Self.call(2), estimatedCost: 0.3, isCheaperAlternative: false, keyLimits: nil)
            // The store refuses deletions from the reservations table for a while.
            try await PostgresTestCluster.execute(config, """
                CREATE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$
                """, "CREATE TRIGGER refuse BEFORE DELETE ON cost_reservations FOR EACH ROW EXECUTE FUNCTION refuse_delete()")
            await a.release(dropped)
            var day = await a.budgetStatus().periods.first { $0.period == .day }
            #expect(abs((day?.reserved ?? 0) - 0.5) < 1e-9)
            try await PostgresTestCluster.execute(config, "DROP TRIGGER refuse ON cost_reservations")
            _ = await a.maintain()
            day = await a.budgetStatus().periods.first { $0.period == .day }
            #expect(abs((day?.reserved ?? 0) - 0.2) < 1e-9)
            #expect(try await PostgresTestCluster.number(config, "SELECT count(*) FROM cost_reservations") == 1)
            // What is still held is still renewed, and settles as usual.
            #expect(try await PostgresTestCluster.number(config, "SELECT count(*) FROM cost_reservations WHERE lease_expires_at > extract(epoch from now()) + 30") == 1)
            try await a.settle(kept, usage: CostUsage(inputTokens: 100, outputTokens: 0), pricing: ModelPricing(input: 1), basis: .reported)
            day = await a.budgetStatus().periods.first { $0.period == .day }
            #expect(abs((day?.spent ?? 0) - 0.1) < 1e-9 && abs(day?.reserved ?? 1) < 1e-9)
        }
    }

    /// A row of this instance that the process does not hold (its hold's answer was lost) is not
    /// renewed: its lease runs out and it is billed like a dead instance's, instead of being held
    /// for the instance's life.
    @Test func aRowTheProcessDoesNotHoldIsNotRenewed() async throws {
        let budget = CostConfiguration(budgetLimits: .init(daily: 1.0))
        try await Self.twoInstances(lease: .seconds(4), budget: budget) { a, _, config in
            let mine = try await a.reserve(Self.call(1), estimatedCost: 0.2, isCheaperAlternative: false, keyLimits: nil)
            // A second row under a's instance id that a's process never held.
            try await PostgresTestCluster.execute(config, """
                INSERT INTO cost_reservations (id, model, provider, task_id, agent_id, task_type, estimated_cost, created_at, key_id, tenant,
                                               key_held, day_key, week_key, month_key, instance_id, lease_expires_at)
                SELECT 'stray', model, provider, 't9', agent_id, task_type, 0.1, created_at, key_id, tenant, key_held, day_key, week_key,
                       month_key, instance_id, lease_expires_at FROM cost_reservations WHERE id = '\(mine.id)'
                """, "UPDATE cost_totals SET reserved = reserved + 0.1 WHERE scope = 'overall'")
            try await Task.sleep(for: .milliseconds(4_300))
            let billed = await a.maintain()
            #expect(billed.map(\.entryId) == ["stray"])
            #expect(try await PostgresTestCluster.number(config, "SELECT count(*) FROM cost_reservations") == 1)
        }
    }
}
