import FakeProvider
import FleetSupport
import Foundation
import Store
import Testing

/// Keys on the shared store, seen through two stores (two instances' pools) on one database.
@Suite("PostgreSQL keys: made on one instance, valid on every instance", PostgresTestCluster.trait)
struct PostgresAPIKeyStoreTests {
    @Test func aKeyMadeOnOneInstanceAuthenticatesAndIsRevokedOnTheOther() async throws {
        let database = try await PostgresTestCluster.freshDatabase()
        let clock = ManualWallClock(storeTestDate("2026-03-10T12:00:00Z"))
        try await PostgresTestCluster.withStore(database) { first in
            var second = database
            second.instanceId = "instance-b"
            try await PostgresTestCluster.withStore(second) { other in
                let a = APIKeyStore(postgres: first, clock: clock), b = APIKeyStore(postgres: other, clock: clock)
                #expect(try await b.hasKeys() == false)
                let limits = APIKeyLimits(budget: .init(daily: 5, monthly: 50), requestsPerMinute: 60, tokensPerMinute: 1_000,
                                          models: ["gpt-4o-mini"], providers: [.openai], agentTypes: ["coder"])
                let issued = try await a.create(tenant: "acme", user: "alice", name: "ci", limits: limits,
                                                expiresAt: clock.now.addingTimeInterval(86_400))
                #expect(try await b.hasKeys())
                guard case .valid(let found) = try await b.verify(issued.secret) else {
                    Issue.record("a key made on instance A must verify on instance B")
                    return
                }
                #expect(found == issued.record)
                #expect(try await b.list() == [issued.record])
                #expect(try await b.key(id: issued.record.id) == issued.record)
                // Only a hash is stored; a changed secret or an unknown id is not a key.
                #expect(try await PostgresTestCluster.number(database, "SELECT count(*) FROM api_keys WHERE length(secret_hash) = 32") == 1)
                var tampered = Array(issued.secret)
                tampered[tampered.count - 2] = tampered[tampered.count - 2] == "A" ? "B" : "A"
                #expect(try await b.verify(String(tampered)) == .unknown)
                #expect(try await b.verify("fk-zzzzzzzz-" + String(issued.secret.suffix(43))) == .unknown)
                // Revoked through B: refused by A from its next check.
                let revoked = try await b.revoke(id: issued.record.id)
                #expect(revoked?.record.revokedAt != nil && revoked?.wasAlreadyRevoked == false)
                guard case .revoked = try await a.verify(issued.secret) else {
                    Issue.record("a key revoked on instance B must be refused on instance A")
                    return
                }
                // Revoked again through A: said so, with B's time kept.
                let again = try await a.revoke(id: issued.record.id)
                #expect(again?.wasAlreadyRevoked == true && again?.record.revokedAt == revoked?.record.revokedAt)
                #expect(try await a.revoke(id: "nosuchid") == nil)
                // Expiry is the same on every instance.
                let short = try await a.create(tenant: "acme", expiresAt: clock.now.addingTimeInterval(60))
                clock.advance(by: 61)
                guard case .expired = try await b.verify(short.secret) else {
                    Issue.record("an expired key must be refused")
                    return
                }
                await #expect(throws: StoreError.self) { try await a.create(tenant: "not a tenant") }
            }
        }
    }

