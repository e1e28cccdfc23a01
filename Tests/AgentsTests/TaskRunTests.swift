import Agents
import FakeProvider
import Foundation
import Providers
import Routing
import Store
import Testing

/// One task's run: model selection, cost reservation, the call through the streaming tool,
/// fallback, settlement, and what cancellation gives back.
@Suite("TaskRun", .timeLimit(.minutes(1)))
struct TaskRunTests {
    static let routedStreaming = TaskSettings(useRouter: true, useStreaming: true)

    @Test("a run on the built-in responder streams its answer and completes with a result")
    func builtinRunCompletes() async throws {
        let harness = try await RunHarness.make(models: [RunModels.builtin("local")], defaultModel: "local")
        defer { harness.remove() }
        let agent = Agent(id: "general-1", type: "general", role: AgentRole())
        let task = AgentTask(id: "run-1", prompt: "Write a haiku about the first snow of winter.", stream: true)
        let events = await agent.run(task, settings: Self.routedStreaming, runtime: harness.runtime).events()

        let start = try #require(events.start)
        #expect(start.taskId == "run-1" && start.agentId == "general-1")
        #expect(start.model == "local" && start.streaming && start.localDefault)
        let result = try #require(events.result, "\(events.map(\.name))")
        #expect(events.first?.name == "start" && events.last?.name == "complete", "\(events.map(\.name))")
        #expect(events.chunkTexts.count > 1)
        #expect(events.chunkTexts.joined() == result.output)
        #expect(result.output.hasPrefix(BuiltinProvider.label))
        #expect(result.model == "local" && result.provider == .builtin && result.localDefault)
        #expect(result.streamed && !result.synchronousFallback)
        #expect(result.usage.outputTokens > 0 && result.cost == 0)
        #expect(result.selection.modelName == "local" && result.selection.routed)

        var status = await agent.heartbeat()
        #expect(status.completed == 1 && status.failed == 0 && status.currentTask == nil)
        #expect(await harness.reserved() == 0)
        #expect(await harness.costs.activeReservations == 0)

        // With every flag off: the default model, one synchronous call, nothing routed.
        let legacy = try await agent.run(AgentTask(prompt: "hi", stream: true), settings: .legacy, runtime: harness.runtime).result()
        #expect(!legacy.streamed && !legacy.selection.routed)
        #expect(legacy.output.hasPrefix(BuiltinProvider.label))
        status = await agent.heartbeat()
        #expect(status.completed == 2)
    }

