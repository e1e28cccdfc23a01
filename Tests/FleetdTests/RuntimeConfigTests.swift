import Foundation
import Testing

/// fleetd as a service: health, hot reload from the file, SIGHUP, the admin API, runtime flag
/// changes that survive a restart, and a clean exit on SIGTERM.
@Suite(.serialized) struct RuntimeConfigTests {
    let token = "test-admin-token"

    func writeConfig(_ text: String, to url: URL) throws {
        // Write then rename, as editors do, so the watcher never reads half a file.
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".tmp-\(UUID().uuidString)")
        try text.write(to: temporary, atomically: false, encoding: .utf8)
        #expect(rename(temporary.path, url.path) == 0)
    }

    func config(streaming: String) -> String {
        """
        fleet: {id: runtime-test, maxAgents: 2}
        api: {host: 127.0.0.1}
        features:
          multiModelRouter: false
          streaming: \(streaming)
        streaming: {enabled: true}
        """
    }

    func streamingFlag(_ fleetd: FleetdProcess, query: String = "") async throws -> (enabled: Bool, rule: String) {
        let result = try await http(.GET, "\(fleetd.baseURL)/v1/flags\(query)")
        let flags = result.json["flags"] as? [String: [String: Any]]
        return (flags?["streaming"]?["enabled"] as? Bool ?? false, flags?["streaming"]?["rule"] as? String ?? "")
    }

    @Test func fileEditsApplyWithoutRestartAndBadFilesAreRejected() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try writeConfig(config(streaming: "false"), to: file)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"))

        #expect(try await http(.GET, "\(fleetd.baseURL)/healthz").status == 200)
        #expect(try await streamingFlag(fleetd).enabled == false)

        let start = ContinuousClock.now
        try writeConfig(config(streaming: "true"), to: file)
        let applied = try await eventually(timeout: .seconds(1)) { try await streamingFlag(fleetd).enabled }
        #expect(applied, "the change must apply within one second (took \(ContinuousClock.now - start))")

        try writeConfig(config(streaming: "maybe"), to: file)
        #expect(await eventually { fleetd.logText.contains("config reload rejected") })
        #expect(try await streamingFlag(fleetd).enabled == true, "the old config keeps running")
        #expect(fleetd.logText.contains("fleet.yaml:5:14: error: features.streaming"))

        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
    }

    /// fleetd on ``config(streaming:)`` in a fresh directory, with the admin token; and its file.
    func startWithAdminToken(streaming: String) async throws -> (FleetdProcess, URL) {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try writeConfig(config(streaming: streaming), to: file)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"),
                                             environment: ["FLEETD_ADMIN_TOKEN": token])
        return (fleetd, file)
    }

    @Test func sighupAndAdminReload() async throws {
        let (fleetd, file) = try await startWithAdminToken(streaming: "false")

        // Admin routes need the token.
        #expect(try await http(.POST, "\(fleetd.baseURL)/v1/admin/reload").status == 401)
        #expect(try await http(.POST, "\(fleetd.baseURL)/v1/admin/reload", headers: [("Authorization", "Bearer wrong")]).status == 401)

        // An invalid file: the admin reload answers 422 with the errors; the old config stays.
        try "features:\n  streaming: [1]\n".write(to: file, atomically: true, encoding: .utf8)
        let rejected = try await http(.POST, "\(fleetd.baseURL)/v1/admin/reload", headers: [("Authorization", "Bearer \(token)")])
        #expect(rejected.status == 422)
        #expect(rejected.body.contains("features.streaming: expected true, false or {enabled, rollout}"))
        #expect(try await streamingFlag(fleetd).enabled == false)

        try writeConfig(config(streaming: "true"), to: file)
        fleetd.signal(SIGHUP)
        #expect(try await eventually { try await streamingFlag(fleetd).enabled })
        // The log line comes through a pipe, read on its own: it may arrive after the answer.
        #expect(await eventually { fleetd.logText.contains("\"trigger\":\"SIGHUP\"") || fleetd.logText.contains("\"trigger\":\"file change\"") })

        let reloaded = try await http(.POST, "\(fleetd.baseURL)/v1/admin/reload", headers: [("Authorization", "Bearer \(token)")])
        #expect(reloaded.status == 200)
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
    }

    @Test func adminRoutesAreOffWithoutAToken() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try writeConfig(config(streaming: "false"), to: file)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"))
        let result = try await http(.PUT, "\(fleetd.baseURL)/v1/flags/streaming", body: #"{"enabled": true}"#,
                                    headers: [("Authorization", "Bearer anything")])
        #expect(result.status == 403)
        fleetd.signal(SIGINT)
        #expect(await fleetd.waitForExit() == 0)
    }

    /// `fleetd mcp` beside `fleetd serve` on one data directory: a flag the operator changes
    /// through the MCP server's `flags` tool is in force in the running serve within a second.
    @Test func aFlagChangedThroughFleetdMCPIsInForceInTheRunningServe() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        let data = directory.appendingPathComponent("data")
        try writeConfig(config(streaming: "true"), to: file)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: data, environment: ["FLEETD_ADMIN_TOKEN": token])
        #expect(try await streamingFlag(fleetd).enabled)

        let session = [
            #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}"#,
            #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"flags","arguments":{"name":"streaming","enabled":false,"adminToken":"\#(token)"}}}"#,
        ].joined(separator: "\n") + "\n"
        let mcp = try await FleetdProcess.run(["mcp", "--config", file.path, "--data-dir", data.path],
                                        environment: ["FLEETD_ADMIN_TOKEN": token], stdin: Data(session.utf8))
        #expect(mcp.stdout.contains(#""id":2"#) && !mcp.stdout.contains(#""isError":true"#), "stdout: \(mcp.stdout)\nstderr: \(mcp.stderr.suffix(2000))")
        let applied = try await eventually(timeout: .seconds(2)) { try await !streamingFlag(fleetd).enabled }
        #expect(applied, "serve still has streaming on; log: \(fleetd.logText.suffix(2000))")
        #expect(fleetd.logText.contains("runtime flag changes made by another fleetd process on this data directory are in force"))

        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
    }

    @Test func runtimeFlagChangesSurviveARestartAndReloadsUntilDropped() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        let data = directory.appendingPathComponent("data")
        try writeConfig(config(streaming: "false"), to: file)
        let auth = [("Authorization", "Bearer \(token)")]
        var fleetd = try await FleetdProcess(config: file, dataDirectory: data, environment: ["FLEETD_ADMIN_TOKEN": token])

        // Bad input gets a 4xx naming the field.
        let wrongType = try await http(.PUT, "\(fleetd.baseURL)/v1/flags/streaming", body: #"{"enabled": "yes"}"#, headers: auth)
        #expect(wrongType.status == 400)
        #expect((wrongType.json["error"] as? [String: Any])?["field"] as? String == "enabled")
        #expect(try await http(.PUT, "\(fleetd.baseURL)/v1/flags/streaming", body: "{not json", headers: auth).status == 400)
        #expect(try await http(.PUT, "\(fleetd.baseURL)/v1/flags/teleport", body: #"{"enabled": true}"#, headers: auth).status == 404)
        let tooBig = String(repeating: " ", count: 16_777_216) + "{}" // over the default api.maxBodyBytes
        #expect(try await http(.PUT, "\(fleetd.baseURL)/v1/flags/streaming", body: tooBig, headers: auth).status == 413)

        let changed = try await http(.PUT, "\(fleetd.baseURL)/v1/flags/streaming",
                                     body: #"{"enabled": true, "rollout": {"percentage": 100, "stickiness": "tenantId"}}"#, headers: auth)
        #expect(changed.status == 200, "\(changed.body)")
        #expect(try await streamingFlag(fleetd, query: "?tenantId=acme").enabled)
        #expect(try await streamingFlag(fleetd).rule == "runtime change (PUT /v1/flags): rollout 100% by tenantId: no tenantId in context")

        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        fleetd = try await FleetdProcess(config: file, dataDirectory: data, environment: ["FLEETD_ADMIN_TOKEN": token])
        #expect(try await streamingFlag(fleetd, query: "?tenantId=acme").enabled, "a restart keeps the runtime change")
        #expect(try await streamingFlag(fleetd).rule == "runtime change (PUT /v1/flags): rollout 100% by tenantId: no tenantId in context",
                "restored from runtime-flags.json, it is still shown as a runtime change, not the file's value")

        // A reload keeps it (the file's streaming did not change); one asked to drop runtime changes returns to the file.
        #expect(try await http(.POST, "\(fleetd.baseURL)/v1/admin/reload", headers: auth).status == 200)
        #expect(try await streamingFlag(fleetd, query: "?tenantId=acme").enabled)
        #expect(try await http(.POST, "\(fleetd.baseURL)/v1/admin/reload?keepRuntimeFlags=false", headers: auth).status == 200)
        #expect(try await streamingFlag(fleetd, query: "?tenantId=acme").enabled == false)
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
    }

    /// Growing a rollout from the dashboard (which sends the percentage and the stickiness only)
    /// keeps the file's group id, so the users already in stay in; a custom stickiness is kept
    /// when the change names none.
    @Test func aRolloutChangeKeepsTheGroupIdAndStickinessInForce() async throws {
        let (fleetd, _) = try await startWithAdminToken(streaming: "{enabled: true, rollout: {percentage: 10, stickiness: orgId, groupId: wave-1}}")
        let auth = [("Authorization", "Bearer \(token)")]
        let grown = try await http(.PUT, "\(fleetd.baseURL)/v1/flags/streaming", body: #"{"enabled": true, "rollout": {"percentage": 20}}"#, headers: auth)
        #expect(grown.status == 200, "\(grown.body)")
        let rollout = jsonValue(grown.json, "global.streaming.rollout") as? [String: Any]
        #expect(rollout?["percentage"] as? Int == 20 && rollout?["groupId"] as? String == "wave-1" && rollout?["stickiness"] as? String == "orgId",
                "\(grown.body)")
        let moved = try await http(.PUT, "\(fleetd.baseURL)/v1/flags/streaming",
                                   body: #"{"enabled": true, "rollout": {"percentage": 30, "stickiness": "userId"}}"#, headers: auth)
        let after = jsonValue(moved.json, "global.streaming.rollout") as? [String: Any]
        #expect(after?["stickiness"] as? String == "userId" && after?["groupId"] as? String == "wave-1", "\(moved.body)")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
    }
}

/// v1.0.4's `api.rateLimit`, enforced per client address.
@Suite struct RateLimitTests {
    @Test func theFourthRequestInAWindowGets429WithRetryAfter() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try "fleet: {id: limited}\napi: {host: 127.0.0.1, rateLimit: {windowMs: 60000, max: 3}}\n".write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"))
        var statuses: [Int] = []
        for _ in 0..<4 { statuses.append(try await http(.GET, "\(fleetd.baseURL)/v1/flags").status) }
        #expect(statuses == [200, 200, 200, 429])
        let refused = try await http(.GET, "\(fleetd.baseURL)/v1/agents")
        #expect(refused.status == 429)
        #expect((refused.json["error"] as? [String: Any])?["code"] as? String == "RATE_LIMITED")
        #expect(Int(refused.headers["retry-after"].first ?? "") ?? 0 > 0)
        // Health and metrics are never limited.
        #expect(try await http(.GET, "\(fleetd.baseURL)/healthz").status == 200)
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
    }
}
