import FleetSupport
import Foundation
import Routing
import Store

/// `fleetd-bench routing`: decision latency for a 2 KB prompt over 50 models, and `--jsonl` throughput.
///
/// Scores with the real ``ComplexityAnalyzer``, so the figures include complexity analysis.
struct RoutingBench: BenchSuite {
    let name = "routing"
    let summary = "router decision latency (2 KB prompt, 50 models) and JSONL batch throughput"

    /// A routing selection (the record stored for every task) as JSON: fleetd's FastJSONEncoder
    /// against Foundation's JSONEncoder with the settings fleetd used before.
    private func measureEncoding(_ selection: ModelSelection, runs: Int) throws {
        let foundation = JSONEncoder()
        foundation.outputFormatting = [.sortedKeys]
        foundation.dateEncodingStrategy = .iso8601
        let fast = FastJSONEncoder()
        let clock = ContinuousClock()
        var bytes = 0
        func microseconds(_ body: () throws -> Int) rethrows -> Double {
            for _ in 0..<100 { bytes = try body() }
            let start = clock.now
            for _ in 0..<runs { bytes = try body() }
            let elapsed = clock.now - start
            return (Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12) / Double(runs)
        }
        let foundationTime = try microseconds { try foundation.encode(selection).count }
        let fastTime = try microseconds { try fast.encode(selection).count }
        print(String(format: "selection record as JSON (%d bytes, %d runs): FastJSONEncoder %.1f µs, Foundation JSONEncoder %.1f µs",
                     bytes, runs, fastTime, foundationTime))
    }

