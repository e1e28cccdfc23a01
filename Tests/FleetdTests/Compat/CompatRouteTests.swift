import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import fleetd

/// What the official SDKs meet besides the chat endpoints, in process: `GET /v1/models/{id}`
/// (their `models.retrieve`), the model lists with an alias named like a model, and routes
/// fleetd does not serve, answered 404 with a JSON body in the caller's dialect that names the
/// path and says what to use instead.
@Suite("Compatible endpoints: model retrieval, lists, unknown routes", .timeLimit(.minutes(1)))
struct CompatRouteTests {
    /// Two agent types, two built-in models, and an alias `quick` that shadows the model `quick`.
    static let yaml = """
        fleet: {id: compat-routes, maxAgents: 2}
        agents:
          - {type: general, count: 1}
          - {type: coder, count: 1}
        api: {host: 127.0.0.1, modelAliases: {quick: {agentType: coder, model: auto}, review-bot: {agentType: coder, model: deep}}}
        features: {multiModelRouter: true}
        routing:
          enabled: true
          defaultModel: quick
          models:
            - {name: quick, provider: builtin, model: fleetd-builtin}
            - {name: deep, provider: builtin, model: fleetd-builtin}
        """

    /// What OpenAI's SDKs send.
    static let openAI: HTTPFields = [.authorization: "Bearer sk-test"]
    /// What Anthropic's SDKs send.
    static let anthropic: HTTPFields = [HTTPField.Name("anthropic-version")!: "2023-06-01", HTTPField.Name("x-api-key")!: "sk-test"]