    @Test func aKeysTokensAndBudgetAreCountedFleetWide() async throws {
        let database = try await PostgresTestCluster.freshDatabase()
        try await PostgresTestCluster.withStore(database) { first in
            var second = database
            second.instanceId = "instance-b"
            try await PostgresTestCluster.withStore(second) { other in
                let keys = APIKeyStore(postgres: first)
                let limits = APIKeyLimits(budget: .init(daily: 0.25))
                let key = try await keys.create(tenant: "acme", limits: limits).record
                let budget = CostConfiguration(budgetLimits: .init(daily: 100))
                let a = try PostgresCostTracker(store: first, configuration: budget), b = try PostgresCostTracker(store: other, configuration: budget)
                let call = { (n: Int) in CostCall(model: "m", provider: "openai", taskId: "t\(n)", agentId: "a", taskType: "simple",
                                                  keyId: key.id, tenantId: "acme") }
                // Calls billed on both instances count in the key's tokens per minute, read from either.
                let r1 = try await a.reserve(call(1), estimatedCost: 0.1, isCheaperAlternative: false, keyLimits: limits.budget)
                try await a.settle(r1, usage: CostUsage(inputTokens: 300, outputTokens: 200), pricing: ModelPricing(input: 0.1), basis: .reported)
                let r2 = try await b.reserve(call(2), estimatedCost: 0.1, isCheaperAlternative: false, keyLimits: limits.budget)
                try await b.settle(r2, usage: CostUsage(inputTokens: 100, outputTokens: 50), pricing: ModelPricing(input: 0.1), basis: .reported)
                let used = try await APIKeyStore(postgres: other).tokensUsed(keyId: key.id, since: Date().addingTimeInterval(-60))
                #expect(used.tokens == 650)
                #expect(used.oldest != nil)
                #expect(try await keys.tokensUsed(keyId: "other", since: Date().addingTimeInterval(-60)).tokens == 0)
                // The key's budget is held fleet-wide: spent 0.04 + two holds of 0.1 on A and B, the third refused.
                _ = try await a.reserve(call(3), estimatedCost: 0.1, isCheaperAlternative: false, keyLimits: limits.budget)
                _ = try await b.reserve(call(4), estimatedCost: 0.1, isCheaperAlternative: false, keyLimits: limits.budget)
                let refusal = await #expect(throws: CostError.self) {
                    try await a.reserve(call(5), estimatedCost: 0.1, isCheaperAlternative: false, keyLimits: limits.budget)
                }
                #expect(refusal?.message.contains("key \(key.id)") == true)
            }
        }
    }

    @Test func aKeysRequestsPerMinuteAreCountedFleetWide() async throws {
        let database = try await PostgresTestCluster.freshDatabase()
        let clock = ManualWallClock(storeTestDate("2026-03-10T12:00:10Z"))
        try await PostgresTestCluster.withStore(database) { first in
            var second = database
            second.instanceId = "instance-b"
            try await PostgresTestCluster.withStore(second) { other in
                let a = APIKeyStore(postgres: first, clock: clock), b = APIKeyStore(postgres: other, clock: clock)
                #expect(a.isShared)
                // 20 requests at once, half through each instance, against 7 a minute.
                let waits = await withTaskGroup(of: Int??.self) { group in
                    for n in 0..<20 {
                        let keys = n.isMultiple(of: 2) ? a : b
                        group.addTask { try? await keys.admitRequest(keyId: "k1", perMinute: 7) }
                    }
                    var all: [Int?] = []
                    for await wait in group { all.append(wait ?? -1) }
                    return all
                }
                #expect(waits.filter { $0 == nil }.count == 7)
                #expect(waits.filter { $0 == 50 }.count == 13, "refused ones wait for the window's end: \(waits)")
                // Another key has its own count; the next minute starts again.
                let other = try await b.admitRequest(keyId: "k2", perMinute: 1)
                #expect(other == nil)
                clock.advance(by: 50)
                let nextMinute = try await b.admitRequest(keyId: "k1", perMinute: 7)
                #expect(nextMinute == nil)
            }
        }
        // On SQLite the store does not count (the service's in-process limiter does).
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let local = APIKeyStore(database: try await StoreDatabase(path: dir.path()))
        #expect(!local.isShared)
        #expect(try await local.admitRequest(keyId: "k1", perMinute: 1) == nil)
        #expect(try await local.admitRequest(keyId: "k1", perMinute: 1) == nil)
    }

    @Test func anUnreachableStoreIsAnErrorNotAnUnknownKey() async throws {
        // A port that refuses connections for the whole test (bound, never listening).
        let refusing = try RefusingPort()
        defer { withExtendedLifetime(refusing) {} }
        let port = refusing.port
        let store = PostgresStore(configuration: PostgresConfiguration(host: "127.0.0.1", port: port, database: "x", username: "fleetd",
                                                                       tls: .disable, operationTimeout: .seconds(1)))
        let keys = APIKeyStore(postgres: store)
        let error: PostgresStoreError? = await withTaskGroup(of: PostgresStoreError?.self) { group in
            group.addTask { try? await store.run(); return nil }
            defer { group.cancelAll() }
            do {
                _ = try await keys.verify("fk-abcdefgh-" + String(repeating: "A", count: 43))
                return nil
            } catch {
                return error as? PostgresStoreError
            }
        }
        // The authenticator answers 503 AUTH_UNAVAILABLE on an error: a key is never taken as unknown (or valid) unchecked.
        #expect(error != nil)
        #expect(error?.message.contains("127.0.0.1:\(port)") == true)
    }
}
