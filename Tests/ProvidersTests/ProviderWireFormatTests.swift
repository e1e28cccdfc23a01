import FakeProvider
import FleetSupport
import Foundation
import Testing
@testable import Providers

/// What each client puts on the wire: path, key header, protocol headers, body fields.
@Suite("Provider request wire format")
struct ProviderWireFormatTests {
    private func recorded(_ provider: ProviderKind, fixture: String, streaming: Bool, model: String = "test-model") async throws -> RecordedRequest {
        try await withServer(.always(try FakeResponse.fixture("providers/\(fixture)"))) { server in
            let client = try makeFactory().makeClient(for: endpoint(provider, server, model: model))
            let request = ProviderRequest(model: model, system: "be brief", messages: [ProviderMessage(role: .user, content: "hi")], maxTokens: 77)
            if streaming { _ = try await collect(client.stream(request)) } else { _ = try await client.complete(request) }
            let requests = server.requests
            #expect(requests.count == 1)
            return try #require(requests.first)
        }
    }

    @Test func anthropic() async throws {
        let r = try await recorded(.anthropic, fixture: "anthropic-stream-sdkfixture-basic.sse", streaming: true)
        #expect(r.method == "POST")
        #expect(r.uri == "/v1/messages")
        #expect(r.header("x-api-key") == testKey)
        #expect(r.header("anthropic-version") == "2023-06-01")
        #expect(r.header("authorization") == nil)
        let body = try #require(r.jsonBody)
        #expect(body["stream"] as? Bool == true)
        #expect(body["max_tokens"] as? Int == 77)
        #expect(body["system"] as? String == "be brief")
        #expect(body["model"] as? String == "test-model")
    }

    @Test func openAIStreamingAsksForUsage() async throws {
        let r = try await recorded(.openai, fixture: "openai-chat-stream-sdksnapshot-text-usage.sse", streaming: true)
        #expect(r.uri == "/v1/chat/completions")
        #expect(r.header("authorization") == "Bearer \(testKey)")
        let body = try #require(r.jsonBody)
        #expect((body["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true)
        let messages = try #require(body["messages"] as? [[String: Any]])
        #expect(messages.first?["role"] as? String == "system")
        #expect(body["max_tokens"] as? Int == 77)
    }

    @Test func xaiUsesOpenAIWireWithItsKey() async throws {
        let r = try await recorded(.xai, fixture: "openai-chat-stream-sdksnapshot-text-usage.sse", streaming: true)
        #expect(r.uri == "/v1/chat/completions")
        #expect(r.header("authorization") == "Bearer \(testKey)")
    }

    @Test func geminiStreamPathAndKeyHeader() async throws {
        let r = try await recorded(.google, fixture: "gemini-stream-firebase-basic-short.sse", streaming: true, model: "gemini-2.0-flash")
        #expect(r.uri == "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse")
        #expect(r.header("x-goog-api-key") == testKey)
        #expect(!r.uri.contains(testKey))
        let body = try #require(r.jsonBody)
        #expect(((body["generationConfig"] as? [String: Any])?["maxOutputTokens"] as? Int) == 77)
        #expect(body["systemInstruction"] != nil)
    }

    @Test func geminiUnaryPath() async throws {
        let r = try await recorded(.google, fixture: "gemini-nonstream-firebase-basic-short.json", streaming: false, model: "gemini-2.0-flash")
        #expect(r.uri == "/v1beta/models/gemini-2.0-flash:generateContent")
    }

    @Test func geminiModelIsOnePathSegment() async throws {
        let r = try await recorded(.google, fixture: "gemini-nonstream-firebase-basic-short.json", streaming: false, model: "tuned/my model:v1?#é")
        #expect(r.uri == "/v1beta/models/tuned%2Fmy%20model%3Av1%3F%23%C3%A9:generateContent")
        // The same bytes Foundation's encoding gives, on every ASCII byte and a few beyond.
        let allowed = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#:"))
        let every = String(decoding: (1...127).map { UInt8($0) }, as: UTF8.self) + "é€😀 tab\t"
        for model in [every, "gemini-2.0-flash", "models@1!$&'()*+,;=~", ""] {
            #expect(GeminiClient.pathSegment(model) == model.addingPercentEncoding(withAllowedCharacters: allowed))
        }
    }

    @Test func ollamaNative() async throws {
        let r = try await recorded(.ollama, fixture: "ollama-chat-stream-docs.ndjson", streaming: true)
        #expect(r.uri == "/api/chat")
        #expect(r.header("authorization") == nil)
        let body = try #require(r.jsonBody)
        #expect(body["stream"] as? Bool == true)
        #expect(((body["options"] as? [String: Any])?["num_predict"] as? Int) == 77)
    }

    @Test func defaultBaseURLs() {
        #expect(ModelEndpoint(provider: .anthropic, model: "m").resolvedBaseURL == "https://api.anthropic.com")
        #expect(ModelEndpoint(provider: .openai, model: "m", baseURL: "http://gw.local/v1/").resolvedBaseURL == "http://gw.local/v1")
        #expect(ModelEndpoint(provider: .openai, model: "m", baseURL: "http://127.0.0.1:11434/v1").requiresAPIKey == false)
        #expect(ModelEndpoint(provider: .openai, model: "m").requiresAPIKey)
        #expect(ModelEndpoint(provider: .ollama, model: "m").requiresAPIKey == false)
    }
}
