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

    public func complete(_ request: ProviderRequest) async throws -> ProviderResponse {
        let body = OpenAIWireRequest(request, stream: false, maxCompletionTokens: usesMaxCompletionTokens, strictTools: kind == .openai)
        let answer = try await http.sendAndDecode(Wire.Completion.self, url: url, headers: headers, body: body)
        let message = answer.choices?.first?.message
        let calls = (message?.tool_calls ?? []).compactMap { call in
            call.function.map { ToolCall(id: call.id, name: $0.name ?? "", arguments: $0.arguments ?? "") }
        }
        return ProviderResponse(
            text: message?.content ?? "", toolCalls: calls, finishReason: answer.choices?.first?.finish_reason,
            usage: answer.usage?.normalised, model: answer.model
        )
    }

    public func stream(_ request: ProviderRequest) async throws -> ProviderEventStream {
        let body = OpenAIWireRequest(request, stream: true, maxCompletionTokens: usesMaxCompletionTokens, strictTools: kind == .openai)
        let response = try await http.send(url: url, headers: headers, body: body, streaming: true)
        return ProviderEventStream(
            body: response.body, decoder: OpenAIStreamDecoder(provider: kind, secret: http.secret),
            provider: kind, secret: http.secret
        )
    }

    enum Wire {
        struct Completion: Decodable {
            var model: String?
            var choices: [Choice]?
            var usage: OpenAIUsageWire?
        }
        struct Choice: Decodable {
            var message: AnswerMessage?
            var finish_reason: String?
        }
        struct AnswerMessage: Decodable {
            var content: String?
            var tool_calls: [AnswerToolCall]?
        }
        struct AnswerToolCall: Decodable {
            var id: String?
            var function: OpenAIStreamDecoder.Wire.Function?
        }
    }
}
