import FleetSupport
import Foundation
import Logging
import PostgresNIO
import Store
import Testing

/// Period boundaries on the shared store. A reservation settles, and is dated, in the period it
/// settles in: one held across midnight counts against the new day (as every hold does on SQLite),
/// and a dead instance's hold billed after midnight is the new day's in the ledger and the totals.
@Suite("PostgreSQL cost tracker: holds across period boundaries", PostgresTestCluster.trait)
struct PostgresCostTrackerPeriodTests {
    static func call(_ n: Int, key: String? = nil) -> CostCall { PostgresCostTrackerTests.call(n, key: key) }

    /// Two instances on one fresh database and one manual clock starting at `start`.
    static func twoInstances<T: Sendable>(at start: String, budget: CostConfiguration,
                                          _ body: @escaping @Sendable (PostgresCostTracker, PostgresCostTracker, ManualWallClock,
                                                                       PostgresConfiguration) async throws -> T) async throws -> T {
        let clock = ManualWallClock(storeTestDate(start))
        let config = try await PostgresTestCluster.freshDatabase(lease: .seconds(60))
        return try await PostgresTestCluster.withStore(config) { first in
            var second = config
            second.instanceId = "instance-b"
            return try await PostgresTestCluster.withStore(second) { other in
                try await body(try PostgresCostTracker(store: first, configuration: budget, clock: clock),
                               try PostgresCostTracker(store: other, configuration: budget, clock: clock), clock, config)
            }
        }
    }