    @Test("GET /v1/models/{id} answers the object the list gives for the id, in each dialect; an unknown id is a 404 with a body")
    func retrieve() async throws {
        try await withFleetd(Self.yaml) { client, _ in
            let auto = try await client.send(.get, "/v1/models/auto", headers: Self.openAI)
            #expect(auto.status == .ok, "\(auto.text)")
            #expect(auto.object["id"] as? String == "auto" && auto.object["object"] as? String == "model", "\(auto.text)")
            #expect(auto.object["owned_by"] as? String == "fleetd" && auto.object["created"] as? Int != nil, "\(auto.text)")
            let list = try await client.send(.get, "/v1/models", headers: Self.openAI).object["data"] as? [[String: Any]] ?? []
            let listed = list.first(where: { $0["id"] as? String == "deep" })
            let deep = try await client.send(.get, "/v1/models/deep", headers: Self.openAI)
            #expect(deep.object["owned_by"] as? String == "builtin" && listed?["owned_by"] as? String == "builtin", "\(deep.text)")
            #expect(deep.object["created"] as? Int == listed?["created"] as? Int)
            // `fleet/coder` as OpenAI's SDK sends it (one segment, the slash encoded) and as written.
            for path in ["/v1/models/fleet%2Fcoder", "/v1/models/fleet/coder"] {
                let coder = try await client.send(.get, path, headers: Self.openAI)
                #expect(coder.status == .ok && coder.object["id"] as? String == "fleet/coder", "\(path): \(coder.text)")
            }
            let anthropic = try await client.send(.get, "/v1/models/review-bot", headers: Self.anthropic)
            #expect(anthropic.status == .ok && anthropic.object["type"] as? String == "model", "\(anthropic.text)")
            #expect(anthropic.object["id"] as? String == "review-bot" && anthropic.object["display_name"] as? String != nil, "\(anthropic.text)")
            // fleetd's own callers get fleetd's view of a model of routing.models.
            let own = try await client.send(.get, "/v1/models/deep")
            #expect(own.status == .ok && jsonValue(own.object, "status.name") as? String == "deep", "\(own.text)")

            // A provider model id, which a chat request may name too, is found under that id.
            let providerID = try await client.send(.get, "/v1/models/fleetd-builtin", headers: Self.openAI)
            #expect(providerID.status == .ok && providerID.object["id"] as? String == "fleetd-builtin"
                    && providerID.object["owned_by"] as? String == "builtin", "\(providerID.text)")

            let unknown = try await client.send(.get, "/v1/models/nope", headers: Self.openAI)
            #expect(unknown.status == .notFound && unknown.apiError["code"] as? String == "model_not_found", "\(unknown.text)")
            #expect((unknown.apiError["message"] as? String)?.contains("'nope'") == true, "\(unknown.text)")
            let unknownAnthropic = try await client.send(.get, "/v1/models/nope", headers: Self.anthropic)
            #expect(unknownAnthropic.status == .notFound && unknownAnthropic.object["type"] as? String == "error", "\(unknownAnthropic.text)")
            #expect(unknownAnthropic.apiError["type"] as? String == "not_found_error", "\(unknownAnthropic.text)")
            let unknownOwn = try await client.send(.get, "/v1/models/nope")
            #expect(unknownOwn.status == .notFound && unknownOwn.apiError["code"] as? String == "UNKNOWN_MODEL", "\(unknownOwn.text)")
        }
    }

    @Test("a provider model id's family: a date or Anthropic's alias suffix is dropped, nothing else", arguments: [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"), ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("claude-opus-4-0", "claude-opus-4"), ("gpt-4o-2024-08-06", "gpt-4o"), ("gpt-4o", "gpt-4o"),
        ("gpt-4-0613", "gpt-4-0613"), ("gemini-2.5-flash", "gemini-2.5-flash"), ("o1-2024-12-17", "o1"),
        ("20250929", "20250929"), ("model-2024-8-06", "model-2024-8-06"), ("llama3.2:latest", "llama3.2"), ("llama3.2:3b", "llama3.2:3b"),
    ])
    func family(id: String, family: String) {
        #expect(CompatModels.family(id) == family)
    }

    @Test("a chat request may name a configured model by another name of its snapshot, as the SDKs' users write it")
    func snapshotNames() async throws {
        let yaml = """
            fleet: {id: compat-snapshots, maxAgents: 1}
            agents: [{type: general, count: 1}]
            api: {host: 127.0.0.1}
            features: {multiModelRouter: true}
            routing:
              enabled: true
              defaultModel: sonnet
              models:
                - {name: sonnet, provider: builtin, model: claude-sonnet-4-5-20250929}
                - {name: haiku, provider: builtin, model: claude-3-5-haiku-20241022}
                - {name: omni, provider: builtin, model: gpt-4o}
            """
        try await withFleetd(yaml) { client, _ in
            for (asked, model) in [("claude-sonnet-4-5", "sonnet"), ("claude-sonnet-4-5-20250929", "sonnet"),
                                   ("claude-3-5-haiku-latest", "haiku"), ("gpt-4o-2024-08-06", "omni")] {
                let body = #"{"model":"\#(asked)","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#
                let answer = try await client.send(.post, "/v1/messages", json: body, headers: Self.anthropic)
                #expect(answer.status == .ok && answer.headers[HTTPField.Name("x-fleetd-model")!] == model, "\(asked): \(answer.text)")
                let retrieved = try await client.send(.get, "/v1/models/\(asked)", headers: Self.openAI)
                #expect(retrieved.status == .ok && retrieved.object["id"] as? String == asked, "\(asked): \(retrieved.text)")
            }
            // Another model of the family is not the same model.
            for asked in ["claude-sonnet-4", "claude-sonnet-4-5-1", "gpt-4o-mini", "claude-3-5-haiku-2024"] {
                let body = #"{"model":"\#(asked)","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#
                let answer = try await client.send(.post, "/v1/messages", json: body, headers: Self.anthropic)
                #expect(answer.status == .notFound, "\(asked): \(answer.text)")
            }
        }
    }

    @Test("an alias named like a model is listed once, as the alias (what the name means)")
    func anAliasShadowingAModelIsListedOnce() async throws {
        try await withFleetd(Self.yaml) { client, _ in
            let openAI = try await client.send(.get, "/v1/models", headers: Self.openAI).object["data"] as? [[String: Any]] ?? []
            let anthropic = try await client.send(.get, "/v1/models", headers: Self.anthropic).object["data"] as? [[String: Any]] ?? []
            for (dialect, entries) in [("openai", openAI), ("anthropic", anthropic)] {
                let ids = entries.compactMap { $0["id"] as? String }
                #expect(ids.filter { $0 == "quick" }.count == 1 && Set(ids).count == ids.count, "\(dialect): \(ids)")
                #expect(ids.contains("deep") && ids.contains("review-bot"), "\(dialect): \(ids)")
            }
            #expect(openAI.first(where: { $0["id"] as? String == "quick" })?["owned_by"] as? String == "fleetd", "\(openAI)")
        }
    }

    @Test("an unknown route is a 404 in OpenAI's shape naming the path and what fleetd serves instead", arguments: [
        ("GET", "/v1/responses/resp_123", "only to be continued"),
        ("GET", "/v1/responses", "use POST /v1/responses"),
        ("POST", "/v1/embeddings", "use /v1/chat/completions"),
        ("POST", "/v1/completions", "use /v1/chat/completions"),
        ("POST", "/chat/completions", "use /v1/chat/completions"),
        ("GET", "/v1/chat/completions", "use POST /v1/chat/completions"),
        ("GET", "/v2/anything", "POST /v1/chat/completions"),
    ])
    func unknownRoutesAnswerInOpenAIsShape(verb: String, path: String, advice: String) async throws {
        try await withFleetd(Self.yaml) { client, _ in
            let method: HTTPRequest.Method = verb == "GET" ? .get : .post
            let response = try await client.send(method, path, json: method == .post ? #"{"model": "auto", "input": "hi"}"# : nil,
                                                 headers: Self.openAI)
            #expect(response.status == .notFound, "\(response.text)")
            #expect(response.headers[.contentType] == "application/json")
            let error = response.apiError
            #expect(error["type"] as? String == "invalid_request_error" && error["code"] as? String == "not_found", "\(response.text)")
            #expect(error["param"] is NSNull, "\(response.text)")
            let message = error["message"] as? String ?? ""
            #expect(message.contains("\(path) is not served by fleetd") && message.contains(advice), "\(message)")
        }
    }

    @Test("an unknown route that looks Anthropic is a 404 in Anthropic's shape: a base URL ending in /v1 is named")
    func unknownRoutesThatLookAnthropic() async throws {
        try await withFleetd(Self.yaml) { client, _ in
            let body = #"{"model": "auto", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}"#
            let doubled = try await client.send(.post, "/v1/v1/messages", json: body, headers: Self.anthropic)
            #expect(doubled.status == .notFound, "\(doubled.text)")
            #expect(doubled.object["type"] as? String == "error" && doubled.apiError["type"] as? String == "not_found_error", "\(doubled.text)")
            let message = doubled.apiError["message"] as? String ?? ""
            #expect(message.hasPrefix("/v1/v1/messages is not served by fleetd: use /v1/messages") && message.contains("without /v1"), "\(message)")
            // The path alone says Anthropic.
            let batches = try await client.send(.post, "/v1/messages/batches", json: "{}")
            #expect(batches.status == .notFound && batches.apiError["type"] as? String == "not_found_error", "\(batches.text)")
            // As does the header, on any path.
            let other = try await client.send(.get, "/v1/files", headers: Self.anthropic)
            #expect(other.status == .notFound && other.object["type"] as? String == "error", "\(other.text)")
        }
    }
}
