import FleetSupport
import Foundation
import NIOHTTP1

/// Google Gemini: `POST {base}/v1beta/models/{model}:streamGenerateContent?alt=sse` and
/// `:generateContent`, key in the `x-goog-api-key` header (never in the URL).
public struct GeminiClient: ProviderClient {
    public var kind: ProviderKind { .google }
    let endpoint: ModelEndpoint
    let http: ProviderHTTP

    init(endpoint: ModelEndpoint, http: ProviderHTTP) {
        self.endpoint = endpoint
        self.http = http
    }

    private func url(_ model: String, method: String) -> String {
        let escaped = model.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#:"))) ?? model
        return endpoint.resolvedBaseURL + "/v1beta/models/\(escaped):\(method)"
    }

    private var headers: HTTPHeaders {
        var headers = HTTPHeaders()
        if let key = http.secret { headers.add(name: "x-goog-api-key", value: key) }
        return headers
    }

    public func complete(_ request: ProviderRequest, cancellation: CancellationSignal?) async throws -> ProviderResponse {
        let answer = try await http.sendAndRead(
            url: url(request.model, method: "generateContent"), headers: headers, body: GeminiWireRequest(request),
            cancellation: cancellation, GeminiWire.Response.init(json:)
        )
        var base = 0
        var text = ""
        var calls: [ToolCall] = []
        for event in answer.events(toolCallBase: &base) {
            switch event {
            case .textDelta(let t): text += t
            case .toolCallDelta(let d): calls.append(ToolCall(id: d.id, name: d.name ?? "", arguments: d.argumentsFragment, signature: d.signature))
            default: break
            }
        }
        return ProviderResponse(
            text: text, toolCalls: calls, finishReason: answer.candidates?.first?.finishReason ?? answer.blockedFinishReason,
            usage: answer.usageMetadata?.normalised, model: answer.modelVersion
        )
    }

    public func send(streaming request: ProviderRequest, cancellation: CancellationSignal?) throws -> SentStream {
        let pending = try http.startStreaming(url: url(request.model, method: "streamGenerateContent") + "?alt=sse", headers: headers,
                                              body: GeminiWireRequest(request), cancellation: cancellation)
        return SentStream(http: http, pending: pending, decoder: GeminiStreamDecoder(secret: http.secret), provider: .google, cancellation: cancellation)
    }
}
