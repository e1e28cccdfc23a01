import FakeProvider
import Foundation
import Testing

/// A reload applies what it says it applies: budgets, rate limits and body limits change without
/// a restart, and what needs a restart is named.
@Suite(.serialized) struct ReloadAppliesTests {
    let token = "reload-admin-token"

    func config(baseURL: String, dailyBudget: String, rateLimitMax: Int = 0, maxBodyBytes: Int = 1_048_576, port: Int = 0,
                drainTimeoutSeconds: Int = 30) -> String {
        """
        fleet: {id: reload-test, maxAgents: 2}
        agents: [{type: general, count: 2}]
        api: {host: 127.0.0.1, port: \(port), drainTimeoutSeconds: \(drainTimeoutSeconds), rateLimit: {windowMs: 60000, max: \(rateLimitMax)}, maxBodyBytes: \(maxBodyBytes)}
        features: {multiModelRouter: true, streaming: false}
        routing:
          enabled: true
          defaultModel: paid
          models:
            - name: paid
              provider: anthropic
              model: paid-model
              credentials: {endpoint: "\(baseURL)"}
              capabilities: {costPer1kTokens: {input: 1.0, output: 1.0}}
          costTracking: {enabled: true, policy: block, budgetLimits: {daily: \(dailyBudget)}}
        """
    }

    func write(_ text: String, to url: URL) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".tmp-\(UUID().uuidString)")
        try text.write(to: temporary, atomically: false, encoding: .utf8)
        #expect(rename(temporary.path, url.path) == 0)
    }

    @Test func aBudgetLoweredInTheFileRefusesTheNextTaskAndRaisedAgainServesIt() async throws {
        let fake = try await FakeProviderServer.start(script: .always(try .fixture("providers/anthropic-nonstream-docs-example.json")))
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try write(config(baseURL: fake.baseURL, dailyBudget: "1000"), to: file)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"),
                                             environment: ["ANTHROPIC_API_KEY": "sk-ant-reload"])
        let body = #"{"prompt": "Say hello"}"#
        #expect(try await http(.POST, fleetd.baseURL + "/v1/tasks", body: body).status == 200)

        // An operator lowers the budget below what one task costs: the next task is refused.
        try write(config(baseURL: fake.baseURL, dailyBudget: "0.000001"), to: file)
        let refused = try await eventually(timeout: .seconds(1)) {
            try await http(.POST, fleetd.baseURL + "/v1/tasks", body: body).status == 402
        }
        #expect(refused, "a lowered budget refuses the next task within a second")
        let answer = try await http(.POST, fleetd.baseURL + "/v1/tasks", body: body)
        #expect((answer.json["error"] as? [String: Any])?["code"] as? String == "ROUTER_002")

        // Raised again during the incident: served at once, no restart.
        try write(config(baseURL: fake.baseURL, dailyBudget: "1000"), to: file)
        let served = try await eventually(timeout: .seconds(1)) {
            try await http(.POST, fleetd.baseURL + "/v1/tasks", body: body).status == 200
        }
        #expect(served, "a raised budget serves the next task within a second")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func rateLimitAndBodyLimitApplyAndRestartOnlySettingsAreNamed() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try write(config(baseURL: "http://127.0.0.1:9", dailyBudget: "1000"), to: file)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"),
                                             environment: ["FLEETD_ADMIN_TOKEN": token])
        let big = #"{"prompt": ""# + String(repeating: "x", count: 3_000) + #""}"#
        #expect(try await http(.POST, fleetd.baseURL + "/v1/route", body: big).status == 200)

        // The port given by `--port` (as FleetdProcess starts fleetd) wins over the file's: not a
        // restart to do. The drain time is read once, at start-up.
        try write(config(baseURL: "http://127.0.0.1:9", dailyBudget: "1000", rateLimitMax: 2, maxBodyBytes: 1_024, port: 18_099,
                         drainTimeoutSeconds: 5), to: file)
        let reload = try await http(.POST, fleetd.baseURL + "/v1/admin/reload", headers: [("authorization", "Bearer \(token)")])
        #expect(reload.status == 200, "\(reload.body)")
        #expect(reload.json["needsRestart"] as? [String] == ["api.drainTimeoutSeconds"])
        #expect((reload.json["applied"] as? [String])?.contains("api.rateLimit") == true)

        // The new body limit refuses what was accepted before.
        #expect(try await http(.POST, fleetd.baseURL + "/v1/route", body: big).status == 413)
        // The new rate limit, two requests a window: the 413 above counted as one, and so did the
        // admin reload's own request when the file watcher had applied the edit a moment before it.
        // So one GET passes or none does; either way the last is refused with Retry-After.
        let statuses = try await [1, 2, 3].asyncMap { _ in try await http(.GET, fleetd.baseURL + "/v1/models") }
        #expect(statuses.map(\.status) == [200, 429, 429] || statuses.map(\.status) == [429, 429, 429],
                "two requests a window, the 413 (and perhaps the reload) counted: \(statuses.map(\.status))")
        #expect(statuses.last?.headers.first(name: "retry-after") != nil)
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
    }
}

extension Array {
    /// Maps in order, one element at a time.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
