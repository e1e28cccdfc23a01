import FleetSupport
import Foundation
import GRDB
import Store
import Testing

/// A settlement the store refuses (another writer holds SQLite's write lock past the busy timeout)
/// is answered from the journal, kept with its real cost, its reservation held at its estimate meanwhile, and written once the
/// store takes it: by the tracker's retry, or when fleetd stops.
@Suite("CostTracker: settlements the store refused")
struct UnwrittenSettlementTests {
    static let call = CostCall(model: "sonnet", provider: "anthropic", taskId: "task-1", agentId: "agent-1", taskType: "test-generation")
    /// $1 per 1,000 input tokens: usage of N input tokens costs N/1000 dollars.
    static let dollarPerK = ModelPricing(input: 1, output: 0)

    /// A tracker ($10 a day) on a file whose writes give up after 0.2 s behind another writer; its
    /// holds go to a journal, so nothing but settlements writes to the file.
    static func tracker(in dir: StoreTempDirectory, retryInterval: Duration) async throws -> (StoreDatabase, CostTracker) {
        let db = try await StoreDatabase(path: dir.path(), configuration: StoreDatabaseConfiguration(busyTimeoutSeconds: 0.2))
        let tracker = try CostTracker(database: db, configuration: CostConfiguration(budgetLimits: .init(daily: 10)),
                                      clock: ManualWallClock(storeTestDate("2026-03-10T12:00:00Z")),
                                      holdJournalDirectory: dir.path("holds"), settlementRetryInterval: retryInterval)
        return (db, tracker)
    }

    /// The ledger's rows, the cost of the row `id`, and the holds left in the table.
    static func ledger(_ db: StoreDatabase, id: String) async throws -> (rows: Int, cost: Double?, basis: String?, holds: Int) {
        try await db.read("test") { db in
            (rows: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM cost_ledger") ?? -1,
             cost: try Double.fetchOne(db, sql: "SELECT cost FROM cost_ledger WHERE entry_id = ?", arguments: [id]),
             basis: try String.fetchOne(db, sql: "SELECT basis FROM cost_ledger WHERE entry_id = ?", arguments: [id]),
             holds: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM cost_reservations") ?? -1)
        }
    }

    /// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
    static func eventually(timeout: Duration = .seconds(10), _ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return await condition()
    }

    @Test func aRefusedSettlementIsBilledAtItsRealCostOnceTheStoreIsBack() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let (db, tracker) = try await Self.tracker(in: dir, retryInterval: .milliseconds(100))
        let reservation = try await tracker.reserve(Self.call, estimatedCost: 3)
        try holdWriteLock(at: dir.path(), for: 1.5)
        // Answered at once (its line is in the journal); its ledger row, written behind, is refused.
        try await tracker.settle(reservation, usage: CostUsage(inputTokens: 1_250, outputTokens: 0), pricing: Self.dollarPerK)
        await tracker.settledBehind()
        // Kept, and held at its estimate meanwhile: the budget stays conservative.
        #expect(await tracker.unwrittenSettlements == 1)
        #expect(await tracker.activeReservations == 1)
        let waiting = await tracker.budgetStatus()
        #expect(waiting.periods.allSatisfy { $0.reserved == 3 && $0.spent == 0 }, "\(waiting.periods)")

        // The other writer goes: the tracker's retry writes the real cost and frees the hold.
        #expect(await Self.eventually { await tracker.activeReservations == 0 })
        #expect(await tracker.unwrittenSettlements == 0)
        let ledger = try await Self.ledger(db, id: reservation.id)
        #expect(ledger.rows == 1)
        #expect(ledger.cost == 1.25)
        #expect(ledger.basis == "reported")
        #expect(ledger.holds == 0)
        let settled = await tracker.budgetStatus()
        #expect(settled.periods.allSatisfy { abs($0.spent - 1.25) < 1e-9 && $0.reserved == 0 }, "\(settled.periods)")
    }

    @Test func stoppingWritesTheSettlementsTheStoreRefused() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        // No retry due for an hour: only stopping writes it.
        let (db, tracker) = try await Self.tracker(in: dir, retryInterval: .seconds(3_600))
        let reservation = try await tracker.reserve(Self.call, estimatedCost: 3)
        try holdWriteLock(at: dir.path(), for: 0.5)
        // Answered at once (its line is in the journal); its ledger row, written behind, is refused.
        try await tracker.settle(reservation, usage: CostUsage(inputTokens: 500, outputTokens: 0), pricing: Self.dollarPerK)
        await tracker.settledBehind()
        try await Task.sleep(for: .milliseconds(700))   // the other writer is gone
        #expect(await tracker.activeReservations == 1)
        await tracker.flushPendingWrites()
        #expect(await tracker.activeReservations == 0)
        #expect(await tracker.unwrittenSettlements == 0)
        let ledger = try await Self.ledger(db, id: reservation.id)
        #expect(ledger.rows == 1 && ledger.cost == 0.5)
    }

    @Test func aKeptSettlementIsNeitherReleasedNorCountedTwice() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let (db, tracker) = try await Self.tracker(in: dir, retryInterval: .seconds(3_600))
        let reservation = try await tracker.reserve(Self.call, estimatedCost: 3)
        let usage = CostUsage(inputTokens: 500, outputTokens: 0)
        try holdWriteLock(at: dir.path(), for: 0.5)
        // Answered at once (its line is in the journal); its ledger row, written behind, is refused.
        try await tracker.settle(reservation, usage: usage, pricing: Self.dollarPerK)
        await tracker.settledBehind()
        // Its call was answered: a release does not free what the kept settlement will bill.
        await tracker.release(reservation)
        #expect(await tracker.activeReservations == 1)
        try await Task.sleep(for: .milliseconds(700))
        // The caller's own retry gets through first; stopping then has nothing left to add.
        let entry = try await tracker.settle(reservation, usage: usage, pricing: Self.dollarPerK)
        #expect(entry.cost == 0.5)
        #expect(await tracker.unwrittenSettlements == 0)
        await tracker.flushPendingWrites()
        let ledger = try await Self.ledger(db, id: reservation.id)
        #expect(ledger.rows == 1 && ledger.cost == 0.5)
        let day = try await db.read("test") { db in
            try Double.fetchOne(db, sql: "SELECT cost FROM cost_totals WHERE period = 'day' AND period_key = '2026-03-10' AND scope = 'overall'")
        }
        #expect(day == 0.5)
        #expect(await tracker.activeReservations == 0)
    }
}
