import FleetSupport
import Foundation
import GRDB
import Store
import Testing

@Suite("API keys: made once, stored as a hash, revoked, expired; spend per key and tenant")
struct APIKeyStoreTests {
    @Test func aKeyIsShownOnceAndStoredOnlyAsAHash() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let clock = ManualWallClock(storeTestDate("2026-03-10T12:00:00Z"))
        let db = try await StoreDatabase(path: dir.path())
        let keys = APIKeyStore(database: db, clock: clock)
        #expect(try await keys.hasKeys() == false)
        let limits = APIKeyLimits(budget: .init(daily: 5), requestsPerMinute: 60, models: ["gpt-4o-mini", "claude-haiku"], providers: [.openai])
        let issued = try await keys.create(tenant: "acme", user: "alice", name: "ci", limits: limits,
                                           expiresAt: clock.now.addingTimeInterval(30 * 86_400))
        let text = issued.secret
        #expect(text.hasPrefix("fk-\(issued.record.id)-"))
        #expect(text.count == 55, "fk- + 8 + - + 43")
        #expect(issued.record.id.count == 8)
        #expect(!"\(issued)".contains(String(text.suffix(43))), "printing the issued key shows its prefix only")
        #expect(try await keys.hasKeys())

        guard case .valid(let found) = try await keys.verify(text) else {
            Issue.record("the key just made must verify")
            return
        }
        #expect(found == issued.record)
        #expect(found.limits == limits)
        #expect(try await keys.list() == [issued.record])

        // One character of the secret changed, an unknown id, a malformed key: all unknown.
        var tampered = Array(text)
        tampered[tampered.count - 2] = tampered[tampered.count - 2] == "A" ? "B" : "A"
        #expect(try await keys.verify(String(tampered)) == .unknown)
        #expect(try await keys.verify("fk-zzzzzzzz-" + String(text.suffix(43))) == .unknown)
        #expect(try await keys.verify("fk-short") == .unknown)
        #expect(try await keys.verify("") == .unknown)

        // Nothing of the secret is in the database file or its WAL.
        let secretPart = String(text.suffix(43))
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.url.path) {
            let bytes = try Data(contentsOf: dir.url.appendingPathComponent(file))
            #expect(bytes.range(of: Data(secretPart.utf8)) == nil, "\(file) holds the key's secret")
        }
        // What is stored is SHA-256 of the 32 secret bytes.
        let stored = try await db.read("test") { db in try Data.fetchOne(db, sql: "SELECT secret_hash FROM api_keys") }
        #expect(stored?.count == 32)
    }

    @Test func revokedAndExpiredKeysAreTold() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let clock = ManualWallClock(storeTestDate("2026-03-10T12:00:00Z"))
        let db = try await StoreDatabase(path: dir.path())
        let keys = APIKeyStore(database: db, clock: clock)
        let short = try await keys.create(tenant: "acme", expiresAt: clock.now.addingTimeInterval(60))
        let other = try await keys.create(tenant: "globex")
        clock.advance(by: 61)
        #expect(try await keys.verify(short.secret) == .expired(short.record))
        let first = try await keys.revoke(id: other.record.id)
        let revoked = try #require(first).record
        #expect(revoked.revokedAt == clock.now)
        #expect(first?.wasAlreadyRevoked == false)
        clock.advance(by: 5)
        let second = try await keys.revoke(id: other.record.id)
        #expect(second?.record.revokedAt == revoked.revokedAt, "revoking twice keeps the first time")
        #expect(second?.wasAlreadyRevoked == true, "and says it had been revoked before")
        #expect(try await keys.verify(other.secret) == .revoked(revoked))
        #expect(try await keys.revoke(id: "nosuchid") == nil)
        #expect(Set(try await keys.list().map(\.id)) == [short.record.id, other.record.id])
    }

    @Test func badArgumentsAreRefused() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let keys = APIKeyStore(database: try await StoreDatabase(path: dir.path()))
        for (tenant, limits) in [("", APIKeyLimits()), ("a/b", APIKeyLimits()), ("acme", APIKeyLimits(budget: .init(daily: 0))),
                                 ("acme", APIKeyLimits(requestsPerMinute: 0)), ("acme", APIKeyLimits(models: []))] {
            await #expect(throws: StoreError.self) { try await keys.create(tenant: tenant, limits: limits) }
        }
        await #expect(throws: StoreError.self) { try await keys.create(tenant: "acme", expiresAt: Date(timeIntervalSince1970: 0)) }
        #expect(try await keys.hasKeys() == false)
    }

    @Test func spendIsRecordedPerKeyAndTenantAndTokensPerMinuteAreCounted() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let clock = ManualWallClock(storeTestDate("2026-03-10T12:00:00Z"))
        let db = try await StoreDatabase(path: dir.path())
        let tracker = try CostTracker(database: db, clock: clock)
        let keys = APIKeyStore(database: db, clock: clock)
        let pricing = ModelPricing(input: 1, output: 0)
        func call(_ task: String, key: String?, tenant: String?) -> CostCall {
            CostCall(model: "m", provider: "anthropic", taskId: task, agentId: "a", taskType: "chat", keyId: key, tenantId: tenant)
        }
        try await tracker.record(call("t1", key: "k1", tenant: "acme"), usage: CostUsage(inputTokens: 1_000, outputTokens: 0), pricing: pricing, entryId: "e1")
        clock.advance(by: 30)
        try await tracker.record(call("t2", key: "k2", tenant: "acme"), usage: CostUsage(inputTokens: 2_000, outputTokens: 0), pricing: pricing, entryId: "e2")
        try await tracker.record(call("t3", key: nil, tenant: "globex"), usage: CostUsage(inputTokens: 500, outputTokens: 0), pricing: pricing, entryId: "e3")
        try await tracker.record(call("t4", key: nil, tenant: nil), usage: CostUsage(inputTokens: 250, outputTokens: 0), pricing: pricing, entryId: "e4")

        let report = try await CostReport.load(database: db, period: .day, now: clock.now, breakdowns: [.key, .tenant])
        #expect(report.byKey?.map(\.name) == ["k2", "k1", "-"])
        #expect(report.byKey?.map(\.cost) == [2, 1, 0.75])
        #expect(report.byTenant?.map(\.name) == ["acme", "globex", "-"])
        #expect(report.byTenant?.map(\.cost) == [3, 0.5, 0.25])
        #expect(report.sections.map(\.title).suffix(2) == ["key", "tenant"])
        let plain = try await CostReport.load(database: db, period: .day, now: clock.now)
        #expect(plain.byKey == nil && plain.sections.count == 5, "the breakdowns come when asked for")
        let acme = try await CostReport.load(database: db, period: .day, now: clock.now, breakdowns: [.key], tenant: "acme")
        #expect(acme.total.cost == 3 && acme.byKey?.map(\.name) == ["k2", "k1"] && acme.tenant == "acme")

        // Tokens per minute: k1's row is 30 s old, then ages out of the window.
        let used = try await keys.tokensUsed(keyId: "k1", since: clock.now.addingTimeInterval(-60))
        #expect(used.tokens == 1_000 && used.oldest == clock.now.addingTimeInterval(-30))
        clock.advance(by: 31)
        #expect(try await keys.tokensUsed(keyId: "k1", since: clock.now.addingTimeInterval(-60)).tokens == 0)
    }
}
