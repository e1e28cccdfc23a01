import FleetSupport
import Foundation
import GRDB
import Store
import Testing

@Suite("CostTracker: API key budgets in the same atomic step as the global ones")
struct KeyBudgetTests {
    static func call(key: String?, task: String = "t") -> CostCall {
        CostCall(model: "sonnet", provider: "anthropic", taskId: task, agentId: "a", taskType: "chat", keyId: key, tenantId: "acme")
    }
    static let dollarPerK = ModelPricing(input: 1, output: 0)

    @Test func aKeyIsRefusedAtItsLimitWhileOthersGoOn() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let clock = ManualWallClock(storeTestDate("2026-03-10T12:00:00Z"))
        let db = try await StoreDatabase(path: dir.path())
        let tracker = try CostTracker(database: db, configuration: CostConfiguration(budgetLimits: .init(daily: 100)), clock: clock)
        let limits = CostConfiguration.BudgetLimits(daily: 1)
        let first = try await tracker.reserve(Self.call(key: "k1"), estimatedCost: 0.6, keyLimits: limits)
        // 0.6 held + 0.6 > 1: refused while the first is in flight, whatever the global room.
        do {
            _ = try await tracker.reserve(Self.call(key: "k1"), estimatedCost: 0.6, keyLimits: limits)
            Issue.record("the key's second reservation must be refused")
        } catch let error as CostError {
            #expect(error.code == .budgetExceeded && error.period == .day)
            #expect(error.message.contains("key k1's day budget"), "\(error.message)")
        }
        // Another key, and calls without a key, are not held back by k1's budget.
        _ = try await tracker.reserve(Self.call(key: "k2"), estimatedCost: 0.9, keyLimits: limits)
        _ = try await tracker.reserve(Self.call(key: nil), estimatedCost: 5)
        // Settled below the estimate: the room comes back.
        try await tracker.settle(first, usage: CostUsage(inputTokens: 300, outputTokens: 0), pricing: Self.dollarPerK)
        let second = try await tracker.reserve(Self.call(key: "k1"), estimatedCost: 0.6, keyLimits: limits)
        try await tracker.settle(second, usage: CostUsage(inputTokens: 600, outputTokens: 0), pricing: Self.dollarPerK)
        let status = await tracker.keyBudgetStatus(keyId: "k1", limits: limits)
        #expect(abs((status.periods.first { $0.period == .day }?.spent ?? 0) - 0.9) < 1e-9)
        let (keyId, tenant) = try await db.read("test") { db in
            let row = try Row.fetchOne(db, sql: "SELECT key_id, tenant FROM cost_ledger WHERE entry_id = ?", arguments: [second.id])
            return (row?["key_id"] as String?, row?["tenant"] as String?)
        }
        #expect(keyId == "k1" && tenant == "acme")

        // A fresh tracker (a restart) reads the key's spend back from the totals.
        let again = try CostTracker(database: db, configuration: CostConfiguration(budgetLimits: .init(daily: 100)), clock: clock)
        await #expect(throws: CostError.self) { try await again.reserve(Self.call(key: "k1"), estimatedCost: 0.2, keyLimits: limits) }
        _ = try await again.reserve(Self.call(key: "k1"), estimatedCost: 0.05, keyLimits: limits)
        // The next day starts from zero.
        clock.advance(by: 86_400)
        _ = try await again.reserve(Self.call(key: "k1"), estimatedCost: 0.9, keyLimits: limits)
    }

    @Test func theGlobalLimitStillHoldsForAKeyWithRoom() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        let tracker = try CostTracker(database: db, configuration: CostConfiguration(budgetLimits: .init(daily: 1)))
        _ = try await tracker.reserve(Self.call(key: nil), estimatedCost: 0.8)
        await #expect(throws: CostError.self) {
            try await tracker.reserve(Self.call(key: "k1"), estimatedCost: 0.5, keyLimits: .init(daily: 50))
        }
    }

    @Test func twoHundredConcurrentReservationsNeverPassTheKeysLimit() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        let tracker = try CostTracker(database: db)
        let limits = CostConfiguration.BudgetLimits(daily: 1, monthly: 3)
        let outcomes = await withTaskGroup(of: Double?.self) { group in
            for index in 0..<200 {
                group.addTask {
                    guard let hold = try? await tracker.reserve(Self.call(key: "k1", task: "t\(index)"), estimatedCost: 0.03, keyLimits: limits) else {
                        return nil
                    }
                    // Half settle at their estimate, half at a third of it.
                    let tokens = index % 2 == 0 ? 30 : 10
                    return try? await tracker.settle(hold, usage: CostUsage(inputTokens: tokens, outputTokens: 0), pricing: Self.dollarPerK).cost
                }
            }
            return await group.reduce(into: [Double?]()) { $0.append($1) }
        }
        let spent = outcomes.compactMap { $0 }.reduce(0, +)
        #expect(outcomes.contains { $0 == nil }, "some were refused")
        #expect(spent <= 1 + 1e-9, "spent \(spent) against a key limit of $1")
        #expect(outcomes.compactMap { $0 }.count >= 33, "at least the first $0.99 of reservations went through")
        #expect(await tracker.activeReservations == 0)
    }
}