    /// Anthropic reports cache reads (and writes) beside `input_tokens`; the decoders add them
    /// into the prompt count once, and billing must not add the reads again. 600 uncached + 400
    /// read from the cache: $0.003/k × 0.6 + $0.0003/k × 0.4 + $0.015/k × 0.006 = $0.00201.
    @Test("an Anthropic answer's cache reads are counted and billed once, at the cached price, streamed or not",
          arguments: [true, false])
    func anthropicCacheReadsAreBilledOnce(streamed: Bool) async throws {
        let cachedUsage = #""usage":{"input_tokens":600,"cache_creation_input_tokens":0,"cache_read_input_tokens":400,"output_tokens":"#
        let stream = String(decoding: try FixturePaths.data("providers/anthropic-stream-sdkfixture-basic.sse"), as: UTF8.self)
            .replacingOccurrences(of: #""usage":{"input_tokens":11,"output_tokens":"#, with: cachedUsage)
        let message = #"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"Hello"}],"# +
            #""stop_reason":"end_turn","stop_sequence":null,\#(cachedUsage)6}}"#
        let answer = streamed ? FakeResponse(headers: [("content-type", "text/event-stream")], body: .bytes(Array(stream.utf8)))
                              : FakeResponse(headers: [("content-type", "application/json")], body: .bytes(Array(message.utf8)))
        #expect(stream.contains("cache_read_input_tokens\":400"))
        try await withServer(.always(answer)) { fake in
            let claude = ModelConfiguration(name: "claude", provider: .anthropic, model: "claude-x",
                                            capabilities: ModelCapabilities(costPer1kTokens: ModelPricing(input: 0.003, output: 0.015, cached: 0.0003)),
                                            credentials: ModelCredentials(endpoint: fake.baseURL))
            let harness = try await RunHarness.make(models: [claude], defaultModel: "claude", environment: ["ANTHROPIC_API_KEY": "sk-ant-test"],
                                                    quotas: QuotaConfiguration(providers: ["anthropic": .init(tokensPerDay: 1_000_000)]))
            defer { harness.remove() }
            let agent = Agent(id: "general-1", type: "general", role: AgentRole())
            let settings = TaskSettings(useRouter: true, useStreaming: streamed)
            let result = try await agent.run(AgentTask(prompt: "hello", stream: streamed), settings: settings, runtime: harness.runtime).result()
            #expect(result.streamed == streamed)
            #expect(!result.synchronousFallback, "a run that never streamed did not fall back")
            #expect(result.usage == CostUsage(inputTokens: 1_000, outputTokens: 6, cachedTokens: 400), "\(result.usage)")
            #expect(abs(result.cost - 0.00201) < 1e-12, "\(result.cost)")
            #expect(abs(await harness.spent() - 0.00201) < 1e-12)
            // The provider's token quota counts them once too (before: 1,400 input tokens).
            let quotaUsage = await harness.quotaManager?.usage(of: "anthropic")
            #expect(quotaUsage?.dayTokens == 1_006, "\(String(describing: quotaUsage))")
        }
    }

    @Test("a 429 from the picked model: no retry, no synchronous call, the next model answers and the breaker opens for the Retry-After")
    func rateLimitFallsBackToTheNextModel() async throws {
        let limited = FakeResponse.status(429, body: #"{"error":{"type":"rate_limit_error","message":"slow down"}}"#,
                                          headers: [("retry-after", "120")])
        try await withServer(.always(limited)) { fake in
            let harness = try await RunHarness.make(models: [RunModels.fake("primary", fake), RunModels.builtin("local")],
                                                    defaultModel: "primary", lastResort: "local")
            defer { harness.remove() }
            let agent = Agent(id: "general-1", type: "general", role: AgentRole())
            let events = await agent.run(AgentTask(prompt: "hello", stream: true), settings: Self.routedStreaming, runtime: harness.runtime).events()

            let result = try #require(events.result, "\(events.map(\.name))")
            #expect(result.selection.modelName == "primary")
            #expect(result.selection.fallbackModels == ["local"])
            #expect(result.model == "local" && result.localDefault, "the last resort answered")
            #expect(result.attempts == 2, "one attempt per model: \(result.attempts)")
            #expect(fake.requestCount == 1, "maxRetries 0, and a 429 is not followed by a synchronous call")
            #expect(!events.contains { $0.name == "error" }, "the fallback happened before any output: no error event")

            let breaker = try #require(harness.router.health.snapshot().model("primary"))
            #expect(breaker.state == .open)
            #expect((breaker.openUntil ?? .distantPast) > Date().addingTimeInterval(100), "open for the Retry-After (120 s), not the 30 s cooldown")
            #expect(await harness.reserved() == 0)
            #expect(await agent.heartbeat().completed == 1)

            // The open breaker routes the next task around the model: no new request reaches it.
            let next = try await agent.run(AgentTask(prompt: "hello again"), settings: Self.routedStreaming, runtime: harness.runtime).result()
            #expect(next.selection.modelName == "local")
            #expect(fake.requestCount == 1)
        }
    }

    @Test("a 429 with nothing to fall back to fails the run with PROVIDER_RATE_LIMITED and releases the reservation")
    func rateLimitWithoutFallbackFails() async throws {
        try await withServer(.always(.status(429, headers: [("retry-after", "5")]))) { fake in
            let harness = try await RunHarness.make(models: [RunModels.fake("primary", fake)], defaultModel: "primary")
            defer { harness.remove() }
            let agent = Agent(id: "general-1", type: "general", role: AgentRole())
            let run = agent.run(AgentTask(prompt: "hello", stream: true), settings: Self.routedStreaming, runtime: harness.runtime)
            let failure = try #require(await run.outcome().failure)
            #expect(failure.code == .providerRateLimited, "\(failure)")
            #expect(failure.terminal)
            #expect(failure.model == "primary")
            #expect(await harness.reserved() == 0)
            #expect(await harness.spent() == 0)
            let status = await agent.heartbeat()
            #expect(status.failed == 1 && status.completed == 0 && status.currentTask == nil)
        }
    }

    @Test("cancelling a run ends its events, stops the upstream call, and bills the call the provider accepted")
    func cancelReleasesTheReservation() async throws {
        let gate = FakeGate()
        try await withServer(.always(.openAIHeld(gate: gate))) { fake in
            let harness = try await RunHarness.make(models: [RunModels.fake("primary", fake)], defaultModel: "primary")
            defer { harness.remove() }
            let agent = Agent(id: "general-1", type: "general", role: AgentRole())
            let run = agent.run(AgentTask(prompt: "hold on", stream: true), settings: Self.routedStreaming, runtime: harness.runtime)
            var iterator = run.makeAsyncIterator()
            let first = await iterator.next()
            let second = await iterator.next()
            #expect(first?.name == "start")
            #expect(second?.name == "chunk", "the upstream sent one chunk and holds")
            #expect(await harness.reserved() > 0, "the estimated cost is reserved while the call runs")
            #expect(await agent.heartbeat().currentTask != nil)

            run.cancel()
            let end = await iterator.next()
            #expect(end == nil, "after cancel, the consumer's next event is the end")
            // The provider accepted the call and streamed a chunk: it bills, so fleetd does too,
            // at its estimate (this upstream reports no usage), and the reservation is settled.
            #expect(await waitUntil { await harness.reserved() == 0 })
            #expect(await harness.costs.activeReservations == 0)
            #expect(await harness.spent() > 0, "the cut call is billed")
            #expect(await waitUntil { fake.openConnections == 0 }, "the upstream call is cancelled")
            let status = await agent.heartbeat()
            #expect(status.currentTask == nil && status.failed == 1)
            gate.open()
        }
    }

    @Test("a fallback whose breaker opened while the task ran is skipped: the next model answers, the skipped one gets no request")
    func aFallbackWithAnOpenBreakerIsSkipped() async throws {
        let gate = FakeGate()
        let failing = FakeResponse(body: .held([], gate: gate, then: Array(
            "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}".utf8)), raw: true)
        try await withServer(FakeScript { _, index in index == 0 ? failing : .openAIText(stream: true) }) { fake in
            let harness = try await RunHarness.make(models: ["a", "b", "c"].map { RunModels.fake($0, fake) }, defaultModel: "a")
            defer { harness.remove() }
            let agent = Agent(id: "general-1", type: "general", role: AgentRole())
            let run = agent.run(AgentTask(prompt: "hello", stream: true), settings: Self.routedStreaming, runtime: harness.runtime)
            var iterator = run.makeAsyncIterator()
            guard case .start(let start) = await iterator.next() else { Issue.record("no start event"); return }
            #expect(start.fallbackModels.count == 2, "\(start.fallbackModels)")
            let skipped = start.fallbackModels[0], answering = start.fallbackModels[1]
            #expect(await waitUntil { fake.requestCount == 1 })
            // Another task's 429 opens the first fallback's breaker while this one waits.
            await harness.router.recordOutcome(model: skipped, success: false, latency: .zero, error: .rateLimited(retryAfter: 60))
            gate.open()
            var events: [TaskEvent] = []
            while let event = await iterator.next() { events.append(event) }
            let result = try #require(events.result, "\(events.map(\.name))")
            #expect(result.model == answering)
            #expect(!fake.requests.contains { ($0.jsonBody?["model"] as? String) == "\(skipped)-id" }, "the open fallback got a request")
        }
    }

    @Test("a fallback is asked for no more than its own maxOutputTokens")
    func aFallbackGetsItsOwnOutputLimit() async throws {
        try await withServer(FakeScript { _, index in index == 0 ? .status(500, body: "{}") : .openAIText(stream: true) }) { fake in
            let harness = try await RunHarness.make(models: [RunModels.fake("big", fake), RunModels.fake("small", fake, maxOutputTokens: 100)],
                                                    defaultModel: "big", lastResort: "small")
            defer { harness.remove() }
            let agent = Agent(id: "general-1", type: "general", role: AgentRole())
            let result = try await agent.run(AgentTask(prompt: "hello", maxTokens: 8_000, stream: true),
                                             settings: Self.routedStreaming, runtime: harness.runtime).result()
            #expect(result.selection.modelName == "big" && result.selection.fallbackModels == ["small"])
            #expect(result.model == "small")
            let asked = fake.requests.map { ($0.jsonBody?["max_completion_tokens"] ?? $0.jsonBody?["max_tokens"]) as? Int }
            #expect(asked == [8_000, 100], "\(asked)")
        }
    }

    @Test("with $0.003 left, the route and the task agree: the router checks the budget against what the call reserves")
    func routeAndTaskAgreeOnANearlySpentBudget() async throws {
        try await withServer(FakeScript { _, _ in .openAIText(stream: true) }) { fake in
            var mini = RunModels.fake("gpt-4o-mini", fake, pricing: ModelPricing(input: 0.00015, output: 0.0006))
            mini.qualityScore = 0.9
            var builtin = RunModels.builtin("local-builtin")
            builtin.qualityScore = 0.3
            // Routing ranks by quality alone: without the budget it picks gpt-4o-mini.
            let harness = try await RunHarness.make(models: [mini, builtin], defaultModel: "gpt-4o-mini",
                                                    weights: BalancedWeights(capability: 0, cost: 0, quality: 1, latency: 0, history: 0))
            defer { harness.remove() }
            _ = try await harness.costs.record(CostCall(model: "premium", provider: "openai", taskId: "earlier", agentId: "a", taskType: "simple"),
                                               usage: CostUsage(inputTokens: 9_997, outputTokens: 0), pricing: ModelPricing(input: 1), entryId: "spent")
            let agent = Agent(id: "general-1", type: "general", role: AgentRole())

            // The default answer limit (8,192 tokens) reserves ~$0.0049 on gpt-4o-mini: more than is left.
            let task = AgentTask(prompt: "hello", stream: true)
            let explained = try await harness.router.explain(task.routingTask(agentType: "general", role: AgentRole()))
            #expect(explained.modelName == "local-builtin")
            let excluded = explained.trace.candidates.first { $0.modelName == "gpt-4o-mini" }?.exclusion
            #expect(excluded?.stage == .budget, "\(String(describing: excluded))")
            // Only the budget left gpt-4o-mini out: the caller gets ROUTER_002, not the built-in
            // responder's canned text standing in for it.
            await #expect { _ = try await agent.run(task, settings: Self.routedStreaming, runtime: harness.runtime).result() }
                throws: { ($0 as? TaskFailure)?.code == .budgetExceeded }

            // An answer limit of 2,000 tokens reserves ~$0.0012: the router and the reservation both admit it.
            let small = AgentTask(prompt: "hello", maxTokens: 2_000, stream: true)
            let admitted = try await harness.router.explain(small.routingTask(agentType: "general", role: AgentRole()))
            #expect(admitted.modelName == "gpt-4o-mini")
            let paid = try await agent.run(small, settings: Self.routedStreaming, runtime: harness.runtime).result()
            #expect(paid.model == "gpt-4o-mini")
        }
    }

    @Test("policy cheaper-only with the budget spent: a fallback the router admitted as cheaper is admitted by the reservation too")
    func cheaperOnlyFallbacksAreAdmitted() async throws {
        try await withServer(FakeScript { _, index in index == 0 ? .status(500, body: "{}") : .openAIText(stream: true) }) { fake in
            var models = [RunModels.fake("premium", fake, pricing: ModelPricing(input: 1, output: 1)),
                          RunModels.fake("mid", fake, pricing: ModelPricing(input: 0.01, output: 0.02)),
                          RunModels.fake("cheap", fake, pricing: ModelPricing(input: 0.001, output: 0.002))]
            for (index, quality) in [0.95, 0.8, 0.7].enumerated() { models[index].qualityScore = quality }
            // Routing ranks by quality alone: its first choice is premium, the budget's reference.
            let harness = try await RunHarness.make(models: models, defaultModel: "premium", policy: .cheaperOnly,
                                                    weights: BalancedWeights(capability: 0, cost: 0, quality: 1, latency: 0, history: 0))
            defer { harness.remove() }
            _ = try await harness.costs.record(CostCall(model: "premium", provider: "openai", taskId: "earlier", agentId: "a", taskType: "simple"),
                                               usage: CostUsage(inputTokens: 10_000, outputTokens: 0), pricing: ModelPricing(input: 1), entryId: "spent")
            let agent = Agent(id: "general-1", type: "general", role: AgentRole())
            let run = agent.run(AgentTask(prompt: "hello", stream: true), settings: Self.routedStreaming, runtime: harness.runtime)
            let events = await run.events()
            let start = try #require(events.start)
            #expect(start.model != "premium" && !start.fallbackModels.isEmpty, "\(start.model) \(start.fallbackModels)")
            let result = try #require(events.result, "\(events.map(\.name))")
            #expect(result.model == start.fallbackModels.first)
        }
    }

    @Test("a settlement the store refuses for a moment is tried again: the call is billed, the reservation freed")
    func aRefusedSettlementIsRetried() async throws {
        try await withServer(.always(.openAIText(stream: true))) { fake in
            let harness = try await RunHarness.make(models: [RunModels.fake("primary", fake)], defaultModel: "primary", refusedSettlements: 2)
            defer { harness.remove() }
            let agent = Agent(id: "general-1", type: "general", role: AgentRole())
            let result = try await agent.run(AgentTask(prompt: "hello", stream: true), settings: Self.routedStreaming, runtime: harness.runtime).result()
            #expect(result.cost > 0)
            #expect(await harness.spent() > 0, "billed after two refusals")
            #expect(await harness.reserved() == 0)
        }
    }

    @Test("a settlement the store refuses past the task's retries is kept: billed at its real cost once the store is back")
    func aSettlementRefusedPastTheRetriesIsBilledLater() async throws {
        try await withServer(.always(.openAIText(stream: true))) { fake in
            let harness = try await RunHarness.make(models: [RunModels.fake("primary", fake)], defaultModel: "primary",
                                                    busyTimeoutSeconds: 0.1, settlementRetryInterval: .milliseconds(250))
            defer { harness.remove() }
            // Another writer holds the file for longer than the task's own retries (about seven seconds).
            let release = try await harness.holdWriteLock()
            let agent = Agent(id: "general-1", type: "general", role: AgentRole())
            let result = try await agent.run(AgentTask(prompt: "hello", stream: true), settings: Self.routedStreaming, runtime: harness.runtime).result()
            #expect(result.cost > 0, "the task costs what it will be billed")
            #expect(await harness.costs.unwrittenSettlements == 1)
            #expect(await harness.reserved() > 0, "the hold counts while its settlement waits")
            #expect(await harness.spent() == 0)

            // The other writer goes: the tracker writes the real cost and frees the hold.
            release()
            #expect(await waitUntil(timeout: .seconds(20)) { await harness.reserved() == 0 })
            #expect(await harness.costs.activeReservations == 0)
            #expect(await harness.costs.unwrittenSettlements == 0)
            let spent = await harness.spent()
            #expect(abs(spent - result.cost) < 1e-9, "billed at its real cost (\(result.cost)), not its estimate: \(spent)")
        }
    }

    @Test("a synchronous call cut while the provider generates is billed at its answer's limit, not released")
    func aCutSynchronousCallIsBilled() async throws {
        // The upstream takes the request and never answers: a non-streamed answer's head comes
        // only once the whole answer is generated.
        let silent = FakeResponse(headers: [("content-type", "application/json")], body: .bytes(Array("{}".utf8)), fault: .stallAfter(bytes: 0))
        try await withServer(.always(silent)) { fake in
            let harness = try await RunHarness.make(models: [RunModels.fake("primary", fake)], defaultModel: "primary")
            defer { harness.remove() }
            let agent = Agent(id: "general-1", type: "general", role: AgentRole())
            let run = agent.run(AgentTask(prompt: "hold on", stream: false), settings: TaskSettings(useRouter: true, useStreaming: false),
                                runtime: harness.runtime)
            let consumer = Task { await run.outcome() }
            #expect(await waitUntil { fake.requestCount == 1 })
            #expect(await harness.reserved() > 0)
            run.cancel()
            _ = await consumer.value
            #expect(await waitUntil { await harness.reserved() == 0 })
            // Billed as if the whole answer's limit (the default 8,192 tokens at $0.02 per 1k) came back.
            let spent = await harness.spent()
            #expect(spent >= Double(AgentRole.defaultOutputTokenCeiling) * 0.02 / 1_000, "\(spent)")
            #expect(await waitUntil { fake.openConnections == 0 }, "the upstream call is cancelled")
        }
    }

    @Test("cancelling the task that consumes a run releases the cost reservation")
    func cancelledConsumerReleasesTheReservation() async throws {
        let gate = FakeGate()
        try await withServer(.always(.openAIHeld(gate: gate))) { fake in
            let harness = try await RunHarness.make(models: [RunModels.fake("primary", fake)], defaultModel: "primary")
            defer { harness.remove() }
            let agent = Agent(id: "general-1", type: "general", role: AgentRole())
            let run = agent.run(AgentTask(prompt: "hold on", stream: true), settings: Self.routedStreaming, runtime: harness.runtime)
            let consumer = Task { await run.events() }
            #expect(await waitUntil { await harness.reserved() > 0 && fake.requestCount == 1 })
            consumer.cancel()
            let events = await consumer.value
            #expect(events.result == nil, "\(events.map(\.name))")
            #expect(await waitUntil { await harness.reserved() == 0 })
            #expect(await waitUntil { fake.openConnections == 0 })
            gate.open()
        }
    }

    @Test("a preferredModel no configured model has: the task runs as routed, its reason says so, and a warning names the configured models")
    func unknownPreferredModel() async throws {
        let capture = LogCapture()
        let harness = try await RunHarness.make(models: [RunModels.builtin("local"), RunModels.builtin("spare")], defaultModel: "local",
                                                routerLogger: capture.logger)
        defer { harness.remove() }
        let agent = Agent(id: "general-1", type: "general", role: AgentRole())
        let note = "preferred model 'lcoal' is not configured (configured: local, spare)"
        let typo = AgentTask(id: "typo-1", prompt: "Say hello.", preferredModel: "lcoal")
        let result = try await agent.run(typo, settings: Self.routedStreaming, runtime: harness.runtime).result()
        #expect(result.selection.reason.contains(note), "\(result.selection.reason)")
        let warnings = capture.all.filter { $0.hasPrefix("warning") }
        #expect(warnings.count == 1 && warnings.first?.contains(note) == true, "\(capture.all)")

        // A configured preference is no news: no note, no warning.
        let named = AgentTask(id: "named-1", prompt: "Say hello.", preferredModel: "spare")
        let served = try await agent.run(named, settings: Self.routedStreaming, runtime: harness.runtime).result()
        #expect(served.model == "spare" && !served.selection.reason.contains("not configured"), "\(served.selection.reason)")
        #expect(capture.all.filter { $0.hasPrefix("warning") }.count == 1, "\(capture.all)")
    }

    @Test("a consumer that drops the run's iterator releases the reservation and frees the agent")
    func droppedIteratorReleasesTheReservation() async throws {
        let gate = FakeGate()
        try await withServer(.always(.openAIHeld(gate: gate))) { fake in
            let harness = try await RunHarness.make(models: [RunModels.fake("primary", fake)], defaultModel: "primary")
            defer { harness.remove() }
            let agent = Agent(id: "general-1", type: "general", role: AgentRole())
            let run = agent.run(AgentTask(prompt: "hold on", stream: true), settings: Self.routedStreaming, runtime: harness.runtime)
            do {
                var iterator = run.makeAsyncIterator()
                let first = await iterator.next()
                let second = await iterator.next()
                #expect(first?.name == "start")
                #expect(second?.name == "chunk")
                #expect(await harness.reserved() > 0)
            }
            #expect(await waitUntil { await harness.reserved() == 0 }, "the reservation is released")
            #expect(await waitUntil { fake.openConnections == 0 }, "the upstream call is cancelled")
            let status = await agent.heartbeat()
            #expect(status.currentTask == nil, "\(status)")
            gate.open()
        }
    }
}

extension Result {
    /// The failure, if it is one.
    var failure: Failure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }
}

