import AsyncHTTPClient
import Fleet
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Providers
import NIOCore
@testable import fleetd

/// Builds fleetd's application in process from YAML text, with a fresh data directory, and runs
/// `body` against it with HummingbirdTesting: `.router` sends requests straight to the router,
/// `.live` serves them on a free port.
///
/// `environment` stands for the process environment (provider keys, `FLEETD_ADMIN_TOKEN`,
/// `FLEETD_ENVIRONMENT`): empty by default, so a developer's own keys never change a test.
/// `body` gets the client and the data directory.
func withFleetd<Value>(
    _ yaml: String, setup: TestingSetup = .router, environment: [String: String] = [:],
    _ body: @Sendable (any TestClientProtocol, URL) async throws -> Value
) async throws -> Value {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let loaded = try ConfigLoader.load(text: yaml, file: "api-test.yaml", environment: environment)
    let settings = ServiceSettings(configPath: "api-test.yaml", dataDirectory: directory, environmentOption: nil,
                                   processEnvironment: environment)
    var logger = Logger(label: "fleetd-api-test")
    logger.logLevel = .warning
    return try await withBuiltApplication(loaded: loaded, settings: settings, logger: logger) { app in
        try await app.test(setup) { client in try await body(client, directory) }
    }
}

/// fleetd's application built in process (``buildCore`` then ``buildApplication(core:settings:metrics:logger:)``),
/// handed to `body`; its SQLite file is closed after, whatever `body` did. The test bundle builds
/// hundreds: left open, each kept its connections' descriptors for the rest of the run.
func withBuiltApplication<Value>(
    loaded: LoadedConfig, settings: ServiceSettings, logger: Logger,
    _ body: (any ApplicationProtocol) async throws -> Value
) async throws -> Value {
    let metrics = FleetMetrics()
    let core = try await buildCore(loaded: loaded, settings: settings, metrics: metrics,
                                   httpClients: ProviderHTTPClients(primary: HTTPClient.shared), logger: logger)
    let result: Result<Value, any Error>
    do {
        let app = try buildApplication(core: core, settings: settings, metrics: metrics, logger: logger)
        result = .success(try await body(app))
    } catch {
        result = .failure(error)
    }
    try? core.dataPlane.close()
    return try result.get()
}

/// Configurations the API tests run with. None needs an API key.
enum APIConfig {
    /// Two agent types and two built-in models split by complexity (`quick` up to 0.45, `deep` above),
    /// the router on, streaming rolled out to every tenant (and so off for tasks without one), off for
    /// the `coder` type, the router off in environment `legacy`, a $5 daily budget.
    static func builtin(maxBodyBytes: Int = 1_048_576) -> String {
        """
        fleet: {id: api-test, maxAgents: 4, taskTimeout: 20000}
        agents:
          - {type: general, count: 2}
          - {type: coder, count: 1, config: {taskType: code}}
        api: {host: 127.0.0.1, port: 0, maxBodyBytes: \(maxBodyBytes)}
        features:
          multiModelRouter: true
          streaming: {enabled: true, rollout: {percentage: 100, stickiness: tenantId}}
        featureOverrides:
          agentType:
            coder: {streaming: false}
          environment:
            legacy: {multiModelRouter: false}
        routing:
          enabled: true
          defaultModel: quick
          strategy: cost
          models:
            - {name: quick, provider: builtin, model: fleetd-builtin, complexityRange: {min: 0.0, max: 0.45}}
            - {name: deep, provider: builtin, model: fleetd-builtin, complexityRange: {min: 0.45, max: 1.0}}
          costTracking: {enabled: true, budgetLimits: {daily: 5}}
        streaming: {enabled: true}
        """
    }

    /// A config that names no model at all: fleetd adds its built-in responder as the only model.
    static let noModels = """
        fleet: {id: api-bare}
        agents:
          - {type: general, count: 1}
        """

    /// One model, `fast`, served by a fake upstream at `baseURL` (`provider` `openai` or `anthropic`),
    /// with no API key (a loopback endpoint needs none). `streaming` is the flag's global value.
    static func fake(provider: String, baseURL: String, streaming: Bool) -> String {
        let endpoint = provider == "openai" ? baseURL + "/v1" : baseURL
        return """
        fleet: {id: api-fake, maxAgents: 2, taskTimeout: 20000}
        agents:
          - {type: general, count: 1}
        features: {multiModelRouter: false, streaming: \(streaming)}
        routing:
          enabled: true
          defaultModel: fast
          models:
            - name: fast
              provider: \(provider)
              model: fast-model-id
              credentials: {endpoint: "\(endpoint)"}
              capabilities: {costPer1kTokens: {input: 0.001, output: 0.002}}
          costTracking: {enabled: true, budgetLimits: {daily: 5}}
        streaming: {enabled: true, timeoutMs: 10000, retryConfig: {maxRetries: 0, backoffMs: 10}}
        """
    }
}

extension TestClientProtocol {
    /// Sends `json` (when given) as an `application/json` body.
    func send(_ method: HTTPRequest.Method, _ uri: String, json: String? = nil, headers: HTTPFields = [:]) async throws -> TestResponse {
        var headers = headers
        if json != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }
}

extension TestResponse {
    /// The body as text.
    var text: String { String(buffer: body) }

    /// The body as a JSON object (empty when it is not one).
    var object: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    /// The `error` object of a JSON error body.
    var apiError: [String: Any] { object["error"] as? [String: Any] ?? [:] }

    /// The server-sent events of the body, in order, as (event name, JSON data) pairs.
    var events: [(name: String, data: [String: Any])] {
        text.components(separatedBy: "\n\n").compactMap { block in
            var name = "message"
            var data = ""
            for line in block.split(separator: "\n") {
                if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data += line.dropFirst(6) }
            }
            guard !data.isEmpty else { return nil }
            return (name, (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:])
        }
    }
}

/// The value at a dotted path (`"selection.modelName"`) in a JSON object.
func jsonValue(_ object: [String: Any], _ path: String) -> Any? {
    var current: Any? = object
    for key in path.split(separator: ".") {
        current = (current as? [String: Any])?[String(key)]
    }
    return current
}

/// `X-Request-Id`.
let requestIDHeader = HTTPField.Name("X-Request-Id")!
