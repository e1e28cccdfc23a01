import FleetSupport
import Foundation
import Store
import Testing

@Suite("CostReport")
struct CostReportTests {
    @Test func reportGroupsThePeriod() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let clock = ManualWallClock(storeTestDate("2026-02-27T10:00:00Z"))
        let db = try await StoreDatabase(path: dir.path())
        let tracker = try CostTracker(database: db, clock: clock)
        let pricing = ModelPricing(input: 1, output: 2)
        let odd = "review, \"quick\"\nsecond line"
        try await tracker.record(CostCall(model: "opus", provider: "anthropic", taskId: "t1", agentId: "a1", taskType: odd),
                                 usage: CostUsage(inputTokens: 1_000, outputTokens: 1_000), pricing: pricing, entryId: "e1")   // $3
        try await tracker.record(CostCall(model: "gpt", provider: "openai", taskId: "t2", agentId: "a2", taskType: "plain"),
                                 usage: CostUsage(inputTokens: 500, outputTokens: 0, cachedTokens: 100), pricing: pricing, entryId: "e2") // $0.5
        clock.advance(by: 2 * 86_400) // 2026-03-01: another month, another week
        try await tracker.record(CostCall(model: "opus", provider: "anthropic", taskId: "t3", agentId: "a1", taskType: "plain"),
                                 usage: CostUsage(inputTokens: 1_000, outputTokens: 0), pricing: pricing, entryId: "e3")     // $1

        let feb = try await CostReport.load(database: db, period: .month, now: storeTestDate("2026-02-10T00:00:00Z"))
        #expect(feb.periodKey == "2026-02")
        #expect(feb.total.cost == 3.5 && feb.total.entries == 2 && feb.total.cachedTokens == 100)
        #expect(feb.byModel.map(\.name) == ["opus", "gpt"])
        #expect(feb.byProvider.map(\.cost) == [3, 0.5])
        #expect(Set(feb.byTaskType.map(\.name)) == [odd, "plain"])
        #expect(feb.byAgent.map(\.name) == ["a1", "a2"])
        let march = try await CostReport.load(database: db, period: .day, now: clock.now, timeZoneIdentifier: "UTC")
        #expect(march.total.cost == 1 && march.periodKey == "2026-03-01")
        // 2026-03-01T10:00Z is 02:00 on March 1st in Los Angeles: the same day there.
        let la = try await CostReport.load(database: db, period: .day, now: clock.now, timeZoneIdentifier: "America/Los_Angeles")
        #expect(la.periodKey == "2026-03-01" && la.total.cost == 1)
    }
}
