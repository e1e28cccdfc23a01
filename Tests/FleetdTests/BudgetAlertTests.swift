import FakeProvider
import Foundation
import Testing

/// COST_002 reaches people: a metric, and a webhook that is retried until it takes the alert.
@Suite struct BudgetAlertTests {
    @Test func anAlertIsCountedAndPostedToTheWebhookWithRetries() async throws {
        let provider = try await FakeProviderServer.start(script: .always(try .fixture("providers/anthropic-nonstream-docs-example.json")))
        // The webhook fails once, then takes the alert. Its first answer is held until the task
        // has been answered: a task that waited for the webhook would never be.
        let gate = FakeGate()
        let held = FakeResponse(status: 503, reason: "Unavailable", headers: [("content-type", "application/json")],
                                body: .held(Array("{".utf8), gate: gate, then: Array("}".utf8)))
        let webhook = try await FakeProviderServer.start(script: .sequence([held, .status(200, body: "{}")]))
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try """
        fleet: {id: alerts, maxAgents: 2}
        agents: [{type: general, count: 2}]
        api: {host: 127.0.0.1}
        features: {multiModelRouter: true, streaming: false}
        routing:
          enabled: true
          defaultModel: paid
          models:
            - name: paid
              provider: anthropic
              model: paid-model
              credentials: {endpoint: "\(provider.baseURL)"}
              capabilities: {costPer1kTokens: {input: 0.01, output: 0.01}}
          costTracking:
            enabled: true
            policy: allow-with-alert
            budgetLimits: {daily: 0.0001}
            alertThresholds: {dailyPercent: 50}
            alertWebhook: "\(webhook.baseURL)/hooks/budget"
        """.write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"),
                                             environment: ["ANTHROPIC_API_KEY": "sk-ant-alerts"])
        let result = try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "Say hello"}"#)
        #expect(result.status == 200, "\(result.body)")
        #expect(!gate.isOpen, "the task was answered while the webhook's answer was still held")
        gate.open()

        #expect(await eventually(timeout: .seconds(10)) { webhook.requests.count >= 2 }, "retried after the 503")
        let delivered = try #require(webhook.requests.last)
        #expect(delivered.path == "/hooks/budget")
        #expect(delivered.jsonBody?["code"] as? String == "COST_002")
        #expect(delivered.jsonBody?["period"] as? String == "day")
        #expect(delivered.jsonBody?["fleet"] as? String == "alerts")
        let metrics = try await http(.GET, fleetd.baseURL + "/metrics").body
        #expect(metrics.contains(#"budget_alerts_total{period="day",threshold="50"} 1"#), "\(metrics.split(separator: "\n").filter { $0.contains("budget") })")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await provider.shutdown()
        await webhook.shutdown()
    }
}
