import FakeProvider
import Foundation
import Testing

/// Who may call, and what each caller may spend, against the real `fleetd` binary: the shared
/// `API_KEY`, JWTs, virtual keys (made by the CLI and the admin API) with their budgets, rates,
/// models, expiry and revocation, tenant isolation, and no secret in a log or a metric.
@Suite(.serialized) struct AuthEndToEndTests {
    typealias F = AuthFixture

    @Test func theSharedKeyAndJWTs() async throws {
        let fake = try await FakeProviderServer.start(script: F.billingScript())
        let shared = "shared-key-9f3c2a", secret = "jwt-secret-7d41b0-a8e2c95f13d4b6e07a"
        let (fleetd, _, _) = try await F.start(F.config(baseURL: fake.baseURL), environment: ["API_KEY": shared, "JWT_SECRET": secret])
        let tasks = fleetd.baseURL + "/v1/tasks"
        let body = #"{"prompt": "What is the capital of France?"}"#
        #expect(fleetd.logText.contains("authentication is on"))

        // No credential, or a wrong one: 401 with a JSON reason.
        let none = try await http(.POST, tasks, body: body)
        #expect(none.status == 401)
        #expect(none.headers["content-type"].first == "application/json")
        #expect(F.error(none)["code"] as? String == "UNAUTHORIZED")
        #expect((F.error(none)["message"] as? String)?.contains("Authorization: Bearer") == true)
        #expect(try await http(.POST, tasks, body: body, headers: F.bearer("nope")).status == 401)
        for route in ["/v1/tasks/x", "/v1/costs", "/v1/models", "/v1/agents", "/metrics", "/v1/flags"] {
            #expect(try await http(.GET, fleetd.baseURL + route).status == 401, "\(route)")
        }
        #expect(try await http(.POST, fleetd.baseURL + "/v1/route", body: body).status == 401)
        #expect(try await http(.GET, fleetd.baseURL + "/healthz").status == 200)
        #expect(try await http(.GET, fleetd.baseURL + "/health").status == 200)

        // v1.0.4's API_KEY: as a Bearer token and as x-api-key; full access.
        let bearer = try await http(.POST, tasks, body: body, headers: F.bearer(shared))
        #expect(bearer.status == 200, "\(bearer.body)")
        #expect(try await http(.POST, tasks, body: body, headers: [("x-api-key", shared)]).status == 200)
        #expect(try await http(.GET, fleetd.baseURL + "/metrics", headers: [("x-api-key", shared)]).status == 200)

        // A good token: its tenant and user; its models allow-list holds.
        let hour = Int(Date().timeIntervalSince1970) + 3_600
        let good = try F.jwt(["sub": "alice", "tenant": "acme", "exp": hour, "models": ["cheap"]], secret: secret)
        let complex = try await http(.POST, tasks, body: #"{"prompt": "\#(F.complexPrompt)", "id": "jwt-1", "tenantId": "spoofed"}"#,
                                     headers: F.bearer(good))
        #expect(complex.status == 200, "\(complex.body)")
        #expect(complex.json["model"] as? String == "cheap", "the token allows cheap only: \(complex.body)")
        let record = try await http(.GET, tasks + "/jwt-1", headers: F.bearer(good))
        #expect(record.json["tenantId"] as? String == "acme", "the token's tenant, not the body's: \(record.body)")
        // A tenant's caller may not read fleet-wide metrics.
        #expect(try await http(.GET, fleetd.baseURL + "/metrics", headers: F.bearer(good)).status == 403)
        // Agent types the token does not list are refused.
        let typed = try F.jwt(["sub": "bob", "tenant": "acme", "exp": hour, "agent_types": ["coder"]], secret: secret)
        let refused = try await http(.POST, tasks, body: #"{"prompt": "hi", "agentType": "general"}"#, headers: F.bearer(typed))
        #expect(refused.status == 403 && F.error(refused)["code"] as? String == "AGENT_TYPE_NOT_ALLOWED", "\(refused.body)")

        // Expired, not yet valid, badly signed, missing a claim, unsigned: 401, each with its reason.
        let cases: [(String, String)] = [
            (try F.jwt(["sub": "alice", "tenant": "acme", "exp": hour - 7_200], secret: secret), "expired"),
            (try F.jwt(["sub": "alice", "tenant": "acme", "exp": hour], secret: "another-secret-of-at-least-32-bytes"), "signature"),
            (try F.jwt(["sub": "alice", "exp": hour], secret: secret), "'tenant'"),
            (try F.jwt(["tenant": "acme", "exp": hour], secret: secret), "'sub'"),
            (try F.jwt(["sub": "alice", "tenant": "acme"], secret: secret), "'exp'"),
            (try F.jwt(["sub": "alice", "tenant": "acme", "exp": hour, "nbf": hour - 600], secret: secret), "'nbf'"),
            (try F.jwt(["sub": "alice", "tenant": "acme", "exp": hour], secret: secret, algorithm: "none"), "signature"),
        ]
        var tokens = [good, typed]
        for (token, reason) in cases {
            tokens.append(token)
            let answer = try await http(.POST, tasks, body: body, headers: F.bearer(token))
            #expect(answer.status == 401, "\(reason): \(answer.body)")
            #expect((F.error(answer)["message"] as? String)?.contains(reason) == true, "\(reason): \(answer.body)")
        }

        // No credential, secret or token in the log or the metrics.
        let metrics = try await http(.GET, fleetd.baseURL + "/metrics", headers: F.bearer(shared)).body
        for leaked in [shared, secret] + tokens {
            #expect(!fleetd.logText.contains(leaked) && !metrics.contains(leaked))
        }
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func virtualKeysTenantsBudgetsAndRates() async throws {
        let fake = try await FakeProviderServer.start(script: F.billingScript())
        let admin = "admin-token-51e8"
        let (fleetd, file, data) = try await F.start(F.config(baseURL: fake.baseURL), environment: ["FLEETD_ADMIN_TOKEN": admin])
        let tasks = fleetd.baseURL + "/v1/tasks"
        // No credential configured, on loopback: open, and said so.
        #expect(fleetd.logText.contains("authentication is off"))
        #expect(try await http(.POST, tasks, body: #"{"prompt": "hi"}"#).status == 200)

        // A key from the CLI (the same data directory), the others from the admin API.
        #expect(try await http(.POST, fleetd.baseURL + "/v1/admin/keys", body: #"{"tenant": "acme"}"#).status == 401)
        let cli = try await FleetdProcess.run(["keys", "create", "--config", file.path, "--data-dir", data.path, "--tenant", "acme",
                                         "--budget-daily", "5", "--models", "cheap", "--rpm", "60", "--expires", "30d"])
        #expect(cli.status == 0, "\(cli.stderr)")
        let acme = cli.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(acme.hasPrefix("fk-") && acme.count == 55, "\(cli.stdout)")
        #expect(cli.stderr.contains("shown this once"))
        let badModel = try await FleetdProcess.run(["keys", "create", "--config", file.path, "--data-dir", data.path, "--tenant", "acme", "--models", "gpt-9"])
        #expect(badModel.status == 1 && badModel.stderr.contains("--models: 'gpt-9' names no model"), "\(badModel.stderr)")
        let globex = try await F.makeKey(fleetd, admin: admin, #"{"tenant": "globex", "user": "gil"}"#)
        let limited = try await F.makeKey(fleetd, admin: admin, #"{"tenant": "initech", "rpm": 3}"#)
        let short = try await F.makeKey(fleetd, admin: admin, #"{"tenant": "acme", "expires": "2s"}"#)
        let invalid = try await http(.POST, fleetd.baseURL + "/v1/admin/keys", body: #"{"tenant": "a/b"}"#, headers: F.bearer(admin))
        #expect(invalid.status == 400, "\(invalid.body)")

        // Keys exist now: every caller needs a credential, from the request after the admin made one.
        #expect(try await http(.POST, tasks, body: #"{"prompt": "hi"}"#).status == 401)

        // The key limited to `cheap` is never routed to `strong`, even for a complex task.
        for index in 0..<4 {
            let done = try await http(.POST, tasks, body: #"{"prompt": "\#(F.complexPrompt) (\#(index))"}"#, headers: F.bearer(acme))
            #expect(done.status == 200 && done.json["model"] as? String == "cheap", "\(done.body)")
        }
        let open = try await http(.POST, tasks, body: #"{"prompt": "\#(F.complexPrompt)"}"#, headers: F.bearer(globex.key))
        #expect(open.json["model"] as? String == "strong", "without the limit the complex task goes to strong: \(open.body)")
        #expect(fake.requests.filter { $0.jsonBody?["model"] as? String == "strong-model-id" }.count == 1)
        let explained = try await http(.POST, fleetd.baseURL + "/v1/route", body: #"{"prompt": "\#(F.complexPrompt)"}"#, headers: [("x-api-key", acme)])
        #expect(explained.json["modelName"] as? String == "cheap")
        #expect(explained.body.contains("not among the models allowed for key fk-"), "the exclusion is named in the trace: \(explained.body)")

        // Tenants: ids are theirs; another tenant's task is a 404; a reused id a 409.
        #expect(try await http(.POST, tasks, body: #"{"prompt": "hi", "id": "t-1"}"#, headers: F.bearer(acme)).status == 200)
        #expect(try await http(.GET, tasks + "/t-1", headers: F.bearer(acme)).status == 200)
        let foreign = try await http(.GET, tasks + "/t-1", headers: F.bearer(globex.key))
        #expect(foreign.status == 404 && F.error(foreign)["code"] as? String == "UNKNOWN_TASK")
        #expect(try await http(.POST, tasks, body: #"{"prompt": "hi", "id": "t-1"}"#, headers: F.bearer(globex.key)).status == 200)
        let reused = try await http(.POST, tasks, body: #"{"prompt": "hi", "id": "t-1"}"#, headers: F.bearer(acme))
        #expect(reused.status == 409 && F.error(reused)["code"] as? String == "TASK_ID_CONFLICT", "\(reused.body)")
        let ambiguous = try await http(.GET, tasks + "/t-1", headers: F.bearer(admin))
        #expect(ambiguous.status == 409, "the admin sees all, and is told to pick: \(ambiguous.body)")
        #expect(try await http(.GET, tasks + "/t-1?tenant=globex", headers: F.bearer(admin)).json["tenantId"] as? String == "globex")
        // A tenant's costs are its own; the admin's by key and by tenant.
        let own = try await http(.GET, fleetd.baseURL + "/v1/costs?by=key", headers: F.bearer(globex.key))
        #expect(jsonValue(own.json, "report.tenant") as? String == "globex" && own.json["budget"] == nil, "\(own.body)")
        #expect((jsonValue(own.json, "report.byKey") as? [[String: Any]])?.compactMap { $0["name"] as? String } == [globex.id])
        let byTenant = try await http(.GET, fleetd.baseURL + "/v1/costs?by=tenant", headers: F.bearer(admin))
        let tenants = (jsonValue(byTenant.json, "report.byTenant") as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
        #expect(Set(tenants) == ["acme", "globex", "-"], "\(byTenant.body)")
        let cliCosts = try await FleetdProcess.run(["costs", "--config", file.path, "--data-dir", data.path, "--by", "key"])
        #expect(cliCosts.status == 0 && cliCosts.stdout.contains(globex.id) && !cliCosts.stdout.contains("model "), "\(cliCosts.stdout)")

        // rpm: the fourth request in the minute is refused with Retry-After.
        for _ in 0..<3 { #expect(try await http(.GET, fleetd.baseURL + "/v1/agents", headers: F.bearer(limited.key)).status == 200) }
        let throttled = try await http(.GET, fleetd.baseURL + "/v1/agents", headers: F.bearer(limited.key))
        #expect(throttled.status == 429 && F.error(throttled)["code"] as? String == "RATE_LIMITED", "\(throttled.body)")
        #expect((throttled.headers["retry-after"].first.flatMap(Int.init) ?? 0) >= 1)

        // Expired and revoked keys: 401, each said so.
        try await Task.sleep(for: .seconds(2.2))
        let expired = try await http(.GET, fleetd.baseURL + "/v1/agents", headers: F.bearer(short.key))
        #expect(expired.status == 401 && (F.error(expired)["message"] as? String)?.contains("expired") == true, "\(expired.body)")
        #expect(try await http(.DELETE, fleetd.baseURL + "/v1/admin/keys/\(globex.id)", headers: F.bearer(admin)).status == 200)
        let revoked = try await http(.GET, fleetd.baseURL + "/v1/agents", headers: F.bearer(globex.key))
        #expect(revoked.status == 401 && (F.error(revoked)["message"] as? String)?.contains("revoked") == true, "\(revoked.body)")
        let acmeId = String(acme.dropFirst(3).prefix(8))
        #expect(try await FleetdProcess.run(["keys", "revoke", "--config", file.path, "--data-dir", data.path, "fk-\(acmeId)"]).status == 0)
        // Revoked again: said so, with when, and exit 1 (as the admin API's 409); nothing changes.
        let again = try await FleetdProcess.run(["keys", "revoke", "--config", file.path, "--data-dir", data.path, "fk-\(acmeId)"])
        #expect(again.status == 1 && again.stdout.isEmpty, "\(again.stdout) \(again.stderr)")
        #expect(again.stderr.contains("fk-\(acmeId) (tenant acme) was already revoked at 20") && again.stderr.contains("nothing changed"),
                "\(again.stderr)")
        #expect(try await http(.GET, fleetd.baseURL + "/v1/agents", headers: F.bearer(acme)).status == 401,
                "a key revoked by the CLI fails from the service's next request")
        let listed = try await FleetdProcess.run(["keys", "list", "--config", file.path, "--data-dir", data.path])
        #expect(listed.stdout.contains("fk-\(acmeId)") && listed.stdout.contains("revoked") && listed.stdout.contains("expired"), "\(listed.stdout)")

        // No key, secret part or hash in the log, the CLI's listing or the metrics.
        let metrics = try await http(.GET, fleetd.baseURL + "/metrics", headers: F.bearer(admin)).body
        for key in [acme, globex.key, limited.key, short.key] {
            for form in F.forms(ofKey: key) {
                #expect(!fleetd.logText.contains(form) && !metrics.contains(form) && !listed.stdout.contains(form))
            }
        }
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func aKeyPastItsBudgetIsRefused() async throws {
        let fake = try await FakeProviderServer.start(script: F.billingScript())
        let admin = "admin-token-budget"
        let (fleetd, _, _) = try await F.start(F.config(baseURL: fake.baseURL), environment: ["FLEETD_ADMIN_TOKEN": admin])
        // A task reserves about $0.0021 on `cheap` (1,024 output tokens at most) and spends about
        // $0.0002: the key's $0.003 holds a few tasks, then refuses.
        let capped = try await F.makeKey(fleetd, admin: admin, #"{"tenant": "acme", "budgetDaily": 0.003}"#)
        let other = try await F.makeKey(fleetd, admin: admin, #"{"tenant": "globex"}"#)
        var refusal: HTTPResult?
        var served = 0
        for index in 0..<30 where refusal == nil {
            let answer = try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "Say ok (\#(index))"}"#, headers: F.bearer(capped.key))
            if answer.status == 200 { served += 1 } else { refusal = answer }
        }
        let refused = try #require(refusal, "the key's budget must refuse a task")
        #expect(served >= 1)
        #expect(refused.status == 402, "\(refused.body)")
        #expect(refused.headers["content-type"].first == "application/json")
        #expect(F.error(refused)["code"] as? String == "ROUTER_002")
        #expect((F.error(refused)["message"] as? String)?.contains("key \(capped.id)'s day budget") == true, "\(refused.body)")
        // The key's holder sees its budget; another key of the fleet goes on.
        let status = try await http(.GET, fleetd.baseURL + "/v1/costs", headers: F.bearer(capped.key))
        let day = (jsonValue(status.json, "keyBudget.periods") as? [[String: Any]])?.first { $0["period"] as? String == "day" }
        #expect(day?["limit"] as? Double == 0.003 && (day?["spent"] as? Double ?? 1) <= 0.003, "\(status.body)")
        #expect(try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "ok?"}"#, headers: F.bearer(other.key)).status == 200)
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    /// A key's model list is a hard rule: a model outside it is 403 on the compatible endpoints and
    /// on /v1/tasks (never quietly served by another), and a prompt outside its models' complexity
    /// ranges is still served by them. /v1/route shows the key's own budget, never the fleet's spend.
    @Test func aKeysModelsAreAHardRuleAndItsRouteShowsNoFleetSpend() async throws {
        let fake = try await FakeProviderServer.start(script: F.billingScript())
        let admin = "admin-token-models"
        let (fleetd, _, _) = try await F.start(F.config(baseURL: fake.baseURL), environment: ["FLEETD_ADMIN_TOKEN": admin])
        // The fleet spends something before any key exists (open on loopback).
        #expect(try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "Say ok"}"#).status == 200)
        let beta = try await F.makeKey(fleetd, admin: admin, #"{"tenant": "beta", "models": ["strong"], "budgetDaily": 2}"#)

        for path in ["/v1/chat/completions", "/v1/messages"] {
            let body = #"{"model": "cheap", "max_tokens": 64, "messages": [{"role": "user", "content": "Say ok"}]}"#
            let refused = try await http(.POST, fleetd.baseURL + path, body: body, headers: F.bearer(beta.key))
            #expect(refused.status == 403, "\(path): \(refused.body)")
            #expect(F.error(refused)["type"] as? String == "permission_error", "\(path): \(refused.body)")
            #expect((F.error(refused)["message"] as? String)?.contains("'cheap' may not be used") == true, "\(path): \(refused.body)")
        }
        let preferring = try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "Say ok", "preferredModel": "cheap"}"#,
                                        headers: F.bearer(beta.key))
        #expect(preferring.status == 403 && F.error(preferring)["code"] as? String == "MODEL_NOT_ALLOWED", "\(preferring.body)")
        #expect((F.error(preferring)["message"] as? String)?.contains("'cheap'") == true, "\(preferring.body)")

        // A simple prompt: outside strong's range (0.45–1.0), served by strong all the same.
        let simple = try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "Say ok"}"#, headers: F.bearer(beta.key))
        #expect(simple.status == 200, "\(simple.body)")
        #expect(simple.json["model"] as? String == "strong", "\(simple.body)")

        // The route's budget line is the key's own ($2 a day), not the fleet's ($1000 a day).
        let route = try await http(.POST, fleetd.baseURL + "/v1/route", body: #"{"prompt": "Say ok"}"#, headers: F.bearer(beta.key))
        #expect(route.status == 200, "\(route.body)")
        let budget = jsonValue(route.json, "trace.budget") as? String ?? ""
        #expect(budget.contains("key") && budget.contains("$2.0000"), "\(route.body)")
        #expect(!route.body.contains("$1000") && !route.body.contains("remaining $"), "\(route.body)")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    /// A tenant's streamed answer through either compatible endpoint is recorded under the
    /// tenant's task, as its JSON answers are: `GET /v1/tasks/{id}` says how it ended.
    /// With the built-in responder as the last resort, a spent key budget is still the caller's
    /// answer (402 ROUTER_002, on /v1/tasks as on the compatible endpoint), not canned text.
    @Test func aKeyPastItsBudgetIsRefusedWithABuiltinLastResort() async throws {
        let fake = try await FakeProviderServer.start(script: F.billingScript())
        let admin = "admin-token-budget-builtin"
        let yaml = F.config(baseURL: fake.baseURL).replacingOccurrences(of: "  costTracking:", with: """
                - name: local
                  provider: builtin
                  model: fleetd-builtin
              lastResort: local
              costTracking:
            """)
        #expect(yaml.contains("lastResort: local"))
        let (fleetd, _, _) = try await F.start(yaml, environment: ["FLEETD_ADMIN_TOKEN": admin])
        let capped = try await F.makeKey(fleetd, admin: admin, #"{"tenant": "acme", "budgetDaily": 0.003}"#)
        var refusal: HTTPResult?
        for index in 0..<30 where refusal == nil {
            let answer = try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "Say ok (\#(index))"}"#, headers: F.bearer(capped.key))
            #expect(!answer.body.contains("built-in local responder"), "\(answer.body)")
            if answer.status != 200 { refusal = answer }
        }
        let refused = try #require(refusal, "the key's budget must refuse a task")
        #expect(refused.status == 402, "\(refused.body)")
        #expect(F.error(refused)["code"] as? String == "ROUTER_002", "\(refused.body)")
        let compat = try await http(.POST, fleetd.baseURL + "/v1/chat/completions",
                                    body: #"{"model": "auto", "messages": [{"role": "user", "content": "Say ok"}]}"#, headers: F.bearer(capped.key))
        #expect(compat.status != 200 && !compat.body.contains("built-in local responder"), "\(compat.body)")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func aTenantsStreamedCompatibleAnswerIsRecordedAsItsOwnTask() async throws {
        let fake = try await FakeProviderServer.start(script: F.billingScript())
        let admin = "admin-token-streams"
        let (fleetd, _, _) = try await F.start(F.config(baseURL: fake.baseURL), environment: ["FLEETD_ADMIN_TOKEN": admin])
        let acme = try await F.makeKey(fleetd, admin: admin, #"{"tenant": "acme"}"#)
        let calls = [
            ("/v1/chat/completions", #"{"model": "cheap", "stream": true, "messages": [{"role": "user", "content": "Say ok"}]}"#),
            ("/v1/messages", #"{"model": "cheap", "max_tokens": 50, "stream": true, "messages": [{"role": "user", "content": "Say ok"}]}"#),
        ]
        for (path, body) in calls {
            let streamed = try await http(.POST, fleetd.baseURL + path, body: body, headers: F.bearer(acme.key))
            #expect(streamed.status == 200 && streamed.body.contains("ok"), "\(path): \(streamed.body)")
            let id = try #require(streamed.headers["x-fleetd-task-id"].first, "\(path): no task id header")
            let record = try await http(.GET, fleetd.baseURL + "/v1/tasks/\(id)", headers: F.bearer(acme.key))
            #expect(record.status == 200 && record.json["status"] as? String == "completed", "\(path): \(record.body)")
            #expect(record.json["tenantId"] as? String == "acme", "\(path): \(record.body)")
        }
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func twoHundredConcurrentTasksNeverOvershootAKeysBudgetByMoreThanOneReservation() async throws {
        // Output up to 300 tokens a call, as in BillingTests: realistic, not fitted to the estimate.
        let fake = try await FakeProviderServer.start(script: F.billingScript(output: 300))
        let admin = "admin-token-race"
        let prices = (cheap: (0.003, 0.015), strong: (0.03, 0.15))
        let (fleetd, _, _) = try await F.start(F.config(baseURL: fake.baseURL, agents: 16, prices: prices), environment: ["FLEETD_ADMIN_TOKEN": admin])
        // A task costs about $0.0046; its reservation about $0.0155. The key holds about ten.
        let limit = 0.05
        let key = try await F.makeKey(fleetd, admin: admin, #"{"tenant": "acme", "budgetDaily": \#(limit)}"#)
        let started = ContinuousClock.now
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<200 {
                group.addTask {
                    try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "Task \#(index): say ok"}"#, headers: F.bearer(key.key)).status
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        let elapsed = ContinuousClock.now - started
        #expect(Set(statuses).isSubset(of: [200, 402]), "\(statuses)")
        #expect(statuses.filter { $0 == 200 }.count >= 2 && statuses.contains(402), "\(statuses)")
        let costs = try await http(.GET, fleetd.baseURL + "/v1/costs?by=key", headers: F.bearer(admin))
        let spent = (jsonValue(costs.json, "report.byKey") as? [[String: Any]])?.first { $0["name"] as? String == key.id }?["cost"] as? Double ?? -1
        let oneReservation = (Double(60) * 0.003 + 1_024 * 0.015) / 1_000
        #expect(spent > 0 && spent <= limit + oneReservation, "spent \(spent) against the key's limit of \(limit)")
        print("200 concurrent tasks on one key: \(statuses.filter { $0 == 200 }.count) served, \(statuses.filter { $0 == 402 }.count) refused, spent $\(spent) of $\(limit) in \(elapsed)")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func aShortJWTSecretIsRefusedAtStart() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try "fleet: {id: short}\nagents: [{type: general}]\n".write(to: file, atomically: true, encoding: .utf8)
        let refused = try await FleetdProcess.run(["serve", "--config", file.path, "--port", "0", "--data-dir", directory.appendingPathComponent("data").path],
                                            environment: ["JWT_SECRET": "too-short"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("JWT_SECRET must be at least 32 bytes"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("too-short"), "the secret is never printed")
    }

    @Test func aNonLoopbackAddressNeedsACredentialOrTheSetting() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try "fleet: {id: exposed}\nagents: [{type: general}]\napi: {host: 0.0.0.0}\n".write(to: file, atomically: true, encoding: .utf8)
        let data = directory.appendingPathComponent("data").path
        let refused = try await FleetdProcess.run(["serve", "--config", file.path, "--port", "0", "--data-dir", data])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("api.allowUnauthenticated"), "\(refused.stderr)")

        // With a credential it serves, and asks for it.
        let keyed = try await FleetdProcess(config: file, dataDirectory: URL(fileURLWithPath: data), environment: ["API_KEY": "exposed-key-1"])
        #expect(try await http(.GET, keyed.baseURL + "/v1/agents").status == 401)
        #expect(try await http(.GET, keyed.baseURL + "/v1/agents", headers: F.bearer("exposed-key-1")).status == 200)
        keyed.signal(SIGTERM)
        #expect(await keyed.waitForExit() == 0)

        // With the setting it serves openly, and warns.
        try "fleet: {id: exposed}\nagents: [{type: general}]\napi: {host: 0.0.0.0, allowUnauthenticated: true}\n".write(to: file, atomically: true, encoding: .utf8)
        let open = try await FleetdProcess(config: file, dataDirectory: URL(fileURLWithPath: data))
        #expect(open.logText.contains("authentication is off on a non-loopback address"))
        #expect(try await http(.GET, open.baseURL + "/v1/agents").status == 200)
        open.signal(SIGTERM)
        #expect(await open.waitForExit() == 0)
    }
}
