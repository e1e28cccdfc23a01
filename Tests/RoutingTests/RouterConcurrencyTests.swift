@testable import Routing
import FleetSupport
import Foundation
import Testing

@Suite("Router under concurrency, reloads and edge values")
struct RouterConcurrencyTests {
    @Test("of 32 concurrent selects on a half-open single model, exactly one gets the probe")
    func oneProbeUnderConcurrency() async throws {
        let clock = ManualWallClock()
        let only = ModelConfiguration(name: "only", provider: .openai, model: "gpt")
        let router = ModelRouter(configuration: Seed.configuration([only], health: HealthConfiguration(failureThreshold: 1, cooldownSeconds: 10)),
                                 scorer: FixedScorer(), clock: clock)
        await router.recordOutcome(model: "only", success: false, latency: .seconds(1), error: .network)
        clock.advance(by: 10)
        let granted = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<32 {
                group.addTask {
                    do { _ = try await router.select(Seed.task(id: "t\(i)")); return true } catch { return false }
                }
            }
            var count = 0
            for await ok in group where ok { count += 1 }
            return count
        }
        #expect(granted == 1)
    }

    @Test("a configuration reload keeps breaker states and stats")
    func reloadKeepsState() async throws {
        let clock = ManualWallClock()
        let a = ModelConfiguration(name: "a", provider: .openai, model: "a")
        let b = ModelConfiguration(name: "b", provider: .google, model: "b")
        let router = ModelRouter(configuration: Seed.configuration([a, b], strategy: .cost, health: HealthConfiguration(failureThreshold: 1)),
                                 scorer: FixedScorer(), clock: clock)
        await router.recordOutcome(model: "a", success: false, latency: .seconds(1), error: .timeout)
        router.update(configuration: Seed.configuration([a, b], strategy: .latency, health: HealthConfiguration(failureThreshold: 3)))
        #expect(router.configuration.strategy == .latency)
        let s = try await router.select(Seed.task())
        #expect(s.modelName == "b")
        #expect(router.stats().first { $0.model == "a" }?.failures == 1)
    }

    @Test("budget not used up, policy cheaper-only: over-budget models stay only when cheaper than the pick")
    func cheaperOnlyPartial() async throws {
        var config = Seed.configuration()
        config.weights = BalancedWeights(capability: 0, cost: 0, quality: 1, latency: 0, history: 0)
        let router = ModelRouter(configuration: config, scorer: FixedScorer(defaultScore: 0.75),
                                 budget: FakeBudget.daily(limit: 100, spent: 95, policy: .cheaperOnly))
        let s = try await router.select(Seed.task())  // remaining 5: opus 45 and sonnet 9 are both over
        #expect(s.modelName == "claude-sonnet-4.5")
        #expect(s.fallbackModels.isEmpty)
        #expect(s.trace.candidates.first { $0.modelName == "claude-opus-4" }?.exclusion?.detail
                == "estimated $45.0000 exceeds remaining $5.0000; not cheaper than the pick claude-opus-4 ($45.0000); policy cheaper-only")
    }

    @Test("budget with no limit, or off, passes everything and says so")
    func budgetOff() async throws {
        let router = ModelRouter(configuration: Seed.configuration(), scorer: FixedScorer(defaultScore: 0.1), budget: FakeBudget(.unlimited))
        let s = try await router.select(Seed.task())
        #expect(s.trace.budget == "budget off")
        #expect(s.trace.candidates.first { $0.modelName == "claude-haiku-4" }?.decisions.contains(FilterDecision(stage: .budget, passed: true, detail: "budget off")) == true)
    }

    @Test("fixed-point formatting used in reasons")
    func formatting() {
        #expect(fixed(0.005, digits: 2) == "0.01")
        #expect(fixed(1.999, digits: 2) == "2.00")
        #expect(fixed(-0.25, digits: 2) == "-0.25")
        #expect(fixed(-0.001, digits: 2) == "0.00")
        #expect(fixed(12.5, digits: 0) == "13")
        #expect(fixed(.infinity, digits: 2) == "inf")
        #expect(money(0) == "$0")
        #expect(money(0.0024) == "$0.002400")
        #expect(money(45) == "$45.0000")
        #expect(money(-0.25) == "-$0.2500")
        #expect(fixed(0, digits: 3) == "0.000" && fixed(7, digits: 0) == "7")
        #expect(fixed(1e20, digits: 2) == "\(1e20)", "past an Int's reach, the plain description")
    }

    @Test("fixed-point formatting writes what building the text from pieces wrote, for any value")
    func formattingMatchesThePieces() {
        // The implementation before the digits were written into one buffer.
        func pieces(_ value: Double, digits: Int) -> String {
            guard value.isFinite else { return "\(value)" }
            var scale = 1.0
            for _ in 0..<digits { scale *= 10 }
            let scaled = (abs(value) * scale).rounded()
            guard scaled < 9e15 else { return "\(value)" }
            let units = Int(scaled)
            let whole = units / Int(scale)
            let fraction = String(units % Int(scale))
            let padded = String(repeating: "0", count: max(0, digits - fraction.count)) + fraction
            return (value < 0 && units != 0 ? "-" : "") + "\(whole)" + (digits > 0 ? "." + padded : "")
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let magnitude = Double.random(in: -6...9, using: &generator)
            let value = (Bool.random(using: &generator) ? -1 : 1) * Foundation.pow(10, magnitude)
            let digits = Int.random(in: 0...6, using: &generator)
            #expect(fixed(value, digits: digits) == pieces(value, digits: digits), "\(value), \(digits) digits")
        }
        for value in [0, -0.0, 0.5, 1.5, 2.5, -2.5, 0.004999, 0.005, 123.456, 99.995, 1e-9, 9e14, 8.99e15, .nan, -.infinity] {
            for digits in 0...6 { #expect(fixed(value, digits: digits) == pieces(value, digits: digits), "\(value), \(digits) digits") }
        }
    }

    @Test("stats: the success rate starts at the prior and the latency mean smooths")
    func statsMath() {
        var s = ModelStats(model: "m")
        #expect(abs(s.successRate - 0.9) < 1e-12)
        let t = Date(timeIntervalSince1970: 0)
        s.record(success: true, latencyMs: 100, error: nil, at: t)
        s.record(success: true, latencyMs: 300, error: nil, at: t)
        #expect(s.meanLatencyMs == 200)
        s.record(success: false, latencyMs: 5, error: "timed out", at: t)
        #expect(s.meanLatencyMs == 200 && s.consecutiveFailures == 1 && s.lastError == "timed out")
        #expect(abs(s.successRate - (2 + 1.8) / 5) < 1e-12)
    }
}
