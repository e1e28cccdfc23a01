import FakeProvider
import FleetSupport
import Foundation
import Store
import Testing

/// Two quota managers, each on its own store (its own pool and instance id), stand for two fleetd
/// instances on one database.
@Suite("PostgreSQL quotas: one provider quota for every instance", PostgresTestCluster.trait)
struct PostgresQuotaManagerTests {
    static let config = QuotaConfiguration(providers: [
        "anthropic": .init(requestsPerDay: 10, requestsPerMonth: 1_000),
        "openai": .init(tokensPerDay: 1_000),
    ])

    static func twoInstances<T: Sendable>(clock: ManualWallClock,
                                          _ body: @escaping @Sendable (PostgresQuotaManager, PostgresQuotaManager, PostgresConfiguration) async throws -> T) async throws -> T {
        let database = try await PostgresTestCluster.freshDatabase()
        return try await PostgresTestCluster.withStore(database) { first in
            var second = database
            second.instanceId = "instance-b"
            return try await PostgresTestCluster.withStore(second) { other in
                try await body(try PostgresQuotaManager(store: first, configuration: Self.config, clock: clock, refreshInterval: 0),
                               try PostgresQuotaManager(store: other, configuration: Self.config, clock: clock, refreshInterval: 0), database)
            }
        }
    }

    @Test func concurrentAdmissionsFromTwoInstancesNeverPassARequestLimit() async throws {
        let clock = ManualWallClock(storeTestDate("2026-01-10T09:00:00Z"))
        try await Self.twoInstances(clock: clock) { a, b, database in
            #expect(a.countsRequestsOnAdmission && b.countsRequestsOnAdmission)
            // 60 calls against 10 requests a day, half through each instance, all at once.
            let admitted = await withTaskGroup(of: Bool.self) { group in
                for n in 0..<60 {
                    let quotas = n.isMultiple(of: 2) ? a : b
                    group.addTask { await quotas.admit(provider: "anthropic") == nil }
                }
                var count = 0
                for await ok in group where ok { count += 1 }
                return count
            }
            #expect(admitted == 10)
            let counted = try await PostgresTestCluster.number(database, "SELECT day_requests FROM provider_quotas WHERE provider = 'anthropic'")
            #expect(counted == 10)
            let refusal = await a.admit(provider: "anthropic")
            #expect(refusal?.allowed == false)
            #expect(refusal?.reason?.contains("daily request limit reached for anthropic (10 of 10 in 2026-01-10), fleet-wide") == true)
            // The router's view on either instance says the same, and names the way out.
            let decision = await b.check(provider: "anthropic")
            #expect(!decision.allowed && decision.alternatives == ["openai"])
            #expect(await b.usage(of: "anthropic").monthRequests == 10)
            // A provider without limits is never counted; a new day starts again at zero, on both.
            #expect(await a.admit(provider: "ollama") == nil)
            clock.set(storeTestDate("2026-01-11T00:00:01Z"))
            #expect(await b.check(provider: "anthropic").allowed)
            #expect(await a.admit(provider: "anthropic") == nil)
            let usage = await b.usage(of: "anthropic")
            #expect(usage.dayRequests == 1 && usage.monthRequests == 11)
        }
    }

    @Test func tokensRecordedByOneInstanceCloseTheProviderOnTheOther() async throws {
        let clock = ManualWallClock(storeTestDate("2026-01-10T09:00:00Z"))
        try await Self.twoInstances(clock: clock) { a, b, _ in
            #expect(await a.admit(provider: "openai") == nil)
            try await a.record(provider: "openai", requests: 0, tokens: 600)
            #expect(await b.check(provider: "openai").usedFraction == 0.6)
            #expect(await b.admit(provider: "openai") == nil)
            try await b.record(provider: "openai", requests: 0, tokens: 400)
            let refusal = await a.admit(provider: "openai")
            #expect(refusal?.reason?.contains("daily token limit reached for openai (1000 of 1000") == true)
            #expect(await a.usage(of: "openai").dayRequests == 2)
            // Unavailability is shared too, and lifted for all.
            try await b.markUnavailable("anthropic", for: 60, reason: "rate limited (429)")
            #expect(await a.admit(provider: "anthropic")?.reason?.contains("rate limited (429)") == true)
            #expect(await a.check(provider: "anthropic").allowed == false)
            try await a.markAvailable("anthropic")
            #expect(await b.admit(provider: "anthropic") == nil)
            await #expect(throws: QuotaError.self) { try await a.record(provider: "openai", requests: -1, tokens: 0) }
        }
    }

    @Test func anUnreachableStoreRefusesCallsAndNamesTheServer() async throws {
        // A port that refuses connections for the whole test (bound, never listening).
        let refusing = try RefusingPort()
        defer { withExtendedLifetime(refusing) {} }
        let port = refusing.port
        let configuration = PostgresConfiguration(host: "127.0.0.1", port: port, database: "x", username: "fleetd", tls: .disable,
                                                  operationTimeout: .seconds(1))
        let store = PostgresStore(configuration: configuration)
        let quotas = try PostgresQuotaManager(store: store, configuration: Self.config, clock: ManualWallClock(storeTestDate("2026-01-10T09:00:00Z")))
        let (refusal, view, untracked) = await withTaskGroup(of: (QuotaDecision?, QuotaDecision, QuotaDecision?)?.self) { group in
            group.addTask { try? await store.run(); return nil }
            defer { group.cancelAll() }
            let started = ContinuousClock.now
            let refusal = await quotas.admit(provider: "anthropic")
            #expect(ContinuousClock.now - started < .seconds(3))
            // A provider without limits is routed without asking the store.
            let quick = ContinuousClock.now
            #expect(await quotas.check(provider: "ollama").allowed)
            #expect(ContinuousClock.now - quick < .milliseconds(500))
            return (refusal, await quotas.check(provider: "anthropic"), await quotas.admit(provider: "ollama"))
        }
        // Fail closed: the call is refused, saying why and where.
        #expect(refusal?.allowed == false)
        #expect(refusal?.reason?.contains("did not answer") == true)
        #expect(refusal?.reason?.contains("127.0.0.1:\(port)") == true)
        // The router's advice keeps the last figures (none: allowed); untracked providers need no store.
        #expect(view.allowed)
        #expect(untracked == nil)
    }
}