    func run(scale: Double) async throws {
        print("scorer: ComplexityAnalyzer (the production analyzer)")
        let config = Self.configuration(models: 50)
        let router = ModelRouter(configuration: config, scorer: ComplexityAnalyzer(),
                                 budget: BenchBudget(), quota: BenchQuota())
        let prompt = Self.prompt(bytes: 2_048)

        // Decision latency: the live select path (budget and quota awaits, filters, ranking, probe claim).
        let decisions = max(100, Int(20_000 * scale))
        for i in 0..<200 { _ = try await router.select(RoutingTask(taskId: "warm-\(i)", prompt: prompt)) }
        let clock = ContinuousClock()
        var samples: [Duration] = []
        samples.reserveCapacity(decisions)
        var picks: [String: Int] = [:]
        for i in 0..<decisions {
            let task = RoutingTask(taskId: "t\(i)", prompt: prompt, type: i % 3 == 0 ? .code : nil)
            let start = clock.now
            let s = try await router.select(task)
            samples.append(clock.now - start)
            picks[s.modelName, default: 0] += 1
        }
        samples.sort()
        func pct(_ p: Double) -> Double {
            let d = samples[min(samples.count - 1, Int(Double(samples.count - 1) * p))]
            return Double(d.components.attoseconds) / 1e12 + Double(d.components.seconds) * 1e6
        }
        print(String(format: "decision latency, 2 KB prompt, 50 models, %d selects: p50 %.1f µs, p99 %.1f µs, max %.1f µs",
                     decisions, pct(0.5), pct(0.99), pct(1.0)))
        print("distinct picks: \(picks.count)")
        try measureEncoding(try await router.select(RoutingTask(taskId: "encode", prompt: prompt)), runs: max(1_000, Int(20_000 * scale)))
        try await measureLearning(router: router, prompt: prompt, runs: max(1_000, Int(20_000 * scale)))

        // JSONL throughput: a generated file of `lines` prompts through RoutingBatch (order kept).
        let lines = max(1_000, Int(100_000 * scale))
        var input = Data()
        input.reserveCapacity(lines * 120)
        let words = ["fix the bug in the parser", "write a haiku about rain", "prove that the sum of two even numbers is even",
                     "design the architecture of a multi-region queue", "summarise this paragraph", "refactor the retry logic to handle the race condition"]
        for i in 0..<lines {
            let text = words[i % words.count] + " #\(i)"
            input.append(contentsOf: "{\"id\":\(i),\"prompt\":\"\(text)\"\(i % 4 == 0 ? ",\"type\":\"code\"" : "")}\n".utf8)
        }
        let batch = RoutingBatch(router: router)
        let start = clock.now
        let output = await batch.run(input)
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let outLines = output.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        print(String(format: "jsonl: %d prompts (%.1f MB in, %.1f MB out) in %.2f s = %.0f prompts/s, %d output lines",
                     lines, Double(input.count) / 1e6, Double(output.count) / 1e6, seconds, Double(lines) / seconds, outLines))
    }

    /// predictiveRouting's costs: one outcome learned (the in-memory update; persistence is
    /// write-behind), and the select path with learning on over a learner holding every cell.
    private func measureLearning(router: ModelRouter, prompt: String, runs: Int) async throws {
        let clock = ContinuousClock()
        let models = router.registry.models.map(\.name)
        let types = TaskType.allCases
        let config = router.configuration.learning
        func microseconds(_ d: Duration) -> Double { Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12 }
        var start = clock.now
        for i in 0..<runs {
            router.learner.record(RoutingOutcome(taskId: "o\(i)", model: models[i % models.count], taskType: types[i % types.count],
                                                 complexity: Double(i % 100) / 100, tenantId: i % 2 == 0 ? "tenant-\(i % 10)" : nil,
                                                 score: i % 3 == 0 ? 0 : 1, signal: .feedback),
                                  configuration: config)
        }
        let update = microseconds(clock.now - start) / Double(runs)
        let cells = router.learner.snapshot().count
        start = clock.now
        for i in 0..<runs {
            _ = router.learner.predictions(models: models, taskType: types[i % types.count], complexity: Double(i % 100) / 100,
                                           tenantId: "tenant-\(i % 10)", configuration: config)
        }
        let predict = microseconds(clock.now - start) / Double(runs)
        var samples: [Duration] = []
        samples.reserveCapacity(runs)
        for i in 0..<runs {
            let task = RoutingTask(taskId: "learn-\(i)", prompt: prompt, type: i % 3 == 0 ? .code : nil, tenantId: "tenant-\(i % 10)")
            let t0 = clock.now
            _ = try await router.select(task, useLearning: true)
            samples.append(clock.now - t0)
        }
        samples.sort()
        let p50 = microseconds(samples[samples.count / 2]), p99 = microseconds(samples[min(samples.count - 1, samples.count * 99 / 100)])
        print(String(format: "learning (%d cells): update %.2f µs/outcome, predictions for 50 models %.1f µs; select with learning on: p50 %.1f µs, p99 %.1f µs",
                     cells, update, predict, p50, p99))
    }

    /// 50 models over five providers with staggered, overlapping ranges and prices.
    static func configuration(models count: Int) -> RoutingConfiguration {
        let providers: [ProviderKind] = [.anthropic, .openai, .google, .xai, .ollama]
        var models: [ModelConfiguration] = []
        for i in 0..<count {
            let low = Double(i % 10) / 10
            let provider = providers[i % providers.count]
            models.append(ModelConfiguration(
                name: "model-\(i)", provider: provider, model: "m\(i)",
                capabilities: ModelCapabilities(maxTokens: 32_000 + 8_000 * (i % 20),
                                                costPer1kTokens: provider.isLocal ? ModelPricing() : ModelPricing(input: 0.1 * Double(i % 10 + 1), output: 0.4 * Double(i % 10 + 1))),
                complexityRange: ComplexityRange(min: max(0, low - 0.15), max: min(1, low + 0.25)),
                typicalLatencyMs: 300 + 100 * Double(i % 7),
                strengths: i % 4 == 0 ? [.code] : []))
        }
        return RoutingConfiguration(defaultModel: "model-5", models: models, lastResort: "model-4")
    }

    static func prompt(bytes: Int) -> String {
        let base = "Refactor the following function so that the retry loop handles the race condition between the timer and the cancellation. "
            + "```swift\nfunc retry() async throws { for attempt in 0..<3 { if try await call() { return } } }\n```\n"
        var s = ""
        while s.utf8.count < bytes { s += base }
        return String(s.utf8.prefix(bytes)) ?? s
    }
}


struct BenchBudget: BudgetStatusProviding {
    func budgetStatus() async -> BudgetStatus {
        BudgetStatus(enabled: true, policy: .cheaperOnly, periods: [PeriodBudgetStatus(period: .day, limit: 100, spent: 40, reserved: 1)])
    }
}

struct BenchQuota: QuotaChecking {
    func check(provider: String) async -> QuotaDecision {
        QuotaDecision(provider: provider, allowed: true, usedFraction: provider == "openai" ? 0.85 : 0.2)
    }
}