    /// The review's case: reserved at 23:59:59, still held at 00:00:01. Before, the new day's row
    /// started empty and a second reservation passed its limit by the first's estimate.
    @Test func aHoldMadeBeforeMidnightCountsAgainstTheNewDay() async throws {
        let budget = CostConfiguration(budgetLimits: .init(daily: 1.0))
        try await Self.twoInstances(at: "2026-03-10T23:59:59Z", budget: budget) { a, b, clock, _ in
            let early = try await a.reserve(Self.call(1), estimatedCost: 0.6, isCheaperAlternative: false, keyLimits: nil)
            clock.advance(by: 2) // 2026-03-11T00:00:01Z
            let refusal = await #expect(throws: CostError.self) {
                try await b.reserve(Self.call(2), estimatedCost: 0.6, isCheaperAlternative: false, keyLimits: nil)
            }
            #expect(refusal?.code == .budgetExceeded && refusal?.period == .day)
            #expect(refusal?.message.contains("reserved $0.6000") == true)
            var day = await b.budgetStatus().periods.first { $0.period == .day }
            #expect(abs((day?.reserved ?? 0) - 0.6) < 1e-9 && day?.spent == 0)
            // What the new day has left is still there.
            _ = try await b.reserve(Self.call(3), estimatedCost: 0.4, isCheaperAlternative: false, keyLimits: nil)
            // The first settles in the new day: its cost is the new day's, its hold leaves the old day's row.
            try await a.settle(early, usage: CostUsage(inputTokens: 500, outputTokens: 0), pricing: ModelPricing(input: 1), basis: .reported)
            day = await a.budgetStatus().periods.first { $0.period == .day }
            #expect(abs((day?.spent ?? 0) - 0.5) < 1e-9 && abs((day?.reserved ?? 0) - 0.4) < 1e-9)
        }
    }

    /// The last midnight of a month: a key's day and the overall month both count the holds made
    /// in March (2026-03-31 and 04-01 share ISO week 14).
    @Test func aKeysHoldAndAMonthsHoldCountAgainstTheNextPeriod() async throws {
        let budget = CostConfiguration(budgetLimits: .init(monthly: 1.0))
        try await Self.twoInstances(at: "2026-03-31T23:59:59Z", budget: budget) { a, b, clock, _ in
            let limits = CostConfiguration.BudgetLimits(daily: 0.5)
            _ = try await a.reserve(Self.call(1, key: "k1"), estimatedCost: 0.3, isCheaperAlternative: false, keyLimits: limits)
            _ = try await a.reserve(Self.call(2), estimatedCost: 0.5, isCheaperAlternative: false, keyLimits: nil)
            clock.advance(by: 2) // 2026-04-01T00:00:01Z
            let keyRefusal = await #expect(throws: CostError.self) {
                try await b.reserve(Self.call(3, key: "k1"), estimatedCost: 0.3, isCheaperAlternative: false, keyLimits: limits)
            }
            #expect(keyRefusal?.message.contains("key k1") == true && keyRefusal?.period == .day)
            let monthRefusal = await #expect(throws: CostError.self) {
                try await b.reserve(Self.call(4), estimatedCost: 0.3, isCheaperAlternative: false, keyLimits: nil)
            }
            #expect(monthRefusal?.period == .month)
            let keyDay = await b.keyBudgetStatus(keyId: "k1", limits: limits).periods.first { $0.period == .day }
            #expect(abs((keyDay?.reserved ?? 0) - 0.3) < 1e-9)
            let month = await b.budgetStatus().periods.first { $0.period == .month }
            #expect(abs((month?.reserved ?? 0) - 0.8) < 1e-9)
        }
    }

    /// A reservation that read its clock before midnight but got its turn after it holds against
    /// the new day (where it will settle), not the old one.
    @Test func aReservationThatWaitedAcrossMidnightHoldsAgainstTheNewDay() async throws {
        let budget = CostConfiguration(budgetLimits: .init(daily: 1.0))
        try await Self.twoInstances(at: "2026-03-10T23:59:59Z", budget: budget) { a, b, clock, config in
            // Another session holds the reservations' advisory lock (PostgresCostTracker.holdLock).
            let holder = try await PostgresTestCluster.connect(config)
            try await holder.query("BEGIN", logger: Logger(label: "test.pg"))
            try await holder.query("SELECT pg_advisory_xact_lock(\(Int64(0x666C_6565_7464_0004)))", logger: Logger(label: "test.pg"))
            let pending = Task { try await a.reserve(Self.call(1), estimatedCost: 0.6, isCheaperAlternative: false, keyLimits: nil) }
            var waiting = 0.0
            for _ in 0..<500 where waiting < 1 {
                try await Task.sleep(for: .milliseconds(10))
                waiting = try await PostgresTestCluster.number(config, """
                    SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                    AND classid = \(0x666C_6565) AND objid = \(0x7464_0004) AND objsubid = 1
                    """)
            }
            #expect(waiting == 1)
            clock.advance(by: 2)
            try await holder.query("COMMIT", logger: Logger(label: "test.pg"))
            try await holder.close()
            _ = try await pending.value
            #expect(try await PostgresTestCluster.number(config, "SELECT count(*) FROM cost_reservations WHERE day_key = '2026-03-11'") == 1)
            #expect(try await PostgresTestCluster.number(config, """
                SELECT COALESCE(sum(reserved), 0) FROM cost_totals WHERE period = 'day' AND period_key = '2026-03-10'
                """) == 0)
            await #expect(throws: CostError.self) {
                try await b.reserve(Self.call(2), estimatedCost: 0.6, isCheaperAlternative: false, keyLimits: nil)
            }
        }
    }

    /// A dead instance's hold, billed after midnight, is dated when billed in the ledger row (what
    /// reports read) as in the totals (what budgets read). Before, the ledger row kept 23:59:30.
    @Test func aHoldBilledAfterMidnightIsTheNewDaysInTheLedgerAndTheTotals() async throws {
        let budget = CostConfiguration(budgetLimits: .init(daily: 1.0))
        try await Self.twoInstances(at: "2026-03-10T23:59:30Z", budget: budget) { dead, live, clock, _ in
            _ = try await dead.reserve(Self.call(1), estimatedCost: 0.3, isCheaperAlternative: false, keyLimits: nil)
            clock.advance(by: 60) // 00:00:30, the lease's end: still held, it counts against the new day
            var day = await live.budgetStatus().periods.first { $0.period == .day }
            #expect(abs((day?.reserved ?? 0) - 0.3) < 1e-9)
            clock.advance(by: 31)
            let billed = try await live.billExpiredReservations()
            #expect(billed.count == 1 && billed.first?.timestamp == clock.now && billed.first?.basis == .estimated)
            day = await live.budgetStatus().periods.first { $0.period == .day }
            #expect(abs((day?.spent ?? 0) - 0.3) < 1e-9 && abs(day?.reserved ?? 1) < 1e-9)
            let report = try await live.report(period: .day, breakdowns: [], tenant: nil)
            #expect(report.periodKey == "2026-03-11" && report.total.entries == 1 && abs(report.total.cost - 0.3) < 1e-9)
        }
    }
}
