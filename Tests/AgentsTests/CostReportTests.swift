import Agents
import Foundation
import Streaming
import Testing

@Suite("CostReport and formatters")
struct CostReportTests {
    @Test func reportGroupsThePeriodAndFormatsTableJSONAndCSV() async throws {
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

        let csv = try CostReportFormatter.render(feb, format: .csv)
        #expect(csv.hasPrefix("period,period_key,section,name,cost_usd,entries,input_tokens,output_tokens,cached_tokens\r\n"))
        #expect(csv.hasSuffix("\r\n"))
        #expect(csv.contains("month,2026-02,task type,\"review, \"\"quick\"\"\nsecond line\",3.000000,1,1000,1000,0\r\n"))
        #expect(csv.contains("month,2026-02,total,total,3.500000,2,1500,1000,100\r\n"))
        // Every record break is CRLF (the one bare LF is inside the quoted field).
        #expect(csv.replacingOccurrences(of: "\r\n", with: "").filter { $0 == "\r" }.isEmpty)

        let json = try CostReportFormatter.render(feb, format: .json)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        #expect(try decoder.decode(CostReport.self, from: Data(json.utf8)) == feb)

        let table = try CostReportFormatter.render(march, format: .table)
        let lines = table.split(separator: "\n").dropFirst()
        #expect(Set(lines.map(\.count)).count == 1)  // aligned: every row as wide as the header
        #expect(table.contains("Costs for day 2026-03-01 (UTC)"))
    }

    @Test func csvFieldQuotingFollowsRFC4180() {
        #expect(CostReportFormatter.csvField("plain") == "plain")
        #expect(CostReportFormatter.csvField("a,b") == "\"a,b\"")
        #expect(CostReportFormatter.csvField("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CostReportFormatter.csvField("line\r\nbreak") == "\"line\r\nbreak\"")
        #expect(CostReportFormatter.csvField("cr\ronly") == "\"cr\ronly\"")
    }
}
