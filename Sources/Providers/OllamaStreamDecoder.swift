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
            chunk = try JSONDecoder().decode(OllamaWire.ChatResponse.self, from: Data(line))
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
enum OllamaWire {
    struct ChatResponse: Decodable {
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
                let arguments = call.function.arguments.flatMap { try? String(decoding: JSONEncoder().encode($0), as: UTF8.self) } ?? "{}"
                out.append(.toolCallDelta(ToolCallDelta(index: toolCallBase, name: call.function.name, argumentsFragment: arguments)))
                toolCallBase += 1
            }
            return out
        }
    }
    struct Message: Decodable {
        var content: String?
        var tool_calls: [ToolCallWire]?
    }
    struct ToolCallWire: Decodable { var function: Function }
    struct Function: Decodable {
        var name: String
        var arguments: JSONValue?
    }
}
