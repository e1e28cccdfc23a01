import FakeProvider
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// What a client of the compatible endpoints gets when it leaves things to fleetd: the answer's
/// token limit, models whose API key is not set, and models that all fail.
@Suite("Compatible endpoints: defaults", .timeLimit(.minutes(1)))
struct CompatDefaultsTests {
    /// `fast` at the fake upstream (its output limit 64,000 tokens), `claude` at Anthropic's own
    /// address with no key in the environment, the built-in responder as the last resort, and an
    /// agent type whose answers are capped at 300 tokens.
    static func config(baseURL: String) -> String {
        """
        fleet: {id: compat-defaults, maxAgents: 3, taskTimeout: 20000}
        agents:
          - {type: general, count: 1}
          - {type: terse, count: 1, config: {maxTokens: 300}}
        api: {host: 127.0.0.1, port: 0, modelAliases: {review-bot: {agentType: general, model: claude}}}
        features: {multiModelRouter: true, streaming: false}
        routing:
          enabled: true
          defaultModel: fast
          lastResort: local
          models:
            - name: fast
              provider: openai
              model: fast-model-id
              credentials: {endpoint: "\(baseURL)/v1"}
              capabilities: {maxOutputTokens: 64000, costPer1kTokens: {input: 0.001, output: 0.002}}
            - name: claude
              provider: anthropic
              model: claude-model-id
              capabilities: {costPer1kTokens: {input: 0.003, output: 0.015}}
            - {name: local, provider: builtin, model: fleetd-builtin}
          costTracking: {enabled: true, budgetLimits: {daily: 5}}
        streaming: {enabled: true, timeoutMs: 10000, retryConfig: {maxRetries: 0, backoffMs: 10}}
        """
    }

    static let chat = #"{"model": "auto", "messages": [{"role": "user", "content": "Write a long story about the sea."}]}"#

