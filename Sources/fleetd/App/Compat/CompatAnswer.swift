import Agents
import FleetSupport
import Foundation
import NIOCore
import Providers

/// What a task's result says, in the terms both dialects' answers are written from.
struct CompatAnswer {
    var text: String
    var toolCalls: [ToolUse]
    var stop: StopReason
    var inputTokens: Int
    var cachedTokens: Int
    var outputTokens: Int

    init(_ result: TaskResult) {
        text = result.output
        toolCalls = (result.toolCalls ?? []).enumerated().map { index, call in
            ToolUse(id: call.id ?? "call_\(result.taskId)_\(index)", name: call.name, input: Self.input(call.arguments))
        }
        stop = StopReason(providerReason: result.finishReason, hasToolCalls: !toolCalls.isEmpty)
        inputTokens = result.usage.inputTokens
        cachedTokens = result.usage.cachedTokens
        outputTokens = result.usage.outputTokens
    }

    /// Arguments as an object: empty text is `{}`; text that is not a JSON object (a provider cut
    /// short by max_tokens) is kept whole as `{"_fleetd_unparsed_arguments": text}`.
    static func input(_ arguments: String) -> JSONValue {
        let trimmed = arguments.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return .object([:]) }
        if let value = JSONValue.parse(trimmed), case .object = value { return value }
        return .object(["_fleetd_unparsed_arguments": .string(arguments)])
    }

    /// The OpenAI text of a call's arguments: the provider's own text when it is a JSON object.
    static func argumentsText(_ call: ToolUse, original: String?) -> String {
        if let original, let value = JSONValue.parse(original), case .object = value { return original }
        return call.input.compactText
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

    init(_ result: TaskResult) {
        taskId = result.taskId
        model = result.model
        provider = result.provider
        cost = result.cost
        fallbacks = result.selection.fallbackModels
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
        return fields
    }

    var json: JSONValue {
        var object: [String: JSONValue] = [
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
protocol CompatStreamWriter {
    mutating func begin(into buffer: inout ByteBuffer)
    mutating func text(_ text: String, into buffer: inout ByteBuffer)
    mutating func finish(_ result: TaskResult, into buffer: inout ByteBuffer)
    mutating func fail(_ error: CompatError, into buffer: inout ByteBuffer)
}

extension ByteBuffer {
    /// One SSE event: `event:` when named, one `data:` line of compact JSON.
    mutating func writeSSE(event: String?, _ value: JSONValue) {
        SSEEncoder.write(event: event ?? "", data: (try? FastJSONEncoder().encode(value)) ?? Array("{}".utf8), into: &self)
    }
}
