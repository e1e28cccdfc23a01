import Foundation
import Routing
import Store
import Testing

@Suite("Router selection")
struct RouterSelectionTests {
    @Test("simple task goes to the cheap model, complex to the strong one (seed 001 12.2.1)")
    func simpleCheapComplexStrong() async throws {
        let scorer = FixedScorer(scores: ["What is 2+2?": 0.1, "Design a distributed system with multi-region failover": 0.92])
        let router = ModelRouter(configuration: Seed.configuration(), scorer: scorer)
        let simple = try await router.select(Seed.task("What is 2+2?", id: "simple"))
        let complex = try await router.select(Seed.task("Design a distributed system with multi-region failover", id: "complex"))
        #expect(simple.modelName == "claude-haiku-4")
        #expect(complex.modelName == "claude-opus-4")
        #expect(simple.reason.contains("fits claude-haiku-4's range 0.00–0.40"))
        #expect(complex.complexity.overall == 0.92)
        #expect(simple.taskId == "simple")
        #expect(simple.estimatedCost > 0 && simple.estimatedCost < complex.estimatedCost)
    }

    @Test("a score in a gap between ranges falls to the default model, or ROUTER_001 without one")
    func rangeGap() async throws {
        let low = ModelConfiguration(name: "low", provider: .openai, model: "l", complexityRange: ComplexityRange(min: 0, max: 0.3))
        let high = ModelConfiguration(name: "high", provider: .openai, model: "h", complexityRange: ComplexityRange(min: 0.7, max: 1))
        let scorer = FixedScorer(defaultScore: 0.5)
        let withDefault = ModelRouter(configuration: Seed.configuration([low, high], defaultModel: "high"), scorer: scorer)
        let s = try await withDefault.select(Seed.task())
        #expect(s.modelName == "high")
        #expect(s.reason.contains("no ranked candidate could serve; using the default model high"))
        #expect(s.fallbackModels.isEmpty)

        let without = ModelRouter(configuration: Seed.configuration([low, high]), scorer: scorer)
        let error = await #expect(throws: RouterError.self) { try await without.select(Seed.task()) }
        #expect(error?.code == .modelSelectionFailed)
        #expect(error?.message.contains("low: score 0.50 outside 0.00–0.30") == true)
        #expect(error?.message.contains("high: score 0.50 outside 0.70–1.00") == true)
    }

    @Test("overlapping ranges: both models are candidates, the strategy orders them")
    func rangeOverlap() async throws {
        let scorer = FixedScorer(defaultScore: 0.35)
        let cost = ModelRouter(configuration: Seed.configuration(strategy: .cost), scorer: scorer)
        let byCost = try await cost.select(Seed.task())
        #expect(byCost.modelName == "claude-haiku-4")
        #expect(byCost.fallbackModels == ["claude-sonnet-4.5"])

        var fastSonnet = Seed.sonnet
        fastSonnet.typicalLatencyMs = 400
        var slowHaiku = Seed.haiku
        slowHaiku.typicalLatencyMs = 900
        let latency = ModelRouter(configuration: Seed.configuration([Seed.opus, fastSonnet, slowHaiku], strategy: .latency), scorer: scorer)
        let byLatency = try await latency.select(Seed.task())
        #expect(byLatency.modelName == "claude-sonnet-4.5")
        #expect(byLatency.fallbackModels == ["claude-haiku-4"])

        // Balanced with the default weights: cost and the range fit favour haiku at 0.35.
        let balanced = ModelRouter(configuration: Seed.configuration(), scorer: scorer)
        #expect(try await balanced.select(Seed.task()).modelName == "claude-haiku-4")
    }

    @Test("balanced weights change the pick: all weight on quality prefers the stronger model")
    func balancedWeights() async throws {
        var config = Seed.configuration()
        config.weights = BalancedWeights(capability: 0, cost: 0, quality: 1, latency: 0, history: 0)
        let router = ModelRouter(configuration: config, scorer: FixedScorer(defaultScore: 0.75))
        let s = try await router.select(Seed.task())
        #expect(s.modelName == "claude-opus-4")
        #expect(s.fallbackModels == ["claude-sonnet-4.5"])
        config.weights = BalancedWeights(capability: 0, cost: 1, quality: 0, latency: 0, history: 0)
        router.update(configuration: config)
        #expect(try await router.select(Seed.task(id: "t2")).modelName == "claude-sonnet-4.5")
    }

