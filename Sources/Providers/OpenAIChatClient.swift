import FleetSupport
import Foundation
import NIOHTTP1

/// OpenAI Chat Completions: `POST {base}/chat/completions` with `Authorization: Bearer`.
/// Also serves xAI (`https://api.x.ai/v1`) and Ollama's OpenAI-compatible `/v1`.
/// Streaming asks for `stream_options.include_usage` so the last chunk carries the usage.
public struct OpenAIChatClient: ProviderClient {
    public let kind: ProviderKind
    let endpoint: ModelEndpoint
    let http: ProviderHTTP

    init(endpoint: ModelEndpoint, http: ProviderHTTP) {
        self.kind = endpoint.provider
        self.endpoint = endpoint
        self.http = http
    }

    private var url: String { endpoint.resolvedBaseURL + "/chat/completions" }

    private var headers: HTTPHeaders {
        var headers = HTTPHeaders()
        if let key = http.secret { headers.add(name: "authorization", value: "Bearer \(key)") }
        return headers
    }

    /// OpenAI's own API wants `max_completion_tokens` (reasoning models reject `max_tokens`);
    /// xAI, Ollama and gateways take `max_tokens`.
    private var usesMaxCompletionTokens: Bool {
        kind == .openai && endpoint.resolvedBaseURL == ProviderKind.openai.defaultBaseURL
    }

    public func complete(_ request: ProviderRequest, cancellation: CancellationSignal?) async throws -> ProviderResponse {
        let body = OpenAIWireRequest(request, stream: false, maxCompletionTokens: usesMaxCompletionTokens, strictTools: kind == .openai)
        let answer = try await http.sendAndRead(url: url, headers: headers, body: body, cancellation: cancellation, Wire.Completion.init(json:))
        let message = answer.choices?.first?.message
        let calls = (message?.tool_calls ?? []).compactMap { call in
            call.function.map { ToolCall(id: call.id, name: $0.name ?? "", arguments: $0.arguments ?? "") }
        }
        // A refusal (structured outputs) comes as `refusal` with no content: it is the answer's
        // text, and the turn ended as a refusal.
        let refusal = message?.refusal ?? ""
        let content = message?.content ?? ""
        return ProviderResponse(
            text: content + refusal, toolCalls: calls,
            finishReason: Self.finishReason(answer.choices?.first?.finish_reason, refusal: !refusal.isEmpty, content: !content.isEmpty),
            usage: answer.usage?.normalised, model: answer.model
        )
    }

    /// The finish reason, `refusal` for a turn that ended normally (`stop`) with refusal text and
    /// no content; streamed or not, the same rule.
    static func finishReason(_ reason: String?, refusal: Bool, content: Bool) -> String? {
        refusal && !content && reason == "stop" ? "refusal" : reason
    }

    public func send(streaming request: ProviderRequest, cancellation: CancellationSignal?) throws -> SentStream {
        let wire = OpenAIWireRequest(request, stream: true, maxCompletionTokens: usesMaxCompletionTokens, strictTools: kind == .openai)
        let pending = try http.startStreaming(url: url, headers: headers, body: wire, cancellation: cancellation)
        return SentStream(http: http, pending: pending, decoder: OpenAIStreamDecoder(provider: kind, secret: http.secret), provider: kind, cancellation: cancellation)
    }

    /// The answer's wire shape, read by hand (``Wire/Completion/init(json:)``); `Decodable` too,
    /// as `JSONDecoder` reads it, which the tests hold the hand reader to.
    enum Wire {
        struct Completion: Decodable, Equatable {
            var model: String?
            var choices: [Choice]?
            var usage: OpenAIUsageWire?
        }
        struct Choice: Decodable, Equatable {
            var message: AnswerMessage?
            var finish_reason: String?
        }
        struct AnswerMessage: Decodable, Equatable {
            var content: String?
            var refusal: String?
            var tool_calls: [AnswerToolCall]?
        }
        struct AnswerToolCall: Decodable, Equatable {
            var id: String?
            var function: OpenAIStreamDecoder.Wire.Function?
        }
    }
}

extension OpenAIChatClient.Wire.Completion {
    init(json: JSONValue) throws {
        let members = try json.members("answer")
        model = try members.string("model", in: "answer")
        usage = try members.object("usage", in: "answer").map { try OpenAIUsageWire(members: $0, path: "answer.usage") }
        choices = try members.array("choices", in: "answer")?.enumerated().map { index, choice in
            let path = "answer.choices[\(index)]"
            let choice = try choice.members(path)
            return OpenAIChatClient.Wire.Choice(
                message: try choice.object("message", in: path).map { message in
                    OpenAIChatClient.Wire.AnswerMessage(
                        content: try message.string("content", in: "\(path).message"),
                        refusal: try message.string("refusal", in: "\(path).message"),
                        tool_calls: try message.array("tool_calls", in: "\(path).message")?.enumerated().map { index, call in
                            let callPath = "\(path).message.tool_calls[\(index)]"
                            let call = try call.members(callPath)
                            return OpenAIChatClient.Wire.AnswerToolCall(
                                id: try call.string("id", in: callPath),
                                function: try call.object("function", in: callPath).map {
                                    try OpenAIStreamDecoder.Wire.Function(members: $0, path: "\(callPath).function")
                                })
                        })
                },
                finish_reason: try choice.string("finish_reason", in: path))
        }
    }
}
