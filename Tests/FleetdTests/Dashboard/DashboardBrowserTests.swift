import FakeProvider
import Foundation
import Testing

/// The dashboard in a real browser: the `fleetd` binary in front of a fake OpenAI-format
/// upstream runs a few tasks (JSON and streamed, one failing), then Tests/Dashboard/
/// dashboard_checks.py opens every page in headless Chromium (Debian's `chromium` and
/// `chromium-driver`, Selenium from `.venv-dashboard`), checks the figures against the API, moves
/// a rollout slider without and with the admin token, and saves a screenshot of each page in
/// `.build/test-artifacts/dashboard/`.
@Suite(.serialized) struct DashboardBrowserTests {
    static let adminToken = "dashboard-test-admin-token"
    static let screenshots = SDKCompatibilityTests.repositoryRoot.appendingPathComponent(".build/test-artifacts/dashboard")

    /// `.venv-dashboard/bin/python`, made or found up to date by `scripts/dashboard-venv`.
    static func python() async throws -> String {
        let run = await SDKCompatibilityTests.runToEnd(URL(fileURLWithPath: "/usr/bin/nice"),
                                                       ["-n", "15", "bash", SDKCompatibilityTests.repositoryRoot.appendingPathComponent("scripts/dashboard-venv").path],
                                                       environment: nil)
        guard run.status == 0, let path = run.stdout.split(separator: "\n").last.map(String.init) else {
            throw SDKCompatibilityTests.SDKSetupError(log: run.stdout + run.stderr)
        }
        return path
    }

