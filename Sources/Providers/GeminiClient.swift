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
        endpoint.resolvedBaseURL + "/v1beta/models/" + Self.pathSegment(model) + ":" + method
    }

    /// `model` as one path segment: every byte but RFC 3986's unreserved characters, `@` and its
    /// sub-delimiters other than `;` percent-encoded (what `addingPercentEncoding` gives with
    /// `.urlPathAllowed` less `/?#:`). By hand because Foundation's `CharacterSet` arithmetic and
    /// encoding took 1.8% of a task's CPU on config/fleet.yaml (its cheapest model is Gemini), for
    /// model ids that almost never need escaping.
    static func pathSegment(_ model: String) -> String {
        func allowed(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
            case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"): return true
            case UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
                 UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: "="), UInt8(ascii: "@"): return true
            default: return false
            }
        }
        if model.utf8.allSatisfy(allowed) { return model }
        let hex = Array("0123456789ABCDEF".utf8)
        var escaped: [UInt8] = []
        escaped.reserveCapacity(model.utf8.count * 3)
        for byte in model.utf8 {
            if allowed(byte) {
                escaped.append(byte)
            } else {
                escaped.append(contentsOf: [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]])
            }
        }
        return String(decoding: escaped, as: UTF8.self)
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
