import FleetSupport
import Foundation
import GRDB
import Store
import Testing

@Suite("QuotaManager: limits, resets, unavailability, persistence")
struct QuotaManagerTests {
    static let config = QuotaConfiguration(providers: [
        "anthropic": .init(requestsPerDay: 2, requestsPerMonth: 3, tokensPerDay: 10_000),
        "openai": .init(requestsPerDay: 100),
        "google": .init(tokensPerMonth: 50),
    ])

    @Test func dailyLimitBlocksAndNamesAlternativesThenResetsNextDay() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let clock = ManualWallClock(storeTestDate("2026-01-10T09:00:00Z"))
        let db = try await StoreDatabase(path: dir.path())
        let quotas = try await QuotaManager(database: db, configuration: Self.config, clock: clock)
        try await quotas.record(provider: "google", requests: 1, tokens: 50)          // google used up for the month
        try await quotas.record(provider: "anthropic", tokens: 100)
        var decision = await quotas.check(provider: "anthropic")
        #expect(decision.allowed && decision.usedFraction == 0.5)
        try await quotas.record(provider: "anthropic", tokens: 100)
        decision = await quotas.check(provider: "anthropic")
        #expect(!decision.allowed)
        #expect(decision.reason?.contains("daily request limit reached for anthropic (2 of 2 in 2026-01-10)") == true)
        #expect(decision.alternatives == ["openai"])                                    // google is out too
        clock.set(storeTestDate("2026-01-11T00:00:00Z"))
        #expect(await quotas.check(provider: "anthropic").allowed)
        #expect(await quotas.usage(of: "anthropic").monthRequests == 2)
        #expect(await quotas.check(provider: "unconfigured").allowed)
    }

    @Test func monthEndResetsAtTheBoundary() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let clock = ManualWallClock(storeTestDate("2026-01-30T12:00:00Z"))
        let db = try await StoreDatabase(path: dir.path())
        let quotas = try await QuotaManager(database: db, configuration: Self.config, clock: clock)
        try await quotas.record(provider: "anthropic", requests: 1)
        clock.set(storeTestDate("2026-01-31T23:59:59Z"))
        try await quotas.record(provider: "anthropic", requests: 2)
        #expect(await quotas.check(provider: "anthropic").reason?.contains("request limit reached") == true)
        clock.set(storeTestDate("2026-02-01T00:00:00Z"))
        #expect(await quotas.check(provider: "anthropic").allowed)
        #expect(await quotas.usage(of: "anthropic").monthRequests == 0)
    }

    @Test func sameDayNumberInTheNextMonthResets() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let clock = ManualWallClock(storeTestDate("2026-03-15T10:00:00Z"))
        let db = try await StoreDatabase(path: dir.path())
        let quotas = try await QuotaManager(database: db, configuration: Self.config, clock: clock)
        try await quotas.record(provider: "anthropic", requests: 3)
        #expect(await !quotas.check(provider: "anthropic").allowed)
        clock.set(storeTestDate("2026-04-15T10:00:00Z"))
        let usage = await quotas.usage(of: "anthropic")
        #expect(usage.dayRequests == 0 && usage.monthRequests == 0 && usage.dayKey == "2026-04-15")
        #expect(await quotas.check(provider: "anthropic").allowed)
    }

    @Test func yearChangeResetsEvenForTheSameMonthAndDay() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let clock = ManualWallClock(storeTestDate("2026-12-31T23:00:00Z"))
        let db = try await StoreDatabase(path: dir.path())
        let quotas = try await QuotaManager(database: db, configuration: Self.config, clock: clock)
        try await quotas.record(provider: "anthropic", requests: 3)
        clock.set(storeTestDate("2027-01-01T00:00:01Z"))
        #expect(await quotas.check(provider: "anthropic").allowed)
        try await quotas.record(provider: "anthropic", requests: 3)
        clock.set(storeTestDate("2028-01-01T00:00:01Z"))   // a year later, same month and day
        #expect(await quotas.usage(of: "anthropic").monthRequests == 0)
    }

    @Test func dayBoundaryFollowsTheConfiguredTimeZone() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let clock = ManualWallClock(storeTestDate("2026-05-10T14:59:00Z"))       // 23:59 in Tokyo
        let db = try await StoreDatabase(path: dir.path())
        let config = QuotaConfiguration(providers: ["anthropic": .init(requestsPerDay: 1)], timeZone: "Asia/Tokyo")
        let quotas = try await QuotaManager(database: db, configuration: config, clock: clock)
        try await quotas.record(provider: "anthropic")
        #expect(await !quotas.check(provider: "anthropic").allowed)
        clock.set(storeTestDate("2026-05-10T15:00:00Z"))                          // midnight in Tokyo
        #expect(await quotas.check(provider: "anthropic").allowed)
    }

    /// fleetd stopping while a timed flush is writing: the flush fleetd calls waits for that write,
    /// so the counts are in the file before the database is closed. (The timed flush is held here
    /// behind a slow write on the same database; before, the second call found nothing waiting and
    /// returned at once.)
    @Test func aFlushDuringATimedFlushWaitsForItsWrite() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        let quotas = try await QuotaManager(database: db, configuration: Self.config,
                                            clock: ManualWallClock(storeTestDate("2026-06-01T10:00:00Z")), writeDelay: .milliseconds(5))
        let slow = Task { try await db.write("a slow write") { _ in Thread.sleep(forTimeInterval: 0.5) } }
        try await Task.sleep(for: .milliseconds(50)) // the slow write holds the writer
        try await quotas.record(provider: "openai", requests: 5, tokens: 7)
        try await Task.sleep(for: .milliseconds(100)) // the timed flush took the counts and waits behind it
        await quotas.flushPendingWrites()
        let stored = try await db.read("test") {
            try Int.fetchOne($0, sql: "SELECT month_requests FROM provider_quotas WHERE provider = 'openai'")
        }
        #expect(stored == 5, "the counts were still on their way when the flush returned")
        try await slow.value
    }

    @Test func countsAndUnavailabilitySurviveARestart() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let clock = ManualWallClock(storeTestDate("2026-06-01T10:00:00Z"))
        do {
            let db = try await StoreDatabase(path: dir.path())
            let quotas = try await QuotaManager(database: db, configuration: Self.config, clock: clock, writeDelay: .milliseconds(30))
            try await quotas.record(provider: "anthropic", tokens: 400)
            // Counted in memory at once, in the file by the group commit soon after, with no call to wait for it.
            #expect(await quotas.usage(of: "anthropic").dayRequests == 1)
            var stored = 0
            for _ in 0..<200 where stored == 0 {
                try await Task.sleep(for: .milliseconds(10))
                stored = try await db.read("test") { try Int.fetchOne($0, sql: "SELECT day_requests FROM provider_quotas WHERE provider = 'anthropic'") } ?? 0
            }
            #expect(stored == 1, "the count reached the file within the write delay")
            try await quotas.record(provider: "openai", requests: 5, tokens: 7)
            try await quotas.markUnavailable("openai", for: 60, reason: "rate limited (429), retry-after 60")
            // What fleetd does when it stops: what still waits is written.
            await quotas.flushPendingWrites()
            try db.pool.close()
        }
        let db = try await StoreDatabase(path: dir.path())
        let quotas = try await QuotaManager(database: db, configuration: Self.config, clock: clock)
        let anthropic = await quotas.usage(of: "anthropic")
        #expect(anthropic.dayRequests == 1 && anthropic.dayTokens == 400)
        let openai = await quotas.check(provider: "openai")
        #expect(!openai.allowed && openai.reason?.contains("retry-after 60") == true && openai.alternatives.contains("anthropic"))
        #expect(await quotas.usage(of: "openai").monthRequests == 5)
        clock.advance(by: 61)
        #expect(await quotas.check(provider: "openai").allowed)
        try await quotas.markUnavailable("openai", for: 10, reason: "overloaded")
        try await quotas.markAvailable("openai")
        #expect(await quotas.check(provider: "openai").allowed)
    }

    @Test func badConfigurationAndArgumentsAreTypedErrors() async throws {
        let dir = try StoreTempDirectory()
        defer { dir.remove() }
        let db = try await StoreDatabase(path: dir.path())
        await #expect { _ = try await QuotaManager(database: db, configuration: QuotaConfiguration(providers: ["x": .init(requestsPerDay: 0)])) }
            throws: { "\($0)".contains("quotas.x.requestsPerDay") }
        await #expect { _ = try await QuotaManager(database: db, configuration: QuotaConfiguration(timeZone: "Nowhere/Else")) }
            throws: { ($0 as? QuotaError)?.code == .invalidConfiguration }
        let quotas = try await QuotaManager(database: db)
        await #expect { try await quotas.record(provider: "x", requests: -1) } throws: { ($0 as? QuotaError)?.code == .invalidArgument }
        await #expect { try await quotas.markUnavailable("x", for: 0, reason: "r") } throws: { ($0 as? QuotaError)?.code == .invalidArgument }
    }
}