    @Test("availability strategy puts a failing model last; history persists through the stats store")
    func availabilityAndHistory() async throws {
        let a = ModelConfiguration(name: "a", provider: .openai, model: "a")
        let b = ModelConfiguration(name: "b", provider: .google, model: "b")
        let store = InMemoryRoutingStatsStore()
        let router = ModelRouter(configuration: Seed.configuration([a, b], strategy: .availability), scorer: FixedScorer(), statsStore: store)
        #expect(try await router.explain(Seed.task()).modelName == "a") // equal history: configuration order
        for _ in 0..<3 { await router.recordOutcome(model: "a", success: false, latency: .milliseconds(100), error: .server(status: 500)) }
        for _ in 0..<3 { await router.recordOutcome(model: "b", success: true, latency: .milliseconds(300)) }
        let s = try await router.explain(Seed.task())
        #expect(s.modelName == "b")
        #expect(s.fallbackModels == ["a"])

        let stored = try await store.loadStats()
        #expect(stored.map(\.model) == ["a", "b"])
        #expect(stored[0].failures == 3 && stored[0].consecutiveFailures == 3 && stored[0].lastError == "server error 500")
        #expect(stored[1].successes == 3 && stored[1].meanLatencyMs == 300)

        // A fresh router learns the history from the store.
        let fresh = ModelRouter(configuration: Seed.configuration([a, b], strategy: .availability), scorer: FixedScorer(), statsStore: store)
        try await fresh.loadStats()
        #expect(try await fresh.explain(Seed.task()).modelName == "b")
    }

    @Test("latency strategy uses observed latency over the configured typical latency")
    func observedLatency() async throws {
        var a = ModelConfiguration(name: "a", provider: .openai, model: "a")
        a.typicalLatencyMs = 100
        var b = ModelConfiguration(name: "b", provider: .google, model: "b")
        b.typicalLatencyMs = 200
        let router = ModelRouter(configuration: Seed.configuration([a, b], strategy: .latency), scorer: FixedScorer())
        #expect(try await router.explain(Seed.task()).modelName == "a")
        await router.recordOutcome(model: "a", success: true, latency: .milliseconds(900))
        #expect(try await router.explain(Seed.task()).modelName == "b")
    }

    @Test("constraints: maxCost, minQuality and maxLatencyMs exclude models with a reason")
    func constraints() async throws {
        let router = ModelRouter(configuration: Seed.configuration(), scorer: FixedScorer(defaultScore: 0.75))
        var task = Seed.task()
        task.constraints = RoutingConstraints(maxCost: 10)  // opus: (500*15 + 500*75)/1000 = 45; sonnet 9
        let cheap = try await router.select(task)
        #expect(cheap.modelName == "claude-sonnet-4.5")
        let opusTrace = try #require(cheap.trace.candidates.first { $0.modelName == "claude-opus-4" })
        #expect(opusTrace.exclusion?.stage == .constraints)
        #expect(opusTrace.exclusion?.detail.contains("above maxCost") == true)

        task.constraints = RoutingConstraints(minQuality: 0.8)  // opus 0.85, sonnet 0.55 (range midpoints)
        #expect(try await router.select(task).modelName == "claude-opus-4")

        var quick = Seed.sonnet
        quick.typicalLatencyMs = 800
        let latencyRouter = ModelRouter(configuration: Seed.configuration([Seed.opus, quick, Seed.haiku]), scorer: FixedScorer(defaultScore: 0.75))
        task.constraints = RoutingConstraints(maxLatencyMs: 1_000)  // opus assumed 2000 ms
        let fast = try await latencyRouter.select(task)
        #expect(fast.modelName == "claude-sonnet-4.5")
        #expect(fast.fallbackModels.isEmpty)

        task.constraints = RoutingConstraints(maxCost: 0.01)
        let error = await #expect(throws: RouterError.self) { try await router.select(task) }
        #expect(error?.exclusions.filter { $0.stage == .constraints }.count == 3)  // haiku too: constraints run before the range
    }