    /// Answers at once; a prompt with FAILME gets a 400 from every model, so the task fails; a
    /// prompt with HOLDME streams one chunk and waits for ``gate``, keeping its agent busy while
    /// the browser looks.
    static let gate = FakeGate()
    static let script = FakeScript { request, _ in
        let text = String(decoding: request.body, as: UTF8.self)
        if text.contains("FAILME") { return .status(400, body: #"{"error":{"message":"bad request (test)","type":"invalid_request_error"}}"#) }
        if text.contains("HOLDME") { return .openAIHeld(gate: gate) }
        // `flaky` (the one Anthropic-format model) is down: its breaker opens.
        if request.path == "/v1/messages" { return .status(500, body: #"{"type":"error","error":{"type":"api_error","message":"down (test)"}}"#) }
        return .openAIText(stream: (request.jsonBody?["stream"] as? Bool) == true, chunks: 12)
    }

    static func config(baseURL: String) -> String {
        """
        fleet: {id: dashboard, maxAgents: 4, taskTimeout: 180000}
        agents:
          - {type: general, count: 2}
          - {type: coder, count: 1, config: {taskType: code}}
        api: {host: 127.0.0.1}
        features:
          multiModelRouter: true
          streaming: {enabled: true, rollout: {percentage: 100, stickiness: tenantId}}
        featureOverrides:
          agentType:
            coder: {streaming: false}
        routing:
          enabled: true
          defaultModel: fast
          strategy: cost
          health: {failureThreshold: 1, providerFailureThreshold: 1, cooldownSeconds: 600}
          models:
            - name: fast
              provider: openai
              model: fast-id
              credentials: {endpoint: "\(baseURL)/v1"}
              capabilities: {supportsStreaming: true, costPer1kTokens: {input: 0.05, output: 0.15}}
              complexityRange: {min: 0.0, max: 0.45}
            - name: flaky
              provider: anthropic
              model: flaky-id
              credentials: {endpoint: "\(baseURL)"}
              capabilities: {supportsStreaming: true, costPer1kTokens: {input: 0.01, output: 0.02}}
              complexityRange: {min: 0.0, max: 1.0}
            - name: strong
              provider: openai
              model: strong-id
              credentials: {endpoint: "\(baseURL)/v1"}
              capabilities: {supportsStreaming: true, costPer1kTokens: {input: 0.3, output: 1.5}}
              complexityRange: {min: 0.45, max: 1.0}
            # Off for want of its key (the Models page names the variable), and off in the file.
            - name: keyless
              provider: openai
              model: keyless-id
              credentials: {endpoint: "\(baseURL)/v1", apiKeyEnv: DASHBOARD_TEST_KEY}
            - name: parked
              provider: openai
              model: parked-id
              enabled: false
              credentials: {endpoint: "\(baseURL)/v1"}
          # A daily budget the tasks pass 10% of (an alert is raised) that never blocks anything.
          costTracking: {enabled: true, budgetLimits: {daily: 0.05, weekly: 100, monthly: 400},
                         alertThresholds: {dailyPercent: 10}, policy: allow-with-alert}
        # The held task must outlast the browser checks on a loaded machine.
        streaming:
          enabled: true
          timeoutMs: 180000
          retryConfig: {maxRetries: 0, backoffMs: 10}
        """
    }

    @Test func everyPageInHeadlessChromium() async throws {
        let python = try await Self.python()
        let fake = try await FakeProviderServer.start(script: Self.script)
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try Self.config(baseURL: fake.baseURL).write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"),
                                             environment: ["FLEETD_ADMIN_TOKEN": Self.adminToken])
        let base = fleetd.baseURL

        // A few tasks: JSON and streamed, two tenants, both working models, one on a model that is
        // down (its breaker opens; the task falls back), one failure.
        let tasks = [
            #"{"prompt": "Say hello.", "tenantId": "acme"}"#,
            #"{"prompt": "Name three colours.", "tenantId": "globex", "stream": true}"#,
            #"{"prompt": "Prove that there are infinitely many primes, step by step, and explain why each step holds.", "type": "math", "tenantId": "acme"}"#,
            #"{"prompt": "Write a function that reverses a linked list in Swift.", "agentType": "coder", "tenantId": "globex"}"#,
            #"{"prompt": "Summarise: the cat sat on the mat.", "stream": true, "tenantId": "acme"}"#,
            #"{"prompt": "Say hi to the flaky model.", "preferredModel": "flaky", "tenantId": "globex"}"#,
            #"{"prompt": "FAILME please", "tenantId": "acme"}"#,
        ]
        var failed = 0
        for body in tasks {
            let streamed = body.contains(#""stream": true"#)
            let result = try await http(.POST, "\(base)/v1/tasks", body: body, headers: streamed ? [("accept", "text/event-stream")] : [])
            if result.status != 200 || result.body.contains("event: error") { failed += 1 }
        }
        #expect(failed == 1, "only the FAILME task fails; fleetd's log:\n\(fleetd.logText.suffix(2_000))")

        // One streamed task held open: its agent is busy, its stream open, while the pages are checked.
        let held = Task { try await http(.POST, "\(base)/v1/tasks", body: #"{"prompt": "HOLDME", "stream": true, "tenantId": "acme"}"#,
                                         headers: [("accept", "text/event-stream")]) }
        #expect(await eventually(timeout: .seconds(10)) {
            let agents = (try? await http(.GET, "\(base)/v1/agents").json["agents"] as? [[String: Any]]) ?? []
            return agents.contains { $0["currentTask"] is String }
        }, "the held task never reached an agent")

        try? FileManager.default.removeItem(at: Self.screenshots)
        let environment = FleetdProcess.baseEnvironment.merging([
            "FLEETD_URL": base, "FLEETD_ADMIN_TOKEN": Self.adminToken, "SCREENSHOT_DIR": Self.screenshots.path,
        ]) { $1 }
        let checks = SDKCompatibilityTests.repositoryRoot.appendingPathComponent("Tests/Dashboard/dashboard_checks.py")
        // Niced like the SDK checks (Chromium inherits it): the timing tests of other suites run
        // beside this one on the same cores.
        let run = await SDKCompatibilityTests.runToEnd(URL(fileURLWithPath: "/usr/bin/nice"), ["-n", "15", python, checks.path], environment: environment)
        #expect(run.status == 0, "dashboard checks failed:\n\(run.stdout)\n\(run.stderr)\nfleetd's log:\n\(fleetd.logText.suffix(3_000))")
        #expect(run.stdout.contains("ok dashboard"), "\(run.stdout)")

        Self.gate.open()
        let finished = try await held.value
        #expect(finished.status == 200 && finished.body.contains("event: complete"), "\(finished.body.suffix(500))")

        // What the browser changed is what fleetd now holds; the refused try changed nothing.
        let flags = try await http(.GET, "\(base)/v1/flags").json
        #expect(jsonValue(flags, "global.streaming.rollout.percentage") as? Int == 38, "\(flags)")
        let history = try await http(.GET, "\(base)/v1/flags/history").json["changes"] as? [[String: Any]] ?? []
        #expect(history.count == 3, "three accepted changes (slider, one key press, advancedCaching ticked on): \(history)")
        for page in ["overview", "spend", "models", "flags", "flags-refused", "flags-narrow", "routing", "agents", "overview-dark", "overview-dark-narrow"] {
            let shot = Self.screenshots.appendingPathComponent("\(page).png")
            let size = (try? FileManager.default.attributesOfItem(atPath: shot.path)[.size] as? Int) ?? 0
            #expect(size > 10_000, "no screenshot of \(page) at \(shot.path)")
        }
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }
}
