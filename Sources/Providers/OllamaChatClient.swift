import FleetSupport
import Foundation
import NIOHTTP1

/// Ollama's native chat API: `POST {base}/api/chat`, NDJSON when streaming. Takes no key
/// unless the model names a variable (e.g. for Ollama Cloud), then sent as `Authorization: Bearer`.
public struct OllamaChatClient: ProviderClient {
    public var kind: ProviderKind { .ollama }
    let endpoint: ModelEndpoint
    let http: ProviderHTTP

    init(endpoint: ModelEndpoint, http: ProviderHTTP) {
        self.endpoint = endpoint
        self.http = http
    }

    private var url: String { endpoint.resolvedBaseURL + "/api/chat" }

    private var headers: HTTPHeaders {
        var headers = HTTPHeaders()
        if let key = http.secret { headers.add(name: "authorization", value: "Bearer \(key)") }
        return headers
    }

    public func complete(_ request: ProviderRequest, cancellation: CancellationSignal?) async throws -> ProviderResponse {
        let answer = try await http.sendAndRead(url: url, headers: headers, body: OllamaWireRequest(request, stream: false),
                                                cancellation: cancellation, OllamaWire.ChatResponse.init(json:))
        if let error = answer.error {
            throw ProviderError(kind: .server, provider: .ollama, message: ProviderErrorClassifier.redact(error, secret: http.secret))
        }
        var base = 0
        var text = ""
        var calls: [ToolCall] = []
        for event in answer.events(toolCallBase: &base) {
            switch event {
            case .textDelta(let t): text += t
            case .toolCallDelta(let d): calls.append(ToolCall(id: d.id, name: d.name ?? "", arguments: d.argumentsFragment))
            default: break
            }
        }
        return ProviderResponse(text: text, toolCalls: calls, finishReason: answer.done_reason, usage: answer.usage, model: answer.model)
    }

    public func send(streaming request: ProviderRequest, cancellation: CancellationSignal?) throws -> SentStream {
        let pending = try http.startStreaming(url: url, headers: headers, body: OllamaWireRequest(request, stream: true), cancellation: cancellation)
        return SentStream(http: http, pending: pending, decoder: OllamaStreamDecoder(), provider: .ollama, cancellation: cancellation)
    }
}
