import Foundation
import Routing
import Testing

/// What a client's request needs (tools, images, its size, what its provider's format must
/// carry) decides at the capabilities stage, with the reason in the trace and in ROUTER_001.
@Suite("Router needs")
struct RouterNeedsTests {
    @Test("a provider whose format cannot carry the task is excluded, naming what it lacks")
    func providerLimits() async throws {
        let scorer = FixedScorer(defaultScore: 0.2)
        let router = ModelRouter(configuration: Seed.configuration([Seed.haiku, Seed.ollama], strategy: .cost), scorer: scorer)
        var task = Seed.task()
        task.providerLimits = [ProviderLimit(provider: .anthropic, reason: "a JSON response_format (no JSON mode)")]
        let selection = try await router.select(task)
        #expect(selection.modelName == "qwen-local")
        let haiku = try #require(selection.trace.candidates.first { $0.modelName == "claude-haiku-4" })
        #expect(haiku.exclusion?.stage == .capabilities)
        #expect(haiku.exclusion?.detail == "anthropic cannot carry a JSON response_format (no JSON mode)")
    }

    @Test("a limit of a provider's older models keeps those out and leaves its newer ones in")
    func olderModelsLimits() async throws {
        let scorer = FixedScorer(defaultScore: 0.35)
        let router = ModelRouter(configuration: Seed.configuration([Seed.haiku, Seed.sonnet], strategy: .cost), scorer: scorer)
        var task = Seed.task()
        #expect(try await router.select(task).modelName == "claude-haiku-4", "the cheaper model, without the limit")
        task.providerLimits = [ProviderLimit(provider: .anthropic, reason: "a JSON schema (structured outputs begin with Claude 4.5)",
                                             models: .claudeBefore(major: 4, minor: 5))]
        let selection = try await router.select(task)
        #expect(selection.modelName == "claude-sonnet-4.5")
        let haiku = try #require(selection.trace.candidates.first { $0.modelName == "claude-haiku-4" })
        #expect(haiku.exclusion?.detail == "anthropic cannot carry a JSON schema (structured outputs begin with Claude 4.5)")
        // Named (a compatible client's model), the older model is refused with the reason.
        #expect(Seed.haiku.capabilityProblem(for: task, inputTokens: 10, outputTokens: 10) == haiku.exclusion?.detail)
        #expect(Seed.sonnet.capabilityProblem(for: task, inputTokens: 10, outputTokens: 10) == nil)
    }

    @Test("images go only to models that take them; none is ROUTER_001 naming why")
    func images() async throws {
        var vision = Seed.sonnet
        vision.capabilities.inputModalities = [.text, .image]
        let scorer = FixedScorer(defaultScore: 0.35)
        var task = Seed.task()
        task.attachments = [.image]
        let router = ModelRouter(configuration: Seed.configuration([Seed.haiku, vision], strategy: .cost), scorer: scorer)
        #expect(try await router.select(task).modelName == "claude-sonnet-4.5")
        let textOnly = ModelRouter(configuration: Seed.configuration([Seed.haiku], strategy: .cost), scorer: scorer)
        let error = await #expect(throws: RouterError.self) { try await textOnly.select(task) }
        #expect(error?.exclusions.map(\.stage) == [.capabilities])
        #expect(error?.message.contains("cannot take image input") == true)
    }

    @Test("an image, audio or video task goes only to a model that takes that input, as an attached image does; none is the same ROUTER_001")
    func taskTypesNeedTheirInput() async throws {
        var vision = Seed.sonnet
        vision.capabilities.inputModalities = [.text, .image]
        let scorer = FixedScorer(defaultScore: 0.35)
        let router = ModelRouter(configuration: Seed.configuration([Seed.haiku, vision], strategy: .cost), scorer: scorer)
        #expect(try await router.select(Seed.task(type: .text)).modelName == "claude-haiku-4", "the cheaper model serves text")
        let image = try await router.select(Seed.task(type: .image))
        #expect(image.modelName == "claude-sonnet-4.5")
        let haiku = try #require(image.trace.candidates.first { $0.modelName == "claude-haiku-4" })
        #expect(haiku.exclusion?.stage == .capabilities)
        #expect(haiku.exclusion?.detail == "cannot take image input (task type image)")
        for type in [TaskType.audio, .video] {
            let error = await #expect(throws: RouterError.self) { try await router.select(Seed.task(type: type)) }
            #expect(error?.exclusions.map(\.stage) == [.capabilities, .capabilities], "\(type)")
            #expect(error?.message.contains("cannot take \(type.rawValue) input") == true, "\(type)")
        }

        // Text models and the built-in last resort, which takes text only: an image task is
        // refused as an attached image is, the last resort left out alike; text is served as before.
        let builtin = ModelConfiguration(name: "local", provider: .builtin, model: "fleetd-builtin")
        let textOnly = ModelRouter(configuration: Seed.configuration([Seed.haiku, builtin], strategy: .cost, lastResort: "local"), scorer: scorer)
        var attached = Seed.task(id: "t-attached")
        attached.attachments = [.image]
        let byAttachment = await #expect(throws: RouterError.self) { try await textOnly.select(attached) }
        let byType = await #expect(throws: RouterError.self) { try await textOnly.select(Seed.task(id: "t-typed", type: .image)) }
        #expect(byType?.code == .modelSelectionFailed && byAttachment?.code == .modelSelectionFailed)
        #expect(byType?.exclusions.map(\.model) == ["claude-haiku-4", "local"])
        #expect(byType?.exclusions.map(\.model) == byAttachment?.exclusions.map(\.model))
        #expect(byType?.exclusions.map(\.stage) == byAttachment?.exclusions.map(\.stage))
        let text = try await textOnly.select(Seed.task(id: "t-text"))
        #expect(text.modelName == "claude-haiku-4" && text.fallbackModels == ["local"])
    }

    @Test("tools and the context window are checked by the same rule a named model is held to")
    func capabilityProblem() {
        var model = Seed.haiku
        model.capabilities.supportsTools = false
        var task = Seed.task()
        #expect(model.capabilityProblem(for: task, inputTokens: 10, outputTokens: 10) == nil)
        task.needsTools = true
        #expect(model.capabilityProblem(for: task, inputTokens: 10, outputTokens: 10) == "task uses tools; the model cannot call tools")
        model.capabilities.supportsTools = true
        #expect(model.capabilityProblem(for: task, inputTokens: 199_990, outputTokens: 100)?.contains("context window is 200000") == true)
    }

    @Test("the context window must hold the input and the answer's limit, not only the expected answer")
    func theWindowHoldsTheAnswersLimit() {
        var model = Seed.haiku
        model.capabilities.maxTokens = 128_000
        var task = Seed.task()
        #expect(model.capabilityProblem(for: task, inputTokens: 126_000, outputTokens: 500) == nil, "no limit given: the estimate fits")
        task.outputTokenLimit = 4_096
        #expect(model.capabilityProblem(for: task, inputTokens: 126_000, outputTokens: 500)?.contains("up to 4096 out") == true)
        // A model that never answers more than 1,000 tokens fits: the request is cut to that.
        model.capabilities.maxOutputTokens = 1_000
        #expect(model.capabilityProblem(for: task, inputTokens: 126_000, outputTokens: 500) == nil)
    }
}
