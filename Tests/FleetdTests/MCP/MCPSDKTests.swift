import FakeProvider
import Foundation
import Testing

/// fleetd's MCP server driven by the official `mcp` Python SDK (Tests/SDK/mcp_checks.py), over
/// stdio (`fleetd mcp` as the SDK's subprocess) and over Streamable HTTP (`/mcp` on the serve
/// port), with one model served by the fake provider.
@Suite(.serialized) struct MCPSDKTests {
    static let repositoryRoot = SDKCompatibilityTests.repositoryRoot
    static let checks = repositoryRoot.appendingPathComponent("Tests/SDK/mcp_checks.py")

    /// A prompt with HOLDME gets one chunk and then waits for `gate`; any other, ten chunks.
    static func script(gate: FakeGate) -> FakeScript {
        FakeScript { request, _ in
            String(decoding: request.body, as: UTF8.self).contains("HOLDME") ? .openAIHeld(gate: gate) : .openAIText(stream: true)
        }
    }

    static func config(baseURL: String) -> String {
        """
        fleet: {id: mcp, maxAgents: 2, taskTimeout: 30000}
        agents:
          - {type: general, count: 1}
          - {type: coder, count: 1, config: {taskType: code, systemPrompt: "You write small, tested functions."}}
        api: {host: 127.0.0.1}
        features: {multiModelRouter: true, streaming: true, predictiveRouting: {enabled: true, rollout: {percentage: 10, stickiness: tenantId, groupId: learn}}}
        routing:
          enabled: true
          defaultModel: fast
          models:
            - name: fast
              provider: openai
              model: fast-model-id
              credentials: {endpoint: "\(baseURL)/v1"}
              capabilities: {costPer1kTokens: {input: 0.001, output: 0.002}}
          costTracking: {enabled: true, budgetLimits: {daily: 100}}
        streaming: {enabled: true, timeoutMs: 60000, retryConfig: {maxRetries: 0, backoffMs: 10}}
        """
    }

    /// fleetd on this suite's config over a fake whose HOLDME answers wait for the gate returned
    /// (open it before shutting the fake down).
    static func startHeldFleet() async throws -> (gate: FakeGate, fake: FakeProviderServer, fleetd: FleetdProcess) {
        let gate = FakeGate()
        let fake = try await FakeProviderServer.start(script: script(gate: gate))
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try config(baseURL: fake.baseURL).write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"))
        return (gate, fake, fleetd)
    }

    func runChecks(_ arguments: [String], log: () -> String) async throws {
        let python = try await SDKCompatibilityTests.python()
        let environment = FleetdProcess.baseEnvironment.merging(["FLEETD_ADMIN_TOKEN": "mcp-admin"]) { $1 }
        let run = await SDKCompatibilityTests.runToEnd(URL(fileURLWithPath: "/usr/bin/nice"), ["-n", "15", python, Self.checks.path] + arguments,
                                                       environment: environment)
        #expect(run.status == 0, "MCP checks \(arguments.first ?? "") failed:\n\(run.stderr.suffix(6_000))\nfleetd's log:\n\(log().suffix(3_000))")
        #expect(run.stdout.contains("ok \(arguments.first ?? "")"), "\(run.stdout)")
    }

    /// A fake provider whose HOLDME answers wait for `gate`, and a config file for it in a fresh
    /// directory; the gate opens (so the fake can shut down) and the directory goes afterwards.
    func withFake(_ body: (FakeProviderServer, FakeGate, URL) async throws -> Void) async throws {
        let gate = FakeGate()
        let fake = try await FakeProviderServer.start(script: Self.script(gate: gate))
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("fleet.yaml")
        try Self.config(baseURL: fake.baseURL).write(to: file, atomically: true, encoding: .utf8)
        do {
            try await body(fake, gate, file)
        } catch {
            gate.open()
            await fake.shutdown()
            throw error
        }
        gate.open() // the held answer's writer waits for it; shutting down waits for the writer
        await fake.shutdown()
    }

    @Test("over stdio: tools and schemas, run_task with progress, an agent type's tool, route, costs, argument errors, flags, resources, cancellation")
    func stdio() async throws {
        try await withFake { fake, _, file in
            let data = file.deletingLastPathComponent().appendingPathComponent("data")
            try await runChecks(["stdio", FleetdProcess.binary.path, file.path, data.path], log: { "(stdio: fleetd's log went to the SDK's stderr)" })
            // The cancelled task's held provider call was closed, not left hanging.
            #expect(fake.openConnections == 0, "open upstream connections after the session: \(fake.openConnections)")
            // Both answered tasks and the cancelled call the provider accepted are in the ledger.
            let costs = try await FleetdProcess.run(["costs", "--config", file.path, "--data-dir", data.path, "--format", "json"])
            #expect(costs.status == 0, "\(costs.stderr)")
            #expect(costs.stdout.contains("\"fast\""), "\(costs.stdout)")
        }
    }

    @Test("over Streamable HTTP at /mcp: the same checks; the cancelled task is recorded as cancelled; /mcp needs a caller like every route")
    func streamableHTTP() async throws {
        try await withFake { fake, _, file in
            let fleetd = try await FleetdProcess(config: file, dataDirectory: file.deletingLastPathComponent().appendingPathComponent("data"),
                                                 environment: ["FLEETD_ADMIN_TOKEN": "mcp-admin"])
            try await runChecks(["http", fleetd.baseURL + "/mcp"], log: { fleetd.logText })
            let cancelled = try await http(.GET, fleetd.baseURL + "/v1/tasks/mcp-cancel")
            #expect(cancelled.body.contains("TASK_CANCELLED"), "\(cancelled.body)")
            // The held call's connection closed; the one left may be the next task's, idle in the pool.
            #expect(await waitFor { fake.openConnections <= 1 }, "the cancelled task's upstream call is still open: \(fake.openConnections)")
            // A request for a session that does not exist, and one that is not an initialize.
            let unknown = try await http(.POST, fleetd.baseURL + "/mcp", body: #"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
                                         headers: [("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream"),
                                                   ("Mcp-Session-Id", "nope")])
            #expect(unknown.status == 404, "\(unknown.body)")
            fleetd.signal(SIGTERM)
            _ = await fleetd.waitForExit()
        }
    }

    @Test("with an API key configured, /mcp refuses a caller without it")
    func httpNeedsACaller() async throws {
        try await withFake { _, _, file in
            let fleetd = try await FleetdProcess(config: file, dataDirectory: file.deletingLastPathComponent().appendingPathComponent("data"),
                                                 environment: ["API_KEY": "mcp-secret"])
            let initialize = #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#
            let headers = [("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream")]
            let refused = try await http(.POST, fleetd.baseURL + "/mcp", body: initialize, headers: headers)
            #expect(refused.status == 401, "\(refused.body)")
            let allowed = try await http(.POST, fleetd.baseURL + "/mcp", body: initialize, headers: headers + [("Authorization", "Bearer mcp-secret")])
            #expect(allowed.status == 200, "\(allowed.body)")
            #expect(allowed.body.contains("\"serverInfo\""), "\(allowed.body)")
            fleetd.signal(SIGTERM)
            _ = await fleetd.waitForExit()
        }
    }

    func waitFor(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<200 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }
}
