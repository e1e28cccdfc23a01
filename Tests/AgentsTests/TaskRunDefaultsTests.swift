import Agents
import FakeProvider
import Foundation
import Providers
import Routing
import Testing

/// One case of the answer's limit: the task's and the agent type's `maxTokens`, and what the pick
/// (maxOutputTokens 100, failing) and its fallback (no maxOutputTokens) are asked for.
struct OutputLimitCase: Sendable, CustomTestStringConvertible {
    var task: Int?
    var agentType: Int?
    var expected: [Int]
    var testDescription: String { "task \(task.map { "\($0)" } ?? "-"), agent type \(agentType.map { "\($0)" } ?? "-")" }
}

/// What a run does when the client leaves things to fleetd: the answer's token limit when no one
/// sets one, and the built-in local responder as the last resort after the models failed.
@Suite("TaskRun defaults", .timeLimit(.minutes(1)))
struct TaskRunDefaultsTests {
    static let routedStreaming = TaskSettings(useRouter: true, useStreaming: true)

    /// The answer's token limit a run's calls were asked for, in order.
    static func asked(_ fake: FakeProviderServer) -> [Int?] {
        fake.requests.map { ($0.jsonBody?["max_completion_tokens"] ?? $0.jsonBody?["max_tokens"]) as? Int }
    }

    @Test("the answer's limit is the task's, else its agent type's, else each model's own maxOutputTokens up to 8,192 (a fallback's own, not the pick's)",
          arguments: [OutputLimitCase(task: nil, agentType: nil, expected: [100, AgentRole.defaultOutputTokenCeiling]),
                      OutputLimitCase(task: nil, agentType: 300, expected: [100, 300]),
                      OutputLimitCase(task: 50, agentType: 300, expected: [50, 50])])
    func answerLimit(_ limits: OutputLimitCase) async throws {
        try await withServer(FakeScript { request, _ in
            (request.jsonBody?["model"] as? String) == "small-id" ? .status(500, body: "{}") : .openAIText(stream: true)
        }) { fake in
            let harness = try await RunHarness.make(models: [RunModels.fake("small", fake, maxOutputTokens: 100), RunModels.fake("open", fake)],
                                                    defaultModel: "small", lastResort: "open")
            defer { harness.remove() }
            let agent = Agent(id: "general-1", type: "general", role: AgentRole(maxTokens: limits.agentType))
            let result = try await agent.run(AgentTask(prompt: "Write a long story about the sea.", maxTokens: limits.task, stream: true),
                                             settings: Self.routedStreaming, runtime: harness.runtime).result()
            #expect(result.selection.modelName == "small" && result.model == "open", "\(result.selection.reason)")
            #expect(Self.asked(fake) == limits.expected.map(Optional.some), "\(Self.asked(fake))")
        }
    }

    @Test("with no limit set, the call reserves and asks for 8,192 tokens on a model whose maxOutputTokens is 64,000, and the router's context check counts the same")
    func theDefaultLimitIsReservedAndRouted() async throws {
        let gate = FakeGate()
        try await withServer(.always(.openAIHeld(gate: gate))) { fake in
            let harness = try await RunHarness.make(models: [RunModels.fake("wide", fake, maxOutputTokens: 64_000)], defaultModel: "wide")
            defer { harness.remove() }
            let agent = Agent(id: "general-1", type: "general", role: AgentRole())
            let run = agent.run(AgentTask(prompt: "hold on", stream: true), settings: Self.routedStreaming, runtime: harness.runtime)
            let consumer = Task { await run.events() }
            #expect(await waitUntil { await harness.reserved() > 0 && fake.requestCount == 1 })
            // Output at $0.02 per 1k: 8,192 tokens reserve $0.16384 (1,024 reserved $0.02048); the
            // input's bound adds well under a tenth of a cent.
            let outputBound = Double(AgentRole.defaultOutputTokenCeiling) * 0.02 / 1_000
            let reserved = await harness.reserved()
            #expect(reserved >= outputBound && reserved < outputBound + 0.001, "\(reserved)")
            #expect(Self.asked(fake) == [AgentRole.defaultOutputTokenCeiling], "\(Self.asked(fake))")
            gate.open()
            _ = await consumer.value
        }

        // The router holds the input and that answer in the context window.
        let routing = AgentTask(prompt: "hi").routingTask(agentType: "general", role: AgentRole())
        #expect(routing.outputTokenLimit == AgentRole.defaultOutputTokenCeiling)
        #expect(AgentTask(prompt: "hi").routingTask(agentType: "general", role: AgentRole(maxTokens: 300)).outputTokenLimit == 300)
        #expect(AgentTask(prompt: "hi", maxTokens: 40).routingTask(agentType: "general", role: AgentRole(maxTokens: 300)).outputTokenLimit == 40)
        let small = ModelConfiguration(name: "small-window", provider: .openai, model: "m", capabilities: ModelCapabilities(maxTokens: 6_000))
        let problem = small.capabilityProblem(for: routing, inputTokens: 10, outputTokens: 100)
        #expect(problem?.contains("up to \(AgentRole.defaultOutputTokenCeiling) out") == true, "\(String(describing: problem))")
        var listed = small
        listed.capabilities.maxOutputTokens = 2_000
        #expect(listed.capabilityProblem(for: routing, inputTokens: 10, outputTokens: 100) == nil, "cut to the model's own maxOutputTokens")
    }

