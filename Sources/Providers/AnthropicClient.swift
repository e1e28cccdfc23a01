import FleetSupport
import Foundation
import NIOHTTP1

/// Anthropic Messages API: `POST {base}/v1/messages` with `x-api-key` and
/// `anthropic-version: 2023-06-01`.
public struct AnthropicClient: ProviderClient {
    public var kind: ProviderKind { .anthropic }
    let endpoint: ModelEndpoint
    let http: ProviderHTTP

    init(endpoint: ModelEndpoint, http: ProviderHTTP) {
        self.endpoint = endpoint
        self.http = http
    }

    private var url: String { endpoint.resolvedBaseURL + "/v1/messages" }

    private var headers: HTTPHeaders {
        var headers = HTTPHeaders()
        if let key = http.secret { headers.add(name: "x-api-key", value: key) }
        headers.add(name: "anthropic-version", value: "2023-06-01")
        return headers
    }

    public func complete(_ request: ProviderRequest, cancellation: CancellationSignal?) async throws -> ProviderResponse {
        let answer = try await http.sendAndRead(url: url, headers: headers, body: AnthropicWireRequest(request, stream: false),
                                                cancellation: cancellation, Wire.Message.init(json:))
        var text = ""
        var calls: [ToolCall] = []
        var ordered: [ContentBlock] = [] // thinking and text, in order
        for block in answer.content ?? [] {
            if block.type == "thinking" { ordered.append(.thinking(text: block.thinking ?? "", signature: block.signature ?? "")) }
            if block.type == "redacted_thinking" { ordered.append(.redactedThinking(data: block.data ?? "")) }
            if block.type == "text", let t = block.text {
                text += t
                ordered.append(.text(t))
            }
            if block.type == "tool_use", let name = block.name {
                let args = block.input.flatMap { try? FastJSONEncoder().encodeToString($0) } ?? "{}"
                calls.append(ToolCall(id: block.id, name: name, arguments: args))
            }
        }
        let u = answer.usage
        let usage = u.map {
            AnthropicStreamDecoder.usage(input: $0.input_tokens ?? 0, cacheRead: $0.cache_read_input_tokens ?? 0,
                                         cacheWrite: $0.cache_creation_input_tokens ?? 0,
                                         cacheWriteHour: $0.cache_creation?.ephemeral_1h_input_tokens ?? 0, output: $0.output_tokens ?? 0)
        }
        return ProviderResponse(text: text, toolCalls: calls, finishReason: answer.stop_reason, usage: usage, model: answer.model,
                                content: ordered.contains(where: \.isThinking) ? ordered : [])
    }

    public func send(streaming request: ProviderRequest, cancellation: CancellationSignal?) throws -> SentStream {
        let pending = try http.startStreaming(url: url, headers: headers, body: AnthropicWireRequest(request, stream: true), cancellation: cancellation)
        return SentStream(http: http, pending: pending, decoder: AnthropicStreamDecoder(secret: http.secret), provider: .anthropic, cancellation: cancellation)
    }

    /// The answer's wire shape, read by hand (``Wire/Message/init(json:)``); `Decodable` too, as
    /// `JSONDecoder` reads it, which the tests hold the hand reader to.
    enum Wire {
        struct Message: Decodable, Equatable {
            var model: String?
            var content: [Block]?
            var stop_reason: String?
            var usage: AnthropicStreamDecoder.Wire.Usage?
        }
        struct Block: Decodable, Equatable {
            var type: String
            var text: String?
            var id: String?
            var name: String?
            var input: JSONValue?
            var thinking: String?
            var signature: String?
            var data: String?
        }
    }
}

extension AnthropicClient.Wire.Message {
    init(json: JSONValue) throws {
        let members = try json.members("answer")
        model = try members.string("model", in: "answer")
        stop_reason = try members.string("stop_reason", in: "answer")
        usage = try members.object("usage", in: "answer").map { try AnthropicStreamDecoder.Wire.Usage(members: $0, path: "answer.usage") }
        content = try members.array("content", in: "answer")?.enumerated().map { index, block in
            let path = "answer.content[\(index)]"
            let block = try block.members(path)
            return AnthropicClient.Wire.Block(type: try block.requiredString("type", in: path), text: try block.string("text", in: path),
                                              id: try block.string("id", in: path), name: try block.string("name", in: path),
                                              input: block["input"].flatMap { $0 == .null ? nil : $0 },
                                              thinking: try block.string("thinking", in: path), signature: try block.string("signature", in: path),
                                              data: try block.string("data", in: path))
        }
    }
}
