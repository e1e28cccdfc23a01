import Fleet
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// `GET /v1/models`, `/v1/costs`, `/v1/agents`, `/v1/flags`, `PUT /v1/flags/{name}` and the health
/// and metrics endpoints, in process (no socket).
@Suite("HTTP API: fleet, flags, admin, health", .timeLimit(.minutes(1)))
struct FleetAPITests {
    @Test("GET /v1/models lists every model with its breaker and quota")
    func models() async throws {
        try await withFleetd(APIConfig.builtin()) { client, _ in
            let response = try await client.send(.get, "/v1/models")
            #expect(response.status == .ok, "\(response.text)")
            let models = response.object["models"] as? [[String: Any]] ?? []
            #expect(models.compactMap { jsonValue($0, "status.name") as? String } == ["quick", "deep"], "\(response.text)")
            #expect(models.allSatisfy { jsonValue($0, "status.provider") as? String == "builtin" })
            #expect(models.allSatisfy { $0["quota"] != nil })
        }
    }

    @Test("GET /v1/costs reports the period, the budget and its alerts; a bad period is a 400")
    func costs() async throws {
        try await withFleetd(APIConfig.builtin()) { client, _ in
            let before = try await client.send(.get, "/v1/costs?period=week")
            #expect(before.status == .ok, "\(before.text)")
            #expect(jsonValue(before.object, "report.period") as? String == "week")
            #expect(jsonValue(before.object, "report.total.entries") as? Int == 0)
            #expect(jsonValue(before.object, "budget.enabled") as? Bool == true)
            let periods = jsonValue(before.object, "budget.periods") as? [[String: Any]] ?? []
            #expect(periods.first { $0["period"] as? String == "day" }?["limit"] as? Double == 5)
            #expect(before.object["alerts"] as? [Any] != nil)

            #expect(try await client.send(.post, "/v1/tasks", json: #"{"prompt": "hello"}"#).status == .ok)
            let after = try await client.send(.get, "/v1/costs")
            #expect(jsonValue(after.object, "report.period") as? String == "day", "day is the default period")
            #expect(jsonValue(after.object, "report.total.entries") as? Int == 1, "the task settled one ledger entry: \(after.text)")
            let byModel = jsonValue(after.object, "report.byModel") as? [[String: Any]] ?? []
            #expect(byModel.first?["name"] as? String == "quick")

            let bad = try await client.send(.get, "/v1/costs?period=year")
            #expect(bad.status == .badRequest)
            #expect(bad.apiError["field"] as? String == "period")
        }
    }