    static let limited = FakeResponse.status(429, body: #"{"error":{"type":"rate_limit_error","message":"slow down"}}"#,
                                             headers: [("retry-after", "120")])

    @Test("every model answering 429: the built-in last resort says which model failed and how, then that the models cannot be used now; never to configure a key")
    func theLastResortSaysWhyItAnswers() async throws {
        try await withServer(.always(Self.limited)) { fake in
            let harness = try await RunHarness.make(models: [RunModels.fake("primary", fake), RunModels.builtin("local")],
                                                    defaultModel: "primary", lastResort: "local")
            defer { harness.remove() }
            let agent = Agent(id: "general-1", type: "general", role: AgentRole())
            let result = try await agent.run(AgentTask(prompt: "hello", stream: true), settings: Self.routedStreaming, runtime: harness.runtime).result()
            #expect(result.model == "local" && result.localDefault)
            #expect(result.output.hasPrefix(BuiltinProvider.failoverLabel), "\(result.output)")
            #expect(result.output.contains("(last: primary: rate limited (HTTP 429))"), "\(result.output)")
            #expect(!result.output.contains("Configure a provider API key"), "\(result.output)")

            // The model's breaker is open now: the router picks the responder, which says why.
            let next = try await agent.run(AgentTask(prompt: "hello again"), settings: Self.routedStreaming, runtime: harness.runtime).result()
            #expect(next.selection.modelName == "local" && next.localDefault)
            #expect(next.output.hasPrefix(BuiltinProvider.label), "\(next.output)")
            #expect(next.output.contains("cannot be used right now (primary: model breaker open"), "\(next.output)")
            #expect(!next.output.contains("Configure a provider API key"), "\(next.output)")
            #expect(fake.requestCount == 1)
        }
    }

    @Test("a compatible client's request whose models fail gets the last model's error, not the built-in responder's text")
    func aCompatibleRequestGetsTheModelsError() async throws {
        try await withServer(.always(Self.limited)) { fake in
            let harness = try await RunHarness.make(models: [RunModels.fake("primary", fake), RunModels.builtin("local")],
                                                    defaultModel: "primary", lastResort: "local")
            defer { harness.remove() }
            let agent = Agent(id: "general-1", type: "general", role: AgentRole())
            func compatible(_ text: String) -> AgentTask {
                AgentTask(prompt: text, stream: true, conversation: ProviderRequest(model: "", prompt: text))
            }
            let failure = try #require(await agent.run(compatible("hello"), settings: Self.routedStreaming, runtime: harness.runtime).outcome().failure)
            #expect(failure.code == .providerRateLimited && failure.model == "primary", "\(failure)")
            #expect(failure.retryAfterSeconds == 120, "the provider's Retry-After reaches the client")

            // With the breaker open the router's pick is the responder: the client still gets an error, naming why.
            let again = try #require(await agent.run(compatible("hello again"), settings: Self.routedStreaming, runtime: harness.runtime).outcome().failure)
            #expect(again.code == .modelSelectionFailed && again.message.contains("primary: model breaker open"), "\(again)")
            #expect(fake.requestCount == 1)

            // fleetd's own tasks keep the labelled last resort.
            let own = try await agent.run(AgentTask(prompt: "hello"), settings: Self.routedStreaming, runtime: harness.runtime).result()
            #expect(own.localDefault)
            #expect(await harness.reserved() == 0)
        }
    }
}