/// What a run with `predictiveRouting` on tells the learner by itself.
@Suite("TaskRun: automatic outcomes", .timeLimit(.minutes(1)))
struct TaskRunLearningTests {
    static let learning = TaskSettings(useRouter: true, useStreaming: true, useLearning: true)

    /// Runs one task on models `primary` and `backup` (in that order), both at a fake upstream
    /// answering `script`, and returns the model that answered and the learner's fleet-wide cells.
    static func run(_ script: FakeScript, settings: TaskSettings, id: String) async throws -> (model: String, cells: [LearnedCell]) {
        try await withServer(script) { fake in
            let harness = try await RunHarness.make(models: [RunModels.fake("primary", fake), RunModels.fake("backup", fake)], defaultModel: "primary")
            defer { harness.remove() }
            let agent = Agent(id: "general-1", type: "general", role: AgentRole())
            let result = try await agent.run(AgentTask(id: id, prompt: "hello", stream: true), settings: settings, runtime: harness.runtime).result()
            return (result.model, harness.router.learner.snapshot().filter { $0.tenantId == nil })
        }
    }

    @Test("a task's outcomes are learned for the tenant its routing reads, authenticated or only named")
    func learningTenantAgreesWithRouting() {
        let callers: [TaskCaller?] = [nil, TaskCaller(label: "key all-tenants"), TaskCaller(label: "key acme", tenantId: "acme")]
        let names: [String?] = [nil, "", "acme", "globex"]
        for caller in callers {
            for name in names {
                let task = AgentTask(id: "t", prompt: "hello", tenantId: name).authorized(by: caller)
                #expect(task.learningTenantId == task.routingTask(agentType: "general").learningTenantId,
                        "caller \(caller?.label ?? "none"), tenant \(name ?? "none")")
            }
        }
        #expect(AgentTask(id: "t", prompt: "hello", tenantId: "globex").learningTenantId == "globex", "no authenticated tenant: the one named")
        let acme = TaskCaller(label: "key acme", tenantId: "acme")
        #expect(AgentTask(id: "t", prompt: "hello", tenantId: "globex").authorized(by: acme).learningTenantId == "acme")
    }

    @Test("a failed call counts against its model, the fallback's answer for it; a 429 says nothing of either; off, nothing is learned")
    func automaticSignals() async throws {
        let id = "learn-1"
        #expect(!OutcomeLearner.explores(taskId: id, share: LearningConfiguration().exploration))
        let failed = try await Self.run(.sequence([.status(500), .openAIText(stream: true)]), settings: Self.learning, id: id)
        #expect(failed.model == "backup")
        let primary = try #require(failed.cells.first { $0.model == "primary" })
        let backup = try #require(failed.cells.first { $0.model == "backup" })
        #expect(primary.observed == 0.5 && primary.successes == 0, "\(primary)")
        #expect(backup.observed == 0.5 && backup.successes == 0.5, "\(backup)")

        let limited = try await Self.run(.sequence([.status(429, headers: [("retry-after", "1")]), .openAIText(stream: true)]),
                                         settings: Self.learning, id: id)
        #expect(limited.cells.map(\.model).allSatisfy { $0 == "backup" })

        let off = try await Self.run(.sequence([.status(500), .openAIText(stream: true)]), settings: TaskRunTests.routedStreaming, id: id)
        #expect(off.cells.isEmpty)
    }
}