    @Test("GET /v1/agents lists every agent of every type with its counts")
    func agents() async throws {
        try await withFleetd(APIConfig.builtin()) { client, _ in
            let before = try await client.send(.get, "/v1/agents").object["agents"] as? [[String: Any]] ?? []
            let types = before.compactMap { $0["type"] as? String }.sorted()
            #expect(types == ["coder", "general", "general"])
            #expect(before.allSatisfy { $0["currentTask"] == nil && $0["completed"] as? Int == 0 })

            let task = try await client.send(.post, "/v1/tasks", json: #"{"prompt": "hello", "agentType": "coder"}"#)
            #expect(task.status == .ok, "\(task.text)")
            let after = try await client.send(.get, "/v1/agents").object["agents"] as? [[String: Any]] ?? []
            let coder = after.first { $0["type"] as? String == "coder" }
            #expect(coder?["completed"] as? Int == 1)
            #expect(coder?["id"] as? String == task.object["agentId"] as? String)
            #expect(after.filter { $0["type"] as? String == "general" }.allSatisfy { $0["completed"] as? Int == 0 })
        }
    }

    @Test("GET /v1/flags evaluates every flag for the query's context and says which rule decided")
    func flagsForAContext() async throws {
        try await withFleetd(APIConfig.builtin()) { client, _ in
            // Streaming is rolled out to 100% of tenants by tenantId: on with one, off without.
            let tenant = try await client.send(.get, "/v1/flags?tenantId=acme")
            #expect(tenant.status == .ok, "\(tenant.text)")
            #expect(jsonValue(tenant.object, "flags.streaming.enabled") as? Bool == true, "\(tenant.text)")
            #expect((jsonValue(tenant.object, "flags.streaming.rule") as? String)?.contains("tenantId") == true)
            #expect(jsonValue(tenant.object, "context.properties.tenantId") as? String == "acme")
            let anonymous = try await client.send(.get, "/v1/flags")
            #expect(jsonValue(anonymous.object, "flags.streaming.enabled") as? Bool == false, "\(anonymous.text)")

            // The agent type's override wins over the global rollout.
            let coder = try await client.send(.get, "/v1/flags?tenantId=acme&agentType=coder")
            #expect(jsonValue(coder.object, "flags.streaming.enabled") as? Bool == false, "\(coder.text)")
            #expect(jsonValue(coder.object, "flags.streaming.rule") as? String == "agent type 'coder': off")
            #expect(jsonValue(coder.object, "context.agentType") as? String == "coder")
            // An agent type no agent runs is refused, as `fleetd flags --agent-type` refuses it.
            let unknown = try await client.send(.get, "/v1/flags?agentType=nosuch")
            #expect(unknown.status == .badRequest, "\(unknown.text)")
            #expect(unknown.text.contains("no agent type 'nosuch'") && unknown.text.contains("coder"), "\(unknown.text)")

            // The environment's override wins over the rest.
            let legacy = try await client.send(.get, "/v1/flags?environment=legacy")
            #expect(jsonValue(legacy.object, "flags.multiModelRouter.enabled") as? Bool == false, "\(legacy.text)")
            #expect(jsonValue(legacy.object, "flags.multiModelRouter.rule") as? String == "environment 'legacy': off")
            #expect(jsonValue(anonymous.object, "flags.multiModelRouter.enabled") as? Bool == true)
        }
    }

    @Test("PUT /v1/flags/{name} is refused with 403 when FLEETD_ADMIN_TOKEN is unset")
    func flagChangeRefusedWithoutAdminToken() async throws {
        try await withFleetd(APIConfig.builtin()) { client, _ in
            let response = try await client.send(.put, "/v1/flags/streaming", json: #"{"enabled": false}"#,
                                                 headers: [.authorization: "Bearer anything"])
            #expect(response.status == .forbidden, "\(response.text)")
            #expect(response.apiError["code"] as? String == "ADMIN_DISABLED")
            let flags = try await client.send(.get, "/v1/flags?tenantId=acme")
            #expect(jsonValue(flags.object, "flags.streaming.enabled") as? Bool == true, "the flag did not change")
        }
    }

    @Test("PUT /v1/flags/{name} needs the admin token: 401 without it or with a wrong one; with it the flag changes")
    func flagChangeWithAdminToken() async throws {
        let environment = ["FLEETD_ADMIN_TOKEN": "s3cret-admin"]
        try await withFleetd(APIConfig.builtin(), environment: environment) { client, directory in
            let body = #"{"enabled": true, "rollout": {"percentage": 0, "stickiness": "tenantId"}}"#
            let refusedHeaders: [HTTPFields] = [[:], [.authorization: "Bearer wrong"], [.authorization: "s3cret-admin"]]
            for headers in refusedHeaders {
                let refused = try await client.send(.put, "/v1/flags/streaming", json: body, headers: headers)
                #expect(refused.status == .unauthorized, "\(headers): \(refused.text)")
                #expect(refused.apiError["code"] as? String == "UNAUTHORIZED")
            }
            #expect(jsonValue(try await client.send(.get, "/v1/flags?tenantId=acme").object, "flags.streaming.enabled") as? Bool == true)

            let accepted = try await client.send(.put, "/v1/flags/streaming?tenantId=acme", json: body,
                                                 headers: [.authorization: "Bearer s3cret-admin"])
            #expect(accepted.status == .ok, "\(accepted.text)")
            #expect(jsonValue(accepted.object, "flags.streaming.enabled") as? Bool == false, "0% rollout: off for acme now")
            let changes = accepted.object["runtimeChanges"] as? [[String: Any]] ?? []
            #expect(changes.map { $0["flag"] as? String } == ["streaming"], "\(accepted.text)")

            let flags = try await client.send(.get, "/v1/flags?tenantId=acme")
            #expect(jsonValue(flags.object, "flags.streaming.enabled") as? Bool == false, "\(flags.text)")
            let stored = try String(contentsOf: directory.appendingPathComponent("runtime-flags.json"), encoding: .utf8)
            #expect(stored.contains("streaming"), "runtime changes are kept in DATA_DIR/runtime-flags.json")

            let unknown = try await client.send(.put, "/v1/flags/noSuchFlag", json: body, headers: [.authorization: "Bearer s3cret-admin"])
            #expect(unknown.status == .notFound)
            #expect(unknown.apiError["code"] as? String == "UNKNOWN_FLAG")
            let outOfRange = try await client.send(.put, "/v1/flags/streaming", json: #"{"enabled": true, "rollout": {"percentage": 101}}"#,
                                                   headers: [.authorization: "Bearer s3cret-admin"])
            #expect(outOfRange.status == .badRequest)
            #expect(outOfRange.apiError["field"] as? String == "rollout.percentage")
        }
    }

    @Test("/healthz, /readyz and /metrics answer; /metrics counts tasks and requests in Prometheus text")
    func healthReadinessAndMetrics() async throws {
        try await withFleetd(APIConfig.builtin()) { client, _ in
            let health = try await client.send(.get, "/healthz")
            #expect(health.status == .ok)
            #expect(health.object["status"] as? String == "ok")
            let ready = try await client.send(.get, "/readyz")
            #expect(ready.status == .ok)
            #expect(ready.object["status"] as? String == "ready")

            let before = try await client.send(.get, "/metrics")
            #expect(before.status == .ok)
            #expect(before.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            #expect(!before.text.contains(#"fleetd_tasks_total{outcome="completed"}"#), "no task ran yet")

            #expect(try await client.send(.post, "/v1/tasks", json: #"{"prompt": "hello"}"#).status == .ok)
            #expect(try await client.send(.post, "/v1/tasks", json: "{}").status == .badRequest)
            let after = try await client.send(.get, "/metrics").text
            #expect(after.contains(#"fleetd_tasks_total{outcome="completed"} 1"#), "\(after)")
            #expect(after.contains("# HELP fleetd_http_request_duration_seconds"), "\(after)")
            #expect(after.contains(#"status="400""#), "the refused request is counted with its status: \(after)")
            #expect(after.contains(#"model_tokens_used_total{model="quick",provider="builtin",kind="output"}"#), "\(after)")
            #expect(after.contains(#"budget_utilization_percent{period="day"}"#), "\(after)")
        }
    }
}
