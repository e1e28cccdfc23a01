import Agents
import FleetSupport
import Foundation
import NIOCore
import Providers

/// What a task's result says, in the terms both dialects' answers are written from.
struct CompatAnswer {
    var taskId: String
    /// The fleet model that answered.
    var model: String
    var text: String
    /// The calls, with ids (made up when the provider gave none: Gemini, Ollama).
    var toolCalls: [ToolUse]
    /// Each call's arguments as the provider sent them (OpenAI clients get this text as is when
    /// it is a JSON object).
    var argumentTexts: [String]
    var stop: StopReason
    /// All input tokens, cached ones included.
    var inputTokens: Int
    var cachedTokens: Int
    /// Of the input, the tokens written to the provider's prompt cache.
    var cacheWriteTokens: Int
    var outputTokens: Int
    var facts: CompatFacts
    /// When the model thought: the answer's thinking and text blocks in the order they came
    /// (Anthropic clients get them as they are; OpenAI clients, the thinking text).
    var content: [ContentBlock] = []

    var thinking: [ContentBlock] { content.filter(\.isThinking) }

    /// The stop as OpenAI's dialects tell it: a refusal with no text to show (Anthropic's
    /// streaming classifiers stop an answer so) is a content filter's stop, not a plain `stop`
    /// that reads as an empty answer.
    var openAIStop: StopReason { stop == .refusal && text.isEmpty ? .contentFilter : stop }

    init(taskId: String, model: String, text: String, toolCalls: [ToolUse] = [], argumentTexts: [String]? = nil, stop: StopReason,
         inputTokens: Int, cachedTokens: Int = 0, cacheWriteTokens: Int = 0, outputTokens: Int, facts: CompatFacts? = nil) {
        self.taskId = taskId
        self.model = model
        self.text = text
        self.toolCalls = toolCalls
        self.argumentTexts = argumentTexts ?? toolCalls.map(\.input.compactText)
        self.stop = stop
        self.inputTokens = inputTokens
        self.cachedTokens = cachedTokens
        self.cacheWriteTokens = cacheWriteTokens
        self.outputTokens = outputTokens
        self.facts = facts ?? CompatFacts(taskId: taskId, model: model, provider: .builtin, cost: nil, fallbacks: [])
    }

    /// A result whose tool calls were fleetd's own (the agent type's MCP tools, used only when the
    /// client brought none) gives the client none of them: it declared no such function and could
    /// not answer it. Those are left only when `maxToolRounds` ran out, and the answer is then the
    /// model's last text, ended as a turn.
    init(_ result: TaskResult) {
        let ownTools = result.toolUse != nil
        let calls = ownTools ? [] : result.toolCalls ?? []
        let uses = calls.enumerated().map { index, call in
            ToolUse(id: call.id ?? "call_\(result.taskId)_\(index)", name: call.name, input: Self.input(call.arguments))
        }
        var stop = StopReason(providerReason: result.finishReason, hasToolCalls: !uses.isEmpty)
        if ownTools, stop == .toolUse { stop = .endTurn }
        self.init(taskId: result.taskId, model: result.model, text: result.output, toolCalls: uses, argumentTexts: calls.map(\.arguments),
                  stop: stop,
                  inputTokens: result.usage.inputTokens, cachedTokens: result.usage.cachedTokens,
                  cacheWriteTokens: result.usage.cacheWriteTokens, outputTokens: result.usage.outputTokens,
                  facts: CompatFacts(result))
        content = result.content ?? []
    }

    /// Arguments as an object: empty text is `{}`; text that is not a JSON object (a provider cut
    /// short by max_tokens) is kept whole as `{"_fleetd_unparsed_arguments": text}`.
    static func input(_ arguments: String) -> JSONValue {
        let trimmed = arguments.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return .object([:]) }
        if let value = JSONValue.parse(trimmed), case .object = value { return value }
        return .object(["_fleetd_unparsed_arguments": .string(arguments)])
    }

    /// The OpenAI text of call `index`'s arguments: the provider's own text when it is a JSON
    /// object, else the object fleetd made of it.
    func argumentsText(_ index: Int) -> String {
        let original = argumentTexts[index]
        if let value = JSONValue.parse(original), case .object = value { return original }
        return toolCalls[index].input.compactText
    }
}

/// fleetd's facts about an answer, sent as `x-fleetd-*` headers and, for streams (whose headers
/// leave before the answer ends), as a `fleetd` member of the last event.
struct CompatFacts {
    var taskId: String
    var model: String
    var provider: ProviderKind
    var cost: Double?
    var fallbacks: [String]
    /// `hit` or `miss` when the response cache was asked (`advancedCaching`), as `/v1/tasks` says it.
    var cache: String?

    init(taskId: String, model: String, provider: ProviderKind, cost: Double?, fallbacks: [String]) {
        self.taskId = taskId
        self.model = model
        self.provider = provider
        self.cost = cost
        self.fallbacks = fallbacks
    }

    init(_ result: TaskResult) {
        taskId = result.taskId
        model = result.model
        provider = result.provider
        cost = result.cost
        fallbacks = result.selection.fallbackModels
        cache = result.cache
    }

    init(taskId: String, start: TaskStart?) {
        self.taskId = taskId
        model = start?.model ?? ""
        provider = start?.provider ?? .builtin
        cost = nil
        fallbacks = start?.fallbackModels ?? []
    }

    var headers: [(String, String)] {
        var fields = [("x-fleetd-task-id", taskId), ("x-fleetd-model", model), ("x-fleetd-provider", provider.rawValue),
                      ("x-fleetd-fallbacks", fallbacks.joined(separator: ","))]
        if let cost { fields.append(("x-fleetd-cost-usd", String(format: "%.6f", cost))) }
        if let cache { fields.append(("x-fleetd-cache", cache)) }
        return fields
    }

    var json: JSONValue {
        var object: JSONObject = [
            "task_id": .string(taskId), "model": .string(model), "provider": .string(provider.rawValue),
            "fallbacks": .array(fallbacks.map(JSONValue.string)),
        ]
        if let cost { object["cost_usd"] = .number(cost) }
        return .object(object)
    }
}

/// Writes a compatible stream's SSE in one dialect: the opening, each text delta, then the
/// close (tool calls, stop reason, usage) or an error. Output reaches the client as the task
/// produces it; tool calls are relayed whole when the model finishes (fleetd keeps them until
/// then, so a retry or fallback before output never leaves half a call behind).
protocol CompatStreamWriter: Sendable {
    mutating func begin(into buffer: inout ByteBuffer)
    mutating func text(_ text: String, into buffer: inout ByteBuffer)
    /// A piece of the model's thinking, as it comes (before the text it leads to).
    mutating func thinking(_ delta: ThinkingDelta, into buffer: inout ByteBuffer)
    mutating func finish(_ answer: CompatAnswer, into buffer: inout ByteBuffer)
    mutating func fail(_ error: CompatError, into buffer: inout ByteBuffer)
}

extension CompatStreamWriter {
    /// A dialect with no thinking blocks tells none: only `/v1/messages` can ask for thinking.
    mutating func thinking(_ delta: ThinkingDelta, into buffer: inout ByteBuffer) {}
}

extension ByteBuffer {
    /// One SSE event: `event:` when named, one `data:` line of compact JSON.
    mutating func writeSSE(event: String?, _ value: JSONValue) {
        SSEEncoder.write(event: event ?? "", data: (try? FastJSONEncoder().encode(value)) ?? Array("{}".utf8), into: &self)
    }
}