    @Test("a request without max_tokens asks the model for its own output limit up to 8,192 (not 1,024); the agent type's maxTokens and the client's value win")
    func outputLimit() async throws {
        try await withServer(.always(.openAIText(stream: false))) { fake in
            try await withFleetd(Self.config(baseURL: fake.baseURL)) { client, _ in
                let terse: HTTPFields = [HTTPField.Name("x-fleetd-agent-type")!: "terse"]
                let capped = Self.chat.replacingOccurrences(of: #""model": "auto","#, with: #""model": "auto", "max_tokens": 77,"#)
                let plain = try await client.send(.post, "/v1/chat/completions", json: Self.chat)
                let typed = try await client.send(.post, "/v1/chat/completions", json: Self.chat, headers: terse)
                let asked = try await client.send(.post, "/v1/chat/completions", json: capped, headers: terse)
                #expect([plain.status, typed.status, asked.status] == [.ok, .ok, .ok])
                let sent: [Int?] = fake.requests.map { request in
                    let body = request.jsonBody ?? [:]
                    return (body["max_completion_tokens"] ?? body["max_tokens"]) as? Int
                }
                let expected: [Int?] = [8_192, 300, 77]
                #expect(sent == expected, "\(sent)")
            }
        }
    }

    @Test("a model whose API key is not set: 403 naming the variable in both dialects, left out of the model lists, named so in the routing trace")
    func keylessModels() async throws {
        try await withServer(.always(.openAIText(stream: false))) { fake in
            try await withFleetd(Self.config(baseURL: fake.baseURL)) { client, _ in
                let named = Self.chat.replacingOccurrences(of: #""model": "auto""#, with: #""model": "claude""#)
                let openAI = try await client.send(.post, "/v1/chat/completions", json: named)
                #expect(openAI.status == .forbidden, "\(openAI.text)")
                #expect(openAI.apiError["code"] as? String == "model_key_missing", "\(openAI.text)")
                let message = openAI.apiError["message"] as? String ?? ""
                #expect(message.contains("ANTHROPIC_API_KEY not set") && !message.contains("disabled"), "\(message)")
                // By its provider's model id, in Anthropic's dialect, and through an alias: the same.
                let anthropic = try await client.send(.post, "/v1/messages",
                                                      json: #"{"model": "claude-model-id", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}"#)
                #expect(anthropic.status == .forbidden && jsonValue(anthropic.object, "error.type") as? String == "permission_error", "\(anthropic.text)")
                let aliased = try await client.send(.post, "/v1/chat/completions",
                                                    json: Self.chat.replacingOccurrences(of: #""model": "auto""#, with: #""model": "review-bot""#))
                #expect(aliased.status == .forbidden, "\(aliased.text)")
                #expect(fake.requests.isEmpty)

                // The lists hold what a client can call: `auto`, the agent types, the aliases, the models with their keys.
                let list = try await client.send(.get, "/v1/models?format=openai")
                let ids = (list.object["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                #expect(Set(ids) == ["auto", "fleet/general", "fleet/terse", "review-bot", "fast", "local"], "\(ids)")
                let anthropicList = try await client.send(.get, "/v1/models?format=anthropic")
                #expect(!anthropicList.text.contains(#""claude""#), "\(anthropicList.text)")
                // fleetd's own list keeps every model and says why this one is off.
                let own = try await client.send(.get, "/v1/models").object["models"] as? [[String: Any]] ?? []
                let claude = own.first { jsonValue($0, "status.name") as? String == "claude" }
                #expect(jsonValue(claude ?? [:], "status.enabled") as? Bool == false)
                #expect(jsonValue(claude ?? [:], "status.missingAPIKey") as? String == "ANTHROPIC_API_KEY", "\(own)")

                // Routing names the missing key, not the configuration.
                let route = try await client.send(.post, "/v1/route", json: #"{"prompt": "hi", "preferredModel": "claude"}"#)
                #expect(route.status == .ok, "\(route.text)")
                let candidates = jsonValue(route.object, "trace.candidates") as? [[String: Any]] ?? []
                let decisions = candidates.first { $0["modelName"] as? String == "claude" }?["decisions"] as? [[String: Any]] ?? []
                let enabled = decisions.first { $0["stage"] as? String == "enabled" }
                #expect(enabled?["detail"] as? String == "no API key (ANTHROPIC_API_KEY not set)", "\(route.text)")
            }
        }
    }

    @Test("every real model answering 429: a compatible client gets the 429 with its Retry-After, then 503/529 while the breaker is open; /v1/tasks gets the built-in responder saying why")
    func modelsThatAllFail() async throws {
        let limited = FakeResponse.status(429, body: #"{"error":{"type":"rate_limit_error","message":"slow down"}}"#,
                                          headers: [("retry-after", "30")])
        try await withServer(.always(limited)) { fake in
            try await withFleetd(Self.config(baseURL: fake.baseURL)) { client, _ in
                let chat = try await client.send(.post, "/v1/chat/completions", json: Self.chat)
                #expect(chat.status == .tooManyRequests, "\(chat.text)")
                #expect(chat.headers[.retryAfter] == "30")
                #expect(!chat.text.contains("built-in local responder"), "\(chat.text)")

                let message = try await client.send(.post, "/v1/messages",
                                                    json: #"{"model": "auto", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}"#)
                #expect(message.status.code == 529, "\(message.text)")
                #expect(jsonValue(message.object, "error.type") as? String == "overloaded_error", "\(message.text)")
                #expect((jsonValue(message.object, "error.message") as? String)?.contains("fast: model breaker open") == true, "\(message.text)")

                let task = try await client.send(.post, "/v1/tasks", json: #"{"prompt": "hi"}"#)
                #expect(task.status == .ok, "\(task.text)")
                #expect(task.object["localDefault"] as? Bool == true)
                let output = task.object["output"] as? String ?? ""
                #expect(output.contains("cannot be used right now (fast: model breaker open"), "\(output)")
                #expect(!output.contains("Configure a provider API key"), "\(output)")
                #expect(fake.requests.count == 1, "the open breaker keeps the model from further calls")
            }
        }
    }
}
