import FakeProvider
import Foundation
import Testing

/// The compatible endpoints end to end against the real binary, on fleetd's built-in responder
/// (no provider needed): keys, agent types, what a fleet cannot serve, limits in the dialect's
/// shape, and that each request is a fleet task (remembered, counted, run by its agent type).
@Suite(.serialized) struct CompatEndpointTests {
    static let config = """
    fleet: {id: compat, maxAgents: 4, taskTimeout: 20000}
    agents:
      - {type: general, count: 1}
      - {type: coder, count: 1, config: {systemPrompt: "You write code."}}
    api: {host: 127.0.0.1, maxBodyBytes: 4096, modelAliases: {review-bot: {agentType: coder, model: local}}}
    features: {multiModelRouter: true, streaming: true}
    routing:
      enabled: true
      defaultModel: local
      models:
        - name: local
          provider: builtin
          model: fleetd-builtin
          capabilities: {costPer1kTokens: {input: 0, output: 0}}
        - name: retired
          provider: builtin
          model: retired-builtin
          enabled: false
    streaming: {enabled: true}
    """

    func withFleetd(_ body: (FleetdProcess) async throws -> Void) async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try Self.config.write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"),
                                             environment: ["API_KEY": "fleet-secret"])
        try await body(fleetd)
        fleetd.signal(SIGTERM)
        _ = await fleetd.waitForExit()
    }

    static let chat = #"{"model": "auto", "messages": [{"role": "user", "content": "hello"}]}"#
    static let message = #"{"model": "auto", "max_tokens": 50, "messages": [{"role": "user", "content": "hello"}]}"#

    @Test func keysAreCheckedInEachDialect() async throws {
        try await withFleetd { fleetd in
            let none = try await http(.POST, fleetd.baseURL + "/v1/chat/completions", body: Self.chat)
            #expect(none.status == 401 && (none.json["error"] as? [String: Any])?["code"] as? String == "invalid_api_key")
            let wrong = try await http(.POST, fleetd.baseURL + "/v1/chat/completions", body: Self.chat, headers: [("Authorization", "Bearer nope")])
            #expect(wrong.status == 401)
            let right = try await http(.POST, fleetd.baseURL + "/v1/chat/completions", body: Self.chat, headers: [("Authorization", "Bearer fleet-secret")])
            #expect(right.status == 200, "\(right.body)")
            let anthropic = try await http(.POST, fleetd.baseURL + "/v1/messages", body: Self.message)
            #expect(anthropic.status == 401 && (anthropic.json["error"] as? [String: Any])?["type"] as? String == "authentication_error")
            let keyed = try await http(.POST, fleetd.baseURL + "/v1/messages", body: Self.message, headers: [("x-api-key", "fleet-secret")])
            #expect(keyed.status == 200 && keyed.json["type"] as? String == "message", "\(keyed.body)")
        }
    }

    @Test func eachRequestIsAFleetTaskOfItsAgentType() async throws {
        try await withFleetd { fleetd in
            let auth = [("Authorization", "Bearer fleet-secret")]
            let coded = try await http(.POST, fleetd.baseURL + "/v1/chat/completions", body: Self.chat,
                                       headers: auth + [("x-fleetd-agent-type", "coder"), ("x-fleetd-tenant", "acme")])
            #expect(coded.status == 200)
            let taskId = try #require(coded.headers["x-fleetd-task-id"].first)
            let record = try await http(.GET, fleetd.baseURL + "/v1/tasks/\(taskId)", headers: auth)
            #expect(record.json["status"] as? String == "completed", "\(record.body)")
            // The record's result (held by reference inside) reads as the task's result.
            let result = record.json["result"] as? [String: Any]
            #expect(result?["taskId"] as? String == taskId && (result?["output"] as? String)?.isEmpty == false, "\(record.body)")
            // The alias names the coder type and a model; the coder's agent ran both.
            let aliased = try await http(.POST, fleetd.baseURL + "/v1/messages", body: Self.message.replacingOccurrences(of: "\"auto\"", with: "\"review-bot\""),
                                         headers: [("x-api-key", "fleet-secret")])
            #expect(aliased.status == 200 && aliased.headers["x-fleetd-model"].first == "local", "\(aliased.body)")
            let agents = try await http(.GET, fleetd.baseURL + "/v1/agents", headers: auth)
            let coder = (agents.json["agents"] as? [[String: Any]])?.first { $0["type"] as? String == "coder" }
            #expect(coder?["completed"] as? Int == 2, "\(agents.body)")
            let metrics = try await http(.GET, fleetd.baseURL + "/metrics", headers: auth)
            #expect(metrics.body.contains(#"fleetd_tasks_total{outcome="completed"} 2"#), "\(metrics.body)")
            let unknown = try await http(.POST, fleetd.baseURL + "/v1/chat/completions", body: Self.chat, headers: auth + [("x-fleetd-agent-type", "pilot")])
            #expect(unknown.status == 400 && (unknown.json["error"] as? [String: Any])?["param"] as? String == "x-fleetd-agent-type", "\(unknown.body)")
        }
    }

    @Test func whatNoModelCanServeIsA400NamingWhy() async throws {
        try await withFleetd { fleetd in
            let auth = [("Authorization", "Bearer fleet-secret")]
            // The built-in responder answers in plain text: a JSON format routes away from it, and nothing is left.
            let json = try await http(.POST, fleetd.baseURL + "/v1/chat/completions",
                                      body: #"{"model": "auto", "response_format": {"type": "json_object"}, "messages": [{"role": "user", "content": "hi"}]}"#,
                                      headers: auth)
            let error = json.json["error"] as? [String: Any]
            #expect(json.status == 400 && error?["code"] as? String == "REQUEST_UNSUPPORTED", "\(json.body)")
            #expect((error?["message"] as? String)?.contains("builtin cannot carry a JSON response_format") == true, "\(json.body)")
            let disabled = try await http(.POST, fleetd.baseURL + "/v1/messages",
                                          body: Self.message.replacingOccurrences(of: "\"auto\"", with: "\"retired\""),
                                          headers: [("x-api-key", "fleet-secret")])
            #expect(disabled.status == 403 && (disabled.json["error"] as? [String: Any])?["type"] as? String == "permission_error")
        }
    }

    @Test func limitsAnswerInTheDialectsShape() async throws {
        try await withFleetd { fleetd in
            let big = #"{"model": "auto", "max_tokens": 5, "messages": [{"role": "user", "content": ""# + String(repeating: "x", count: 5_000) + #""}]}"#
            let tooLarge = try await http(.POST, fleetd.baseURL + "/v1/messages", body: big, headers: [("x-api-key", "fleet-secret")])
            #expect(tooLarge.status == 413 && (tooLarge.json["error"] as? [String: Any])?["type"] as? String == "request_too_large", "\(tooLarge.body)")
            let notJSON = try await http(.POST, fleetd.baseURL + "/v1/chat/completions", body: "{nope", headers: [("Authorization", "Bearer fleet-secret")])
            #expect(notJSON.status == 400 && (notJSON.json["error"] as? [String: Any])?["type"] as? String == "invalid_request_error")
            let count = try await http(.POST, fleetd.baseURL + "/v1/messages/count_tokens",
                                       body: #"{"model": "auto", "messages": [{"role": "user", "content": "Hello there, how are you today?"}]}"#,
                                       headers: [("x-api-key", "fleet-secret")])
            #expect(count.status == 200 && (count.json["input_tokens"] as? Int ?? 0) > 0, "\(count.body)")
        }
    }

    /// A photo as clients send it (base64 in the body, here 3 MB) fits the default
    /// `api.maxBodyBytes` and reaches the provider whole.
    @Test func aPhotoSizedImageFitsTheDefaultBodyLimit() async throws {
        let fake = try await FakeProviderServer.start(script: .always(try .fixture("providers/anthropic-nonstream-docs-example.json")))
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try """
        fleet: {id: photo}
        agents: [{type: general, count: 1}]
        api: {host: 127.0.0.1}
        features: {multiModelRouter: true}
        routing:
          enabled: true
          defaultModel: eyes
          models:
            - {name: eyes, provider: anthropic, model: eyes-id, credentials: {endpoint: "\(fake.baseURL)"},
               capabilities: {inputModalities: [text, image], costPer1kTokens: {input: 0.001, output: 0.002}}}
        """.write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"),
                                             environment: ["ANTHROPIC_API_KEY": "sk-ant-photo"])
        let photo = Data((0..<2_250_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }).base64EncodedString() // 3 MB of base64
        let body = #"{"model": "auto", "messages": [{"role": "user", "content": [{"type": "text", "text": "What is in this photo?"}, "# +
            #"{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,\#(photo)"}}]}]}"#
        let answer = try await http(.POST, fleetd.baseURL + "/v1/chat/completions", body: body)
        #expect(answer.status == 200, "\(answer.status): \(answer.body.prefix(300))")
        let sent = try #require(fake.requests.last)
        #expect(sent.body.count > 3_000_000 && String(decoding: sent.body, as: UTF8.self).contains(String(photo.suffix(64))))
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }
}
