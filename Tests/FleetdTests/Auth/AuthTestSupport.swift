import Crypto
import FakeProvider
import Foundation

/// Shared set-up of the authentication tests: a fleet with a cheap and a strong model on one
/// fake upstream that bills what it is sent (input from the request's size, output up to
/// `max_tokens`, at most 50), and helpers to mint JWTs and make keys.
enum AuthFixture {
    static let complexPrompt = TaskPathTests.complexPrompt

    /// Bills like a provider: input tokens from the request's size (4 bytes a token), output
    /// up to the request's `max_tokens` (at most `output`).
    static func billingScript(output: Int = 50) -> FakeScript {
        FakeScript { request, _ in
            let input = max(1, request.body.count / 4)
            let tokens = min(request.jsonBody?["max_tokens"] as? Int ?? 64, output)
            let json = #"{"id":"m","type":"message","role":"assistant","model":"x","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":\#(input),"output_tokens":\#(tokens)}}"#
            return FakeResponse(headers: [("content-type", "application/json")], body: .bytes(Array(json.utf8)))
        }
    }

    /// The agent types ask for answers of at most 1,024 tokens: the key budgets of the tests are
    /// reckoned with reservations of that size (the default would be 8,192 tokens).
    static func config(baseURL: String, agents: Int = 4, daily: Double = 1000, extraAPI: String = "",
                       prices: (cheap: (Double, Double), strong: (Double, Double)) = ((0.001, 0.002), (0.01, 0.03))) -> String {
        """
        fleet: {id: auth-e2e, maxAgents: \(agents + 1), taskTimeout: 20000}
        agents:
          - {type: general, count: \(agents), config: {maxTokens: 1024}}
          - {type: coder, count: 1, config: {taskType: code, maxTokens: 1024}}
        api: {host: 127.0.0.1, maxQueuedTasks: 1000\(extraAPI)}
        features: {multiModelRouter: true, streaming: false}
        routing:
          enabled: true
          defaultModel: cheap
          strategy: cost
          models:
            - name: cheap
              provider: anthropic
              model: cheap-model-id
              credentials: {endpoint: "\(baseURL)"}
              capabilities: {costPer1kTokens: {input: \(prices.cheap.0), output: \(prices.cheap.1)}}
              complexityRange: {min: 0.0, max: 0.45}
            - name: strong
              provider: anthropic
              model: strong-model-id
              credentials: {endpoint: "\(baseURL)"}
              capabilities: {costPer1kTokens: {input: \(prices.strong.0), output: \(prices.strong.1)}}
              complexityRange: {min: 0.45, max: 1.0}
          costTracking: {enabled: true, policy: block, budgetLimits: {daily: \(daily)}}
        streaming: {enabled: true, timeoutMs: 15000, retryConfig: {maxRetries: 0}}
        """
    }

    /// Writes the config and starts fleetd on it (with a provider key, so the fake is called).
    static func start(_ yaml: String, environment: [String: String] = [:], arguments: [String] = []) async throws -> (FleetdProcess, URL, URL) {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        let data = directory.appendingPathComponent("data")
        let fleetd = try await FleetdProcess(config: file, dataDirectory: data,
                                             environment: ["ANTHROPIC_API_KEY": "sk-ant-auth-tests"].merging(environment) { $1 },
                                             extraArguments: arguments)
        return (fleetd, file, data)
    }

    /// An HS256 JWT over `claims`, signed with `secret`, made by hand (not with jwt-kit, which
    /// fleetd verifies with): any standard signer's token must work.
    static func jwt(_ claims: [String: Any], secret: String, algorithm: String = "HS256") throws -> String {
        let header = base64URL(try JSONSerialization.data(withJSONObject: ["alg": algorithm, "typ": "JWT"], options: [.sortedKeys]))
        let payload = base64URL(try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys]))
        let input = "\(header).\(payload)"
        guard algorithm == "HS256" else { return "\(input)." }
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return "\(input).\(base64URL(Data(mac)))"
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// What a key's text could leak as: the text, its secret part, and SHA-256 of the secret
    /// (hex and base64), none of which may appear in a log or a metric.
    static func forms(ofKey key: String) -> [String] {
        let secret = String(key.suffix(43))
        var standard = secret.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
        let bytes = Data(base64Encoded: standard) ?? Data()
        let digest = Data(SHA256.hash(data: bytes))
        return [key, secret, digest.map { String(format: "%02x", $0) }.joined(), digest.base64EncodedString()]
    }

    static func bearer(_ credential: String) -> [(String, String)] { [("Authorization", "Bearer \(credential)")] }

    /// `POST /v1/admin/keys` with the admin token; returns the key's text and id.
    static func makeKey(_ fleetd: FleetdProcess, admin: String, _ body: String) async throws -> (key: String, id: String) {
        let made = try await http(.POST, fleetd.baseURL + "/v1/admin/keys", body: body, headers: bearer(admin))
        guard made.status == 201, let key = made.json["key"] as? String,
              let id = (made.json["record"] as? [String: Any])?["id"] as? String else {
            throw KeyError(description: "key not made: \(made.status) \(made.body)")
        }
        return (key, id)
    }

    struct KeyError: Error, CustomStringConvertible { var description: String }

    /// The `error` object of a JSON error answer.
    static func error(_ result: HTTPResult) -> [String: Any] {
        result.json["error"] as? [String: Any] ?? [:]
    }
}