    @Test("capabilities: streaming need, context window and attachments")
    func capabilities() async throws {
        var noStream = ModelConfiguration(name: "batchy", provider: .openai, model: "b")
        noStream.capabilities.supportsStreaming = false
        var small = ModelConfiguration(name: "small", provider: .google, model: "s")
        small.capabilities.maxTokens = 800
        var vision = ModelConfiguration(name: "vision", provider: .google, model: "v")
        vision.capabilities.inputModalities = [.text, .image]
        let router = ModelRouter(configuration: Seed.configuration([noStream, small, vision], strategy: .cost), scorer: FixedScorer())

        var streaming = Seed.task()
        streaming.needsStreaming = true
        let s = try await router.select(streaming)
        #expect(s.modelName == "vision")  // small: 1000 tokens > 800, batchy: no streaming
        #expect(s.trace.candidates.first { $0.modelName == "batchy" }?.exclusion?.detail == "task needs streaming; the model does not stream")
        #expect(s.trace.candidates.first { $0.modelName == "small" }?.exclusion?.detail.contains("context window is 800") == true)

        var tools = Seed.task()
        tools.needsTools = true
        tools.estimatedInputTokens = 100
        var noTools = vision
        noTools.capabilities.supportsTools = false
        let toolRouter = ModelRouter(configuration: Seed.configuration([noTools, small], strategy: .cost), scorer: FixedScorer())
        let t = try await toolRouter.select(tools)
        #expect(t.modelName == "small")
        #expect(t.trace.candidates[0].exclusion?.detail == "task uses tools; the model cannot call tools")

        var image = Seed.task()
        image.attachments = [.image]
        image.estimatedInputTokens = 100
        image.estimatedOutputTokens = 100
        let i = try await router.select(image)
        #expect(i.modelName == "vision")
        #expect(i.trace.candidates.first { $0.modelName == "small" }?.exclusion?.detail == "cannot take image input")
    }

    @Test("preferred model wins even outside its range; preferred provider ranks first")
    func preferences() async throws {
        let gpt = ModelConfiguration(name: "gpt", provider: .openai, model: "g", capabilities: ModelCapabilities(costPer1kTokens: ModelPricing(input: 5, output: 5)))
        let router = ModelRouter(configuration: Seed.configuration([Seed.opus, Seed.sonnet, Seed.haiku, gpt], strategy: .cost), scorer: FixedScorer(defaultScore: 0.2))
        var task = Seed.task()
        task.preferredModel = "claude-opus-4"
        let s = try await router.select(task)
        #expect(s.modelName == "claude-opus-4")
        #expect(s.reason.contains("preferred model"))

        task.preferredModel = nil
        task.preferredProvider = .openai
        let p = try await router.select(task)
        #expect(p.modelName == "gpt")
        #expect(p.fallbackModels == ["claude-haiku-4"])

        task.preferredProvider = nil
        task.preferredModel = "no-such-model"
        let unknown = try await router.select(task)
        #expect(unknown.modelName == "claude-haiku-4")
        #expect(unknown.trace.candidates.first?.exclusion?.detail == "preferred model 'no-such-model' is not configured")
    }

    @Test("local-only tasks see only local providers, even among fallbacks")
    func privacy() async throws {
        let router = ModelRouter(configuration: Seed.configuration([Seed.opus, Seed.sonnet, Seed.haiku, Seed.ollama], defaultModel: "claude-sonnet-4.5"),
                                 scorer: FixedScorer(defaultScore: 0.2))
        var task = Seed.task()
        task.privacy = .localOnly
        let s = try await router.select(task)
        #expect(s.modelName == "qwen-local")
        #expect(s.fallbackModels.isEmpty)
        #expect(s.trace.candidates.first { $0.modelName == "claude-haiku-4" }?.exclusion?.stage == .privacy)

        let cloudOnly = ModelRouter(configuration: Seed.configuration(defaultModel: "claude-sonnet-4.5"), scorer: FixedScorer(defaultScore: 0.2))
        let error = await #expect(throws: RouterError.self) { try await cloudOnly.select(task) }
        #expect(error?.code == .modelSelectionFailed)
        #expect(error?.exclusions.count == 3)
        #expect(error?.exclusions.allSatisfy { $0.stage == .privacy && $0.reason.contains("local-only") } == true)
    }

