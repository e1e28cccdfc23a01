import FleetSupport
import Foundation
import NIOCore

/// Ollama native `/api/chat` streaming: one JSON object per line; `message.content` deltas,
/// whole `message.tool_calls`, and a final `done: true` line with `done_reason`,
/// `prompt_eval_count` and `eval_count`. An error after output started is a `{"error":…}` line.
struct OllamaStreamDecoder: ProviderStreamDecoder {
    private var reader = NDJSONLineReader()
    private var toolCalls = 0
    private var done = false

    mutating func decode(_ buffer: ByteBuffer, into out: inout [ProviderEvent]) throws {
        let lines: [[UInt8]]
        do {
            lines = try reader.read(buffer)
        } catch {
            throw ProviderError(kind: .invalidResponse, provider: .ollama, message: "\(error)")
        }
        for line in lines { try handle(line, into: &out) }
    }

    mutating func finish() throws -> [ProviderEvent] {
        var out: [ProviderEvent] = []
        if let last = reader.finish() { try handle(last, into: &out) }
        guard done else {
            throw ProviderError(kind: .network, provider: .ollama, message: "the stream ended before done:true")
        }
        return out
    }

    private mutating func handle(_ line: [UInt8], into out: inout [ProviderEvent]) throws {
        if done { return }
        let chunk: OllamaWire.ChatResponse
        do {
            chunk = try OllamaWire.ChatResponse(json: JSONValue.parse(utf8: line))
        } catch {
            out.append(.invalidChunk(reason: "undecodable line: \(error)"))
            return
        }
        if chunk.error != nil {
            throw ProviderErrorClassifier.midStream(json: line, provider: .ollama, secret: nil)
        }
        out += chunk.events(toolCallBase: &toolCalls)
        if chunk.done == true {
            done = true
            out.append(.finish(reason: chunk.done_reason ?? "stop"))
            out.append(.usage(chunk.usage))
        }
    }
}

/// Ollama's `/api/chat` answer shape (streamed lines and the whole answer alike).
/// Read by hand from the parsed text (``ChatResponse/init(json:)``, see `JSONValue+Read.swift`);
/// `Decodable` too, as `JSONDecoder` reads it, which the tests hold the hand reader to.
enum OllamaWire {
    struct ChatResponse: Decodable, Equatable {
        var model: String?
        var message: Message?
        var done: Bool?
        var done_reason: String?
        var prompt_eval_count: Int?
        var eval_count: Int?
        var error: String?

        var usage: TokenUsage {
            TokenUsage(inputTokens: prompt_eval_count ?? 0, outputTokens: eval_count ?? 0)
        }

        func events(toolCallBase: inout Int) -> [ProviderEvent] {
            var out: [ProviderEvent] = []
            if let text = message?.content, !text.isEmpty { out.append(.textDelta(text)) }
            for call in message?.tool_calls ?? [] {
                let arguments = call.function.arguments.flatMap { try? FastJSONEncoder().encodeToString($0) } ?? "{}"
                out.append(.toolCallDelta(ToolCallDelta(index: toolCallBase, name: call.function.name, argumentsFragment: arguments)))
                toolCallBase += 1
            }
            return out
        }
    }
    struct Message: Decodable, Equatable {
        var content: String?
        var tool_calls: [ToolCallWire]?
    }
    struct ToolCallWire: Decodable, Equatable { var function: Function }
    struct Function: Decodable, Equatable {
        var name: String
        var arguments: JSONValue?
    }
}

extension OllamaWire.ChatResponse {
    init(json: JSONValue) throws {
        let members = try json.members("line")
        model = try members.string("model", in: "line")
        done = try members.bool("done", in: "line")
        done_reason = try members.string("done_reason", in: "line")
        prompt_eval_count = try members.int("prompt_eval_count", in: "line")
        eval_count = try members.int("eval_count", in: "line")
        // Any error member but `null` is the server's error, whatever its shape.
        error = members["error"].flatMap { value in
            if case .string(let text) = value { return text }
            return value == .null ? nil : "\(value)"
        }
        message = try members.object("message", in: "line").map { message in
            OllamaWire.Message(content: try message.string("content", in: "line.message"),
                               tool_calls: try message.array("tool_calls", in: "line.message")?.enumerated().map { index, call in
                                   let path = "line.message.tool_calls[\(index)]"
                                   guard let function = try call.members(path).object("function", in: path) else {
                                       throw JSONShapeError(path: "\(path).function", expected: "present")
                                   }
                                   return OllamaWire.ToolCallWire(function: OllamaWire.Function(
                                       name: try function.requiredString("name", in: "\(path).function"),
                                       arguments: function["arguments"].flatMap { $0 == .null ? nil : $0 }))
                               })
        }
    }
}
