import FleetSupport
import Foundation
import GRDB
import Store
import Testing

@Suite("CostTracker: ledger, budgets, policies, reservations")
struct CostTrackerTests {
    static let call = CostCall(model: "sonnet", provider: "anthropic", taskId: "task-1", agentId: "agent-1", taskType: "test-generation")
    /// $1 per 1,000 input tokens: usage of N input tokens costs N/1000 dollars.
    static let dollarPerK = ModelPricing(input: 1, output: 0)

    static func usage(dollars: Double) -> CostUsage { CostUsage(inputTokens: Int((dollars * 1000).rounded()), outputTokens: 0) }

    @Test func costFormulaAndCachedTokens() throws {
        let pricing = ModelPricing(input: 3, output: 15, cached: 0.3)
        #expect(try CostUsage(inputTokens: 1_000, outputTokens: 500).cost(pricing: pricing) == 10.5)
        // 600 uncached at $3/k + 400 cached at $0.3/k + 500 out at $15/k
        let cached = try CostUsage(inputTokens: 1_000, outputTokens: 500, cachedTokens: 400).cost(pricing: pricing)
        #expect(abs(cached - (1.8 + 0.12 + 7.5)) < 1e-12)
        // No cached price: cached tokens bill as input, once.
        #expect(try CostUsage(inputTokens: 1_000, outputTokens: 0, cachedTokens: 400).cost(pricing: ModelPricing(input: 3, output: 15)) == 3)
        // The provider clients' prompt counts include the cached part (Anthropic's decoders add
        // it in), so it is not added again; Ollama has no cache.
        #expect(CostUsage.reported(.anthropic, promptTokens: 1_000, outputTokens: 5, cacheReadTokens: 400)
                == CostUsage(inputTokens: 1_000, outputTokens: 5, cachedTokens: 400))
        #expect(CostUsage.reported(.openai, promptTokens: 1_000, outputTokens: 5, cacheReadTokens: 400)
                == CostUsage(inputTokens: 1_000, outputTokens: 5, cachedTokens: 400))
        #expect(CostUsage.reported(.ollama, promptTokens: 1_000, outputTokens: 5, cacheReadTokens: 400)
                == CostUsage(inputTokens: 1_000, outputTokens: 5))
        for bad in [CostUsage(inputTokens: -1, outputTokens: 0), CostUsage(inputTokens: 10, outputTokens: 0, cachedTokens: 11)] {
            #expect { try bad.cost(pricing: pricing) } throws: { ($0 as? CostError)?.code == .costCalculationFailed }
        }
        #expect { try CostUsage(inputTokens: 1, outputTokens: 1).cost(pricing: ModelPricing(input: .nan)) }
            throws: { ($0 as? CostError)?.code == .costCalculationFailed }
    }

    /// Anthropic bills a prompt-cache write above the input price: 1.25× for five minutes, 2× for
    /// an hour. Ollama has no cache; a record from before reads as none.
    @Test func cacheWritesCostTheirPremium() throws {
        let pricing = ModelPricing(input: 3, output: 15, cached: 0.3)
        // 1,000 input: 200 read, 500 written (100 for an hour), 300 plain; 100 out.
        let usage = CostUsage.reported(.anthropic, promptTokens: 1_000, outputTokens: 100, cacheReadTokens: 200,
                                       cacheWriteTokens: 500, cacheWriteHourTokens: 100)
        let expected = 0.3 * 3 + 0.4 * 3 * 1.25 + 0.1 * 3 * 2 + 0.2 * 0.3 + 0.1 * 15
        #expect(abs(try usage.cost(pricing: pricing) - expected) < 1e-12)
        #expect(CostUsage.reported(.ollama, promptTokens: 1_000, outputTokens: 100, cacheWriteTokens: 500).cacheWriteTokens == 0)
        #expect { try CostUsage(inputTokens: 100, outputTokens: 0, cachedTokens: 60, cacheWriteTokens: 50).cost(pricing: pricing) }
            throws: { ($0 as? CostError)?.code == .costCalculationFailed }
        let old = try JSONDecoder().decode(CostUsage.self, from: Data(#"{"inputTokens":10,"outputTokens":2,"cachedTokens":1}"#.utf8))
        #expect(old == CostUsage(inputTokens: 10, outputTokens: 2, cachedTokens: 1))
    }

    @Test func settleWritesLedgerTotalsAndMirrorsOnceEvenWhenRetried() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let clock = ManualWallClock(storeTestDate("2026-03-10T12:00:00Z"))
        let db = try await StoreDatabase(path: dir.path())
        let tracker = try CostTracker(database: db, clock: clock)
        let reservation = try await tracker.reserve(Self.call, estimatedCost: 3)
        #expect(await tracker.budgetStatus().periods.allSatisfy { $0.reserved == 3 })
        let entry = try await tracker.settle(reservation, usage: CostUsage(inputTokens: 2_000, outputTokens: 100), pricing: ModelPricing(input: 1, output: 10))
        #expect(entry.cost == 3)
        let again = try await tracker.settle(reservation, usage: CostUsage(inputTokens: 9_000, outputTokens: 0), pricing: Self.dollarPerK)
        #expect(again == entry)
        #expect(await tracker.activeReservations == 0)

        let (ledgerRows, dayTotal, modelAll) = try await db.read("test") { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM cost_ledger") ?? -1,
             try Double.fetchOne(db, sql: "SELECT cost FROM cost_totals WHERE period = 'day' AND period_key = '2026-03-10' AND scope = 'overall'"),
             try Double.fetchOne(db, sql: "SELECT cost FROM cost_totals WHERE period = 'all' AND scope = 'model:sonnet'"))
        }
        #expect(ledgerRows == 1)
        #expect(dayTotal == 3)
        #expect(modelAll == 3)
        let status = await tracker.budgetStatus()
        #expect(status.periods.map(\.spent) == [3, 3, 3])
        #expect(status.periods.allSatisfy { $0.reserved == 0 })

        let store = MemoryStore(database: db, clock: clock)
        let daily = try await store.retrieve(DailyCostSummary.self, partition: "routing/costs", key: "daily/2026-03-10")
        #expect(daily == DailyCostSummary(date: "2026-03-10", total: 3, entries: 1))
        #expect(try await store.retrieve(Double.self, partition: "routing/costs", key: "model/sonnet/total") == 3)
        let mirrored = try await store.query(partition: "routing/costs", pattern: try MemoryPattern("*-task-1-*"))
        #expect(try mirrored.map { try $0.decode(CostLedgerEntry.self) } == [entry])
        await #expect { _ = try await store.retrieve(partition: "routing/costs", key: "daily/2026-03-10", as: .agent("agent-1")) }
            throws: { ($0 as? StoreError)?.code == .accessDenied }
    }

    @Test func holdsAreWrittenByGroupCommitWithoutTheCallWaiting() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let clock = ManualWallClock(storeTestDate("2026-03-10T12:00:00Z"))
        let db = try await StoreDatabase(path: dir.path())
        func heldRows() async throws -> [String] {
            try await db.read("test") { try String.fetchAll($0, sql: "SELECT id FROM cost_reservations ORDER BY created_at, id") }
        }
        var inFlightId = ""
        do {
            let tracker = try CostTracker(database: db, clock: clock, holdWriteDelay: .seconds(3_600))
            // Held in memory at once; a long delay keeps it out of the file until something writes.
            let released = try await tracker.reserve(Self.call, estimatedCost: 1)
            let settledFirst = try await tracker.reserve(Self.call, estimatedCost: 1)
            let inFlight = try await tracker.reserve(Self.call, estimatedCost: 2)
            #expect(await tracker.budgetStatus().periods.allSatisfy { $0.reserved == 4 })
            #expect(try await heldRows().isEmpty)
            // Released before it was written: nothing to write or delete.
            await tracker.release(released)
            // A settlement's transaction carries the holds waiting, less its own.
            try await tracker.settle(settledFirst, usage: Self.usage(dollars: 0.5), pricing: Self.dollarPerK)
            #expect(try await heldRows() == [inFlight.id])
            inFlightId = inFlight.id
            try db.pool.close()
        }
        do {
            // A crash (the pool closed, nothing settled): the next start bills the hold at its estimate.
            let db = try await StoreDatabase(path: dir.path())
            let tracker = try CostTracker(database: db, clock: clock, holdWriteDelay: .milliseconds(20))
            let billed = try await tracker.billUnsettledReservations()
            #expect(billed.map(\.entryId) == [inFlightId] && billed.map(\.cost) == [2])
            #expect(billed.first?.basis == .estimated)
            // With the default delay, a hold reaches the file on its own within a moment.
            let held = try await tracker.reserve(Self.call, estimatedCost: 1)
            var rows: [String] = []
            for _ in 0..<200 where rows.isEmpty {
                try await Task.sleep(for: .milliseconds(10))
                rows = try await db.read("test") { try String.fetchAll($0, sql: "SELECT id FROM cost_reservations") }
            }
            #expect(rows == [held.id])
            let entry = try await tracker.settle(held, usage: Self.usage(dollars: 0.25), pricing: Self.dollarPerK)
            #expect(entry.cost == 0.25)
            #expect(try await db.read("test") { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM cost_reservations") } == 0)
        }
    }

    /// Another fleetd process on the same file (`fleetd mcp` started by an MCP client beside
    /// `fleetd serve`) bills only holds whose process is gone: a live one's are its calls in flight.
    @Test func aLiveProcesssHoldsAreNotBilledAsACrashsLeftovers() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        // The test runner's parent process is alive; pid 999999999 is not (nor a row from before owners).
        let stat = try String(contentsOfFile: "/proc/\(getppid())/stat", encoding: .utf8)
        let start = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")[19]
        let owners: [String: String?] = ["live": "\(getppid()):\(start)", "dead": "999999999:1", "old": nil]
        try await db.write("test") { db in
            for (id, owner) in owners {
                try db.execute(sql: """
                    INSERT INTO cost_reservations (id, model, provider, task_id, agent_id, task_type, estimated_cost, created_at, owner)
                    VALUES (?, 'sonnet', 'anthropic', 't', 'a', 'simple', 1, 0, ?)
                    """, arguments: [id, owner])
            }
        }
        let tracker = try CostTracker(database: db, clock: ManualWallClock(storeTestDate("2026-03-10T12:00:00Z")))
        let billed = try await tracker.billUnsettledReservations()
        #expect(Set(billed.map(\.entryId)) == ["dead", "old"])
        #expect(try await db.read("test") { try String.fetchAll($0, sql: "SELECT id FROM cost_reservations") } == ["live"])
    }

    /// A crashed run's hold billed after midnight is the billing day's in the ledger row (what
    /// reports read) as in the totals (what budgets read); the row used to keep the hold's time.
    @Test func aHoldBilledAfterMidnightIsTheBillingDaysInTheLedgerAndTheTotals() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        let created = storeTestDate("2026-03-10T23:59:30Z").timeIntervalSince1970
        try await db.write("test") { db in
            try db.execute(sql: """
                INSERT INTO cost_reservations (id, model, provider, task_id, agent_id, task_type, estimated_cost, created_at, owner)
                VALUES ('dead', 'sonnet', 'anthropic', 't', 'a', 'simple', 2, ?, '999999999:1')
                """, arguments: [created])
        }
        let clock = ManualWallClock(storeTestDate("2026-03-11T00:05:00Z"))
        let tracker = try CostTracker(database: db, clock: clock)
        let billed = try await tracker.billUnsettledReservations()
        #expect(billed.map(\.entryId) == ["dead"] && billed.first?.timestamp == clock.now)
        #expect(await tracker.budgetStatus().periods.first { $0.period == .day }?.spent == 2)
        let report = try await tracker.report(period: .day, breakdowns: [], tenant: nil)
        #expect(report.periodKey == "2026-03-11" && report.total.entries == 1 && report.total.cost == 2)
    }

    @Test func withAWriteBehindRecorderTheMirrorsFollowTheLedgerRow() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let clock = ManualWallClock(storeTestDate("2026-03-10T12:00:00Z"))
        let db = try await StoreDatabase(path: dir.path())
        let store = MemoryStore(database: db, clock: clock)
        let recorder = WriteBehindRecorder(store: store, interval: .seconds(3_600))
        let tracker = try CostTracker(database: db, clock: clock, mirrors: recorder)
        let reservation = try await tracker.reserve(Self.call, estimatedCost: 3)
        let entry = try await tracker.settle(reservation, usage: Self.usage(dollars: 2), pricing: Self.dollarPerK)
        // The money is in the file when settle returns; the mirrors wait for the recorder's batch.
        #expect(try await db.read("test") { try Double.fetchOne($0, sql: "SELECT cost FROM cost_ledger") } == 2)
        #expect(await tracker.budgetStatus().periods.map(\.spent) == [2, 2, 2])
        #expect(try await store.count(partition: "routing/costs", as: .system) == 0)
        await recorder.flush()
        #expect(try await store.retrieve(DailyCostSummary.self, partition: "routing/costs", key: "daily/2026-03-10")
                == DailyCostSummary(date: "2026-03-10", total: 2, entries: 1))
        #expect(try await store.retrieve(Double.self, partition: "routing/costs", key: "model/sonnet/total") == 2)
        let mirrored = try await store.query(partition: "routing/costs", pattern: try MemoryPattern("*-task-1-*"))
        #expect(try mirrored.map { try $0.decode(CostLedgerEntry.self) } == [entry])
    }

    @Test func aHoldMadeWhileATransactionIsWrittenIsWrittenAfterIt() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        let tracker = try CostTracker(database: db, holdWriteDelay: .milliseconds(20))
        // Another connection holds the write lock, so the settlement below is mid-transaction
        // (waiting for it) when the second hold is made and its delay runs out.
        try holdWriteLock(at: dir.path(), for: 0.4)
        let first = try await tracker.reserve(Self.call, estimatedCost: 1)
        let settling = Task { try await tracker.settle(first, usage: Self.usage(dollars: 0.5), pricing: Self.dollarPerK) }
        try await Task.sleep(for: .milliseconds(50))
        let second = try await tracker.reserve(Self.call, estimatedCost: 1)
        _ = try await settling.value
        var rows: [String] = []
        for _ in 0..<200 where rows.isEmpty {
            try await Task.sleep(for: .milliseconds(10))
            rows = try await db.read("test") { try String.fetchAll($0, sql: "SELECT id FROM cost_reservations") }
        }
        #expect(rows == [second.id], "the hold made during the settlement's transaction reached the file on its own")
    }

    @Test func stoppingWritesTheHoldsThatWait() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        let tracker = try CostTracker(database: db, holdWriteDelay: .seconds(3_600))
        let held = try await tracker.reserve(Self.call, estimatedCost: 1)
        await tracker.flushPendingWrites()
        #expect(try await db.read("test") { try String.fetchAll($0, sql: "SELECT id FROM cost_reservations") } == [held.id])
    }

    @Test func thresholdAlertsFireOncePerPeriodAcrossRestarts() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let clock = ManualWallClock(storeTestDate("2026-03-10T08:00:00Z"))
        let db = try await StoreDatabase(path: dir.path())
        let config = CostConfiguration(budgetLimits: .init(daily: 10, monthly: 1_000),
                                       alertThresholds: .init(dailyPercent: 80, monthlyPercent: 90), policy: .allowWithAlert)
        var tracker = try CostTracker(database: db, configuration: config, clock: clock)
        var alerts = tracker.alerts.makeAsyncIterator()
        func spend(_ dollars: Double, _ id: String) async throws {
            try await tracker.record(Self.call, usage: Self.usage(dollars: dollars), pricing: Self.dollarPerK, entryId: id)
        }
        try await spend(7, "e1")
        #expect(try await tracker.raisedAlerts().isEmpty)
        try await spend(1.5, "e2")                 // 8.5 of 10: crosses 80%
        let first = await alerts.next()
        #expect(first?.period == .day && first?.thresholdPercent == 80 && first?.periodKey == "2026-03-10")
        #expect(first?.code == "COST_002")
        try await spend(0.5, "e3")                 // 9.0: nothing new
        #expect(try await tracker.raisedAlerts().count == 1)

        // A restart: a new tracker on the same file must not repeat the 80% alert.
        tracker = try CostTracker(database: db, configuration: config, clock: clock)
        alerts = tracker.alerts.makeAsyncIterator()
        try await spend(0.5, "e4")                 // 9.5
        #expect(try await tracker.raisedAlerts().count == 1)
        try await spend(1, "e5")                   // 10.5: 100%
        let second = await alerts.next()
        #expect(second?.thresholdPercent == 100 && second?.period == .day)
        #expect(try await tracker.raisedAlerts().map(\.thresholdPercent) == [80, 100])

        // The next day is a new period: 80% fires again, once.
        clock.advance(by: 86_400)
        try await spend(9, "e6")
        let third = await alerts.next()
        #expect(third?.periodKey == "2026-03-11" && third?.thresholdPercent == 80)
        try await spend(0.1, "e7")
        #expect(try await tracker.raisedAlerts().count == 1)
    }

    @Test func blockPolicyRefusesPastTheLimit() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        let tracker = try CostTracker(database: db, configuration: CostConfiguration(budgetLimits: .init(daily: 1), policy: .block), clock: ManualWallClock())
        let first = try await tracker.reserve(Self.call, estimatedCost: 0.6)
        await #expect { _ = try await tracker.reserve(Self.call, estimatedCost: 0.6) } throws: { error in
            guard let error = error as? CostError else { return false }
            return error.code == .budgetExceeded && error.code.rawValue == "ROUTER_002" && error.period == .day
        }
        await tracker.release(first)
        let second = try await tracker.reserve(Self.call, estimatedCost: 0.6)   // room again after release
        try await tracker.settle(second, usage: Self.usage(dollars: 1), pricing: Self.dollarPerK)
        #expect(await tracker.budgetStatus().isExhausted)
        await #expect { _ = try await tracker.reserve(Self.call, estimatedCost: 0.01) } throws: { ($0 as? CostError)?.code == .budgetExceeded }
    }

    @Test("a $0 call (a free model) is admitted past a spent budget and a spent key budget, and still held")
    func aFreeCallPassesASpentBudget() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        let tracker = try CostTracker(database: db, configuration: CostConfiguration(budgetLimits: .init(daily: 1), policy: .block), clock: ManualWallClock())
        let keyLimits = CostConfiguration.BudgetLimits(daily: 0.5)
        let paid = CostCall(model: "sonnet", provider: "anthropic", taskId: "task-paid", agentId: "agent-1", taskType: "general", keyId: "key-1")
        let free = CostCall(model: "local-builtin", provider: "builtin", taskId: "task-free", agentId: "agent-1", taskType: "general", keyId: "key-1")
        let r = try await tracker.reserve(paid, estimatedCost: 0.4, keyLimits: keyLimits)
        try await tracker.settle(r, usage: Self.usage(dollars: 1.2), pricing: Self.dollarPerK)   // past both limits
        #expect(await tracker.budgetStatus().isExhausted)
        await #expect { _ = try await tracker.reserve(paid, estimatedCost: 0.0001, keyLimits: keyLimits) } throws: { ($0 as? CostError)?.code == .budgetExceeded }
        let held = try await tracker.reserve(free, estimatedCost: 0, keyLimits: keyLimits)
        #expect(await tracker.activeReservations == 1)
        let entry = try await tracker.settle(held, usage: CostUsage(inputTokens: 10, outputTokens: 10), pricing: ModelPricing(input: 0, output: 0))
        #expect(entry.cost == 0)
        #expect(await tracker.activeReservations == 0)
    }

    @Test("a reload that lowers a limit below the spend raises its COST_002 alerts at once, once, with the limit to 4 decimals")
    func loweringALimitBelowTheSpendAlertsAtOnce() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        let config = CostConfiguration(budgetLimits: .init(daily: 10), alertThresholds: .init(dailyPercent: 80, monthlyPercent: nil), policy: .block)
        let tracker = try CostTracker(database: db, configuration: config, clock: ManualWallClock(storeTestDate("2026-03-10T08:00:00Z")))
        var alerts = tracker.alerts.makeAsyncIterator()
        let centPerK = ModelPricing(input: 0.01, output: 0)   // 370 tokens: $0.0037
        try await tracker.record(Self.call, usage: CostUsage(inputTokens: 370, outputTokens: 0), pricing: centPerK, entryId: "e1")
        #expect(try await tracker.raisedAlerts().isEmpty)

        var lowered = config
        lowered.budgetLimits.daily = 0.002
        try await tracker.update(configuration: lowered, memoryConfiguration: MemoryStoreConfiguration())
        let first = await alerts.next()
        let second = await alerts.next()
        #expect(first?.thresholdPercent == 80 && second?.thresholdPercent == 100 && second?.period == .day)
        #expect(second?.message.hasSuffix("spent $0.0037 of $0.0020") == true, "\(second?.message ?? "")")
        // Once per period and threshold: another reload or a settlement raises nothing new.
        try await tracker.update(configuration: lowered, memoryConfiguration: MemoryStoreConfiguration())
        try await tracker.record(Self.call, usage: CostUsage(inputTokens: 100, outputTokens: 0), pricing: centPerK, entryId: "e2")
        #expect(try await tracker.raisedAlerts().map(\.thresholdPercent) == [80, 100])
    }

    @Test func cheaperOnlyPolicyAdmitsOnlyCheaperAlternatives() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        let tracker = try CostTracker(database: db, configuration: CostConfiguration(budgetLimits: .init(daily: 1), policy: .cheaperOnly), clock: ManualWallClock())
        let r = try await tracker.reserve(Self.call, estimatedCost: 0.9)
        try await tracker.settle(r, usage: Self.usage(dollars: 0.9), pricing: Self.dollarPerK)
        await #expect { _ = try await tracker.reserve(Self.call, estimatedCost: 0.5) } throws: { error in
            (error as? CostError)?.code == .budgetExceeded && "\(error)".contains("cheaper-only")
        }
        let cheaper = try await tracker.reserve(Self.call, estimatedCost: 0.5, isCheaperAlternative: true)
        #expect(await tracker.budgetStatus().policy == .cheaperOnly)
        try await tracker.settle(cheaper, usage: Self.usage(dollars: 0.5), pricing: Self.dollarPerK)
    }

    @Test func allowWithAlertPolicyLetsCallsThroughAndAlertsAtTheLimit() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        let config = CostConfiguration(budgetLimits: .init(weekly: 1), alertThresholds: .init(dailyPercent: nil, monthlyPercent: nil), policy: .allowWithAlert)
        let tracker = try CostTracker(database: db, configuration: config, clock: ManualWallClock())
        var alerts = tracker.alerts.makeAsyncIterator()
        let a = try await tracker.reserve(Self.call, estimatedCost: 0.8)
        let b = try await tracker.reserve(Self.call, estimatedCost: 0.8)   // past the limit: allowed
        _ = try await tracker.settleAll([CostSettlement(reservation: a, usage: Self.usage(dollars: 0.8), pricing: Self.dollarPerK),
                                         CostSettlement(reservation: b, usage: Self.usage(dollars: 0.8), pricing: Self.dollarPerK)])
        let alert = await alerts.next()
        #expect(alert?.period == .week && alert?.thresholdPercent == 100 && alert?.periodKey == "2026-W01")
        #expect(abs((await tracker.budgetStatus().periods.first { $0.period == .week }?.spent ?? 0) - 1.6) < 1e-9)
    }

    @Test func concurrentReservationsNeverOvershootTheLimit() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        let limit = 10.0, estimate = 0.1
        let tracker = try CostTracker(database: db, configuration: CostConfiguration(budgetLimits: .init(daily: limit)), clock: ManualWallClock())
        let admitted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<500 {
                group.addTask {
                    let call = CostCall(model: "m", provider: "p", taskId: "t\(i)", agentId: "a", taskType: "race")
                    guard let r = try? await tracker.reserve(call, estimatedCost: estimate) else { return false }
                    try await Task.sleep(for: .milliseconds(Int.random(in: 0...3)))
                    try await tracker.settle(r, usage: Self.usage(dollars: estimate), pricing: Self.dollarPerK)
                    return true
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        let spent = try await db.read("test") { try Double.fetchOne($0, sql: "SELECT TOTAL(cost) FROM cost_ledger") ?? -1 }
        #expect(spent <= limit + estimate + 1e-9)
        #expect(admitted >= 99)
        #expect(admitted <= 101)
        #expect(await tracker.activeReservations == 0)
    }

    @Test func concurrentSettlementsAreGroupCommittedWithExactTotals() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        let tracker = try CostTracker(database: db, clock: ManualWallClock(storeTestDate("2026-03-10T12:00:00Z")))
        let models = ["a", "b", "c"]
        let reservations = try await withThrowingTaskGroup(of: CostReservation.self) { group in
            for i in 0..<300 {
                group.addTask {
                    let call = CostCall(model: models[i % 3], provider: "p", taskId: "t\(i)", agentId: "a", taskType: "group")
                    return try await tracker.reserve(call, estimatedCost: 0.001)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        // Every reservation settled at once, some twice: each counts exactly once.
        let entries = try await withThrowingTaskGroup(of: CostLedgerEntry.self) { group in
            for (index, reservation) in reservations.enumerated() {
                for _ in 0..<(index % 10 == 0 ? 2 : 1) {
                    group.addTask { try await tracker.settle(reservation, usage: CostUsage(inputTokens: 1_000, outputTokens: 0), pricing: Self.dollarPerK) }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(entries.count == 330)
        #expect(Set(entries.map(\.entryId)).count == 300)
        let (rows, total, count, perModel) = try await db.read("test") { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM cost_ledger") ?? -1,
             try Double.fetchOne(db, sql: "SELECT cost FROM cost_totals WHERE period = 'day' AND period_key = '2026-03-10' AND scope = 'overall'") ?? -1,
             try Int.fetchOne(db, sql: "SELECT entries FROM cost_totals WHERE period = 'all' AND scope = 'overall'") ?? -1,
             try Int.fetchAll(db, sql: "SELECT entries FROM cost_totals WHERE period = 'month' AND scope LIKE 'model:%' ORDER BY scope"))
        }
        #expect(rows == 300)
        #expect(abs(total - 300) < 1e-9)
        #expect(count == 300)
        #expect(perModel == [100, 100, 100])
        #expect(await tracker.activeReservations == 0)
        #expect(await tracker.budgetStatus().periods.allSatisfy { abs($0.spent - 300) < 1e-9 })
    }

    @Test func periodKeysFollowTheTimeZoneAndISOWeeks() throws {
        let utc = PeriodCalendar()
        #expect(utc.key(.week, at: storeTestDate("2026-01-01T12:00:00Z")) == "2026-W01")   // Thursday
        #expect(utc.key(.week, at: storeTestDate("2027-01-01T12:00:00Z")) == "2026-W53")   // Friday
        #expect(utc.key(.week, at: storeTestDate("2024-12-30T12:00:00Z")) == "2025-W01")   // Monday
        let week = utc.interval(.week, containing: storeTestDate("2026-03-11T12:00:00Z"))
        #expect(week.start == storeTestDate("2026-03-09T00:00:00Z"))                       // a Monday
        let newYork = try PeriodCalendar(timeZoneIdentifier: "America/New_York")
        #expect(newYork.key(.day, at: storeTestDate("2026-01-01T04:59:00Z")) == "2025-12-31")
        #expect(newYork.key(.month, at: storeTestDate("2026-01-01T04:59:00Z")) == "2025-12")
        #expect(newYork.key(.day, at: storeTestDate("2026-01-01T05:00:00Z")) == "2026-01-01")
        #expect { try PeriodCalendar(timeZoneIdentifier: "Mars/Olympus") } throws: { ($0 as? CostError)?.code == .invalidConfiguration }
        #expect { try CostConfiguration(budgetLimits: .init(daily: -1)).validate() } throws: { "\($0)".contains("budgetLimits.daily") }
        #expect { try CostConfiguration(alertThresholds: .init(dailyPercent: 150)).validate() } throws: { "\($0)".contains("dailyPercent") }
    }
}