    @Test("fallback chain: ranked candidates, then the default model, then the last resort, deduplicated")
    func fallbackChain() async throws {
        let config = Seed.configuration([Seed.opus, Seed.sonnet, Seed.haiku, Seed.ollama], strategy: .cost,
                                        defaultModel: "claude-sonnet-4.5", lastResort: "qwen-local")
        let router = ModelRouter(configuration: config, scorer: FixedScorer(defaultScore: 0.75))
        let s = try await router.select(Seed.task())
        #expect(s.modelName == "claude-sonnet-4.5")
        #expect(s.fallbackModels == ["claude-opus-4", "qwen-local"])  // sonnet is not repeated as the default
        #expect(s.fallbackChain.map(\.role) == [.candidate, .lastResort])
        #expect(s.fallbackChain[0].why == "rank 2 of 2 (cost score 0.00)")
        #expect(s.fallbackChain[1].why == "the configured last resort (local)")

        let lowConfig = Seed.configuration([Seed.opus, Seed.sonnet, Seed.haiku, Seed.ollama], strategy: .cost,
                                           defaultModel: "claude-opus-4", lastResort: "qwen-local")
        let low = try await ModelRouter(configuration: lowConfig, scorer: FixedScorer(defaultScore: 0.2)).select(Seed.task())
        // The last resort is never ranked, even when it is in range and free: it comes after the default.
        #expect(low.modelName == "claude-haiku-4")
        #expect(low.fallbackModels == ["claude-opus-4", "qwen-local"])
        #expect(low.fallbackChain.map(\.role) == [.defaultModel, .lastResort])
    }

    @Test("ROUTER_001 names every model and why it was excluded")
    func selectionFailedMessage() async throws {
        var off = Seed.haiku
        off.enabled = false
        let router = ModelRouter(configuration: Seed.configuration([Seed.opus, Seed.sonnet, off], defaultModel: "ghost"),
                                 scorer: FixedScorer(defaultScore: 0.1))
        let error = await #expect(throws: RouterError.self) { try await router.select(Seed.task(id: "job-7")) }
        let e = try #require(error)
        #expect(e.code == .modelSelectionFailed && e.code.rawValue == "ROUTER_001" && e.shortDescription == "model_selection_failed")
        #expect(e.message.hasPrefix("no model can serve task job-7 (complexity 0.10): "))
        #expect(e.message.contains("claude-opus-4: score 0.10 outside 0.70–1.00"))
        #expect(e.message.contains("claude-sonnet-4.5: score 0.10 outside 0.30–0.80"))
        #expect(e.message.contains("claude-haiku-4: disabled in the configuration"))
        #expect(e.message.contains("ghost: defaultModel 'ghost' is not configured"))
        #expect(e.description.hasPrefix("ROUTER_001 ModelSelectionFailed: "))
    }

    @Test("router off: every task goes to the default model, no fallbacks, as v1.0.4")
    func routerOff() async throws {
        let router = ModelRouter(configuration: Seed.configuration(defaultModel: "claude-sonnet-4.5"), scorer: FixedScorer(defaultScore: 0.95),
                                 budget: FakeBudget.daily(limit: 1, spent: 5, policy: .block))
        let s = try await router.select(Seed.task(), useRouter: false)
        #expect(s.modelName == "claude-sonnet-4.5")
        #expect(s.fallbackModels.isEmpty && !s.routed && s.strategy == nil)
        #expect(s.reason.hasPrefix("router off"))

        var disabledRouting = Seed.configuration(defaultModel: "claude-haiku-4")
        disabledRouting.enabled = false
        let off = ModelRouter(configuration: disabledRouting, scorer: FixedScorer(defaultScore: 0.95))
        #expect(try await off.select(Seed.task()).modelName == "claude-haiku-4")

        let none = ModelRouter(configuration: Seed.configuration(), scorer: FixedScorer())
        let error = await #expect(throws: RouterError.self) { try await none.select(Seed.task(), useRouter: false) }
        #expect(error?.message == "the router is off and no defaultModel is configured")
    }

    @Test("selections are recorded under the task id; a failing recorder does not fail the task")
    func recording() async throws {
        let recorder = InMemorySelectionRecorder()
        let router = ModelRouter(configuration: Seed.configuration(), scorer: FixedScorer(defaultScore: 0.1), recorder: recorder)
        _ = try await router.select(Seed.task(id: "abc"))
        _ = try await router.explain(Seed.task(id: "explained"))
        #expect(await recorder.selection(for: "abc")?.modelName == "claude-haiku-4")
        #expect(await recorder.selection(for: "explained") == nil)

        let broken = ModelRouter(configuration: Seed.configuration(), scorer: FixedScorer(defaultScore: 0.1), statsStore: FailingStatsStore(), recorder: FailingRecorder())
        #expect(try await broken.select(Seed.task()).modelName == "claude-haiku-4")
        await broken.recordOutcome(model: "claude-haiku-4", success: true, latency: .milliseconds(5))
        #expect(broken.stats().first?.successes == 1)
    }
}
