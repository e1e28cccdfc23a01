import Fleet
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import fleetd

/// The authentication facility in process: token limits, limits fleetd cannot enforce, what a
/// tenant's caller sees of the fleet, and the pieces (loopback test, credential headers, key
/// lifetimes).
@Suite("HTTP API: authentication and callers", .timeLimit(.minutes(1)))
struct AuthAPITests {
    static let admin = "admin-token-in-process"

    /// Makes a key through the admin route; returns its text and id.
    static func makeKey(_ client: some TestClientProtocol, _ json: String) async throws -> (key: String, id: String) {
        let made = try await client.send(.post, "/v1/admin/keys", json: json, headers: [.authorization: "Bearer \(admin)"])
        #expect(made.status == .created, "\(made.text)")
        return (made.object["key"] as? String ?? "", jsonValue(made.object, "record.id") as? String ?? "")
    }

    @Test("a key over its tokens per minute is refused with 429 and Retry-After until its calls age out")
    func tokensPerMinute() async throws {
        try await withFleetd(APIConfig.builtin(), environment: ["FLEETD_ADMIN_TOKEN": Self.admin]) { client, _ in
            let (key, _) = try await Self.makeKey(client, #"{"tenant": "acme", "tpm": 5}"#)
            let auth: HTTPFields = [.authorization: "Bearer \(key)"]
            let first = try await client.send(.post, "/v1/tasks", json: #"{"prompt": "hello"}"#, headers: auth)
            #expect(first.status == .ok, "\(first.text)")
            let tokens = (jsonValue(first.object, "usage.inputTokens") as? Int ?? 0) + (jsonValue(first.object, "usage.outputTokens") as? Int ?? 0)
            #expect(tokens >= 5, "the first task used the minute's tokens: \(first.text)")
            let second = try await client.send(.get, "/v1/agents", headers: auth)
            #expect(second.status == .tooManyRequests, "\(second.text)")
            #expect(second.apiError["code"] as? String == "RATE_LIMITED")
            #expect((second.apiError["message"] as? String)?.contains("tpm of 5") == true)
            #expect((second.headers[.retryAfter].flatMap(Int.init) ?? 0) >= 1)
        }
    }

    @Test("a key with a budget on a fleet without cost tracking is refused: fleetd could not hold it to it")
    func unenforceableLimits() async throws {
        let yaml = APIConfig.builtin().replacingOccurrences(of: "costTracking: {enabled: true, budgetLimits: {daily: 5}}",
                                                            with: "costTracking: {enabled: false}")
        try await withFleetd(yaml, environment: ["FLEETD_ADMIN_TOKEN": Self.admin]) { client, _ in
            let (budgeted, _) = try await Self.makeKey(client, #"{"tenant": "acme", "budgetDaily": 1}"#)
            let (plain, _) = try await Self.makeKey(client, #"{"tenant": "acme"}"#)
            let refused = try await client.send(.post, "/v1/tasks", json: #"{"prompt": "hello"}"#, headers: [.authorization: "Bearer \(budgeted)"])
            #expect(refused.status == .serviceUnavailable && refused.apiError["code"] as? String == "KEY_LIMITS_UNENFORCEABLE", "\(refused.text)")
            #expect(try await client.send(.post, "/v1/tasks", json: #"{"prompt": "hello"}"#, headers: [.authorization: "Bearer \(plain)"]).status == .ok)
        }
    }

    @Test("a tenant's caller sees its own tasks, spend and no other tenant's task ids; the admin lists keys without secrets")
    func tenantViews() async throws {
        try await withFleetd(APIConfig.builtin(), environment: ["FLEETD_ADMIN_TOKEN": Self.admin]) { client, _ in
            let (acme, acmeID) = try await Self.makeKey(client, #"{"tenant": "acme", "models": ["quick"], "budgetDaily": 2}"#)
            let (globex, _) = try await Self.makeKey(client, #"{"tenant": "globex"}"#)
            #expect(try await client.send(.post, "/v1/tasks", json: #"{"prompt": "hi", "id": "a1"}"#, headers: [.authorization: "Bearer \(acme)"]).status == .ok)
            #expect(try await client.send(.post, "/v1/tasks", json: #"{"prompt": "hi", "id": "g1"}"#, headers: [.authorization: "Bearer \(globex)"]).status == .ok)
            // The key limited to `quick` may not name `deep`: /v1/route refuses it as /v1/tasks does.
            let pinned = try await client.send(.post, "/v1/route", json: #"{"prompt": "hi", "preferredModel": "deep"}"#,
                                               headers: [.authorization: "Bearer \(acme)"])
            #expect(pinned.status == .forbidden && pinned.apiError["code"] as? String == "MODEL_NOT_ALLOWED", "\(pinned.text)")

            let costs = try await client.send(.get, "/v1/costs", headers: [.authorization: "Bearer \(acme)"])
            #expect(jsonValue(costs.object, "report.total.entries") as? Int == 1, "acme's own spend only: \(costs.text)")
            #expect(costs.object["budget"] == nil && costs.object["alerts"] == nil)
            #expect((jsonValue(costs.object, "keyBudget.periods") as? [Any])?.count == 3)
            let all = try await client.send(.get, "/v1/costs?by=tenant", headers: [.authorization: "Bearer \(Self.admin)"])
            #expect(jsonValue(all.object, "report.total.entries") as? Int == 2 && all.object["budget"] != nil, "\(all.text)")
            #expect(try await client.send(.get, "/v1/costs?by=model", headers: [.authorization: "Bearer \(Self.admin)"]).status == .badRequest)

            #expect(try await client.send(.get, "/v1/tasks/g1", headers: [.authorization: "Bearer \(acme)"]).status == .notFound)
            #expect(try await client.send(.get, "/v1/tasks/g1", headers: [.authorization: "Bearer \(Self.admin)"]).status == .ok)

            let listed = try await client.send(.get, "/v1/admin/keys", headers: [.authorization: "Bearer \(Self.admin)"])
            let keys = listed.object["keys"] as? [[String: Any]] ?? []
            #expect(keys.count == 2 && keys.allSatisfy { $0["state"] as? String == "active" })
            #expect(keys.first { $0["id"] as? String == acmeID }?["models"] as? [String] == ["quick"])
            for key in [acme, globex] { #expect(!listed.text.contains(String(key.suffix(43)))) }
            let unknown = try await client.send(.delete, "/v1/admin/keys/nosuchid", headers: [.authorization: "Bearer \(Self.admin)"])
            #expect(unknown.status == .notFound)
            let badField = try await client.send(.post, "/v1/admin/keys", json: #"{"tenant": "acme", "models": ["gpt-9"]}"#,
                                                 headers: [.authorization: "Bearer \(Self.admin)"])
            #expect(badField.status == .badRequest && badField.apiError["field"] as? String == "models", "\(badField.text)")
        }
    }

    @Test("revoking a key revoked before is a 409 that says since when; the key stays as it was")
    func revokingTwice() async throws {
        try await withFleetd(APIConfig.builtin(), environment: ["FLEETD_ADMIN_TOKEN": Self.admin]) { client, _ in
            let (_, id) = try await Self.makeKey(client, #"{"tenant": "acme"}"#)
            let admin: HTTPFields = [.authorization: "Bearer \(Self.admin)"]
            let first = try await client.send(.delete, "/v1/admin/keys/\(id)", headers: admin)
            #expect(first.status == .ok, "\(first.text)")
            #expect(first.object["state"] as? String == "revoked")
            let revokedAt = first.object["revokedAt"] as? String ?? "missing"
            try await Task.sleep(for: .milliseconds(1_100))
            let second = try await client.send(.delete, "/v1/admin/keys/fk-\(id)", headers: admin)
            #expect(second.status == .conflict, "\(second.text)")
            #expect(second.apiError["code"] as? String == "KEY_ALREADY_REVOKED", "\(second.text)")
            let message = second.apiError["message"] as? String ?? ""
            #expect(message == "API key fk-\(id) (tenant acme) was already revoked at \(revokedAt); nothing changed", "\(message)")
            // The first revocation's time stands.
            let listed = try await client.send(.get, "/v1/admin/keys", headers: admin)
            let key = (listed.object["keys"] as? [[String: Any]] ?? []).first { $0["id"] as? String == id }
            #expect(key?["revokedAt"] as? String == revokedAt, "\(listed.text)")
        }
    }

    @Test("a model or agent type the key may not use is 403 on POST /v1/route as on POST /v1/tasks, with the same message")
    func routeRefusesAModelTheKeyMayNotUse() async throws {
        try await withFleetd(APIConfig.builtin(), environment: ["FLEETD_ADMIN_TOKEN": Self.admin]) { client, _ in
            let (key, _) = try await Self.makeKey(client, #"{"tenant": "acme", "models": ["quick"]}"#)
            let auth: HTTPFields = [.authorization: "Bearer \(key)"]
            let body = #"{"prompt": "hi", "preferredModel": "deep"}"#
            let task = try await client.send(.post, "/v1/tasks", json: body, headers: auth)
            let route = try await client.send(.post, "/v1/route", json: body, headers: auth)
            for response in [task, route] {
                #expect(response.status == .forbidden, "\(response.text)")
                #expect(response.apiError["code"] as? String == "MODEL_NOT_ALLOWED", "\(response.text)")
                #expect(response.apiError["field"] as? String == "preferredModel", "\(response.text)")
            }
            let taskMessage = task.apiError["message"] as? String
            let routeMessage = route.apiError["message"] as? String
            #expect(taskMessage != nil && routeMessage == taskMessage, "\(route.text) vs \(task.text)")
            // A model the key may use is explained as before.
            let allowed = try await client.send(.post, "/v1/route", json: #"{"prompt": "hi", "preferredModel": "quick"}"#, headers: auth)
            #expect(allowed.status == .ok && allowed.object["modelName"] as? String == "quick", "\(allowed.text)")

            // So is an agent type outside the key's list: 403 AGENT_TYPE_NOT_ALLOWED from both.
            let (general, _) = try await Self.makeKey(client, #"{"tenant": "acme", "agentTypes": ["general"]}"#)
            let coder = #"{"prompt": "hi", "agentType": "coder"}"#
            let byType = [
                try await client.send(.post, "/v1/tasks", json: coder, headers: [.authorization: "Bearer \(general)"]),
                try await client.send(.post, "/v1/route", json: coder, headers: [.authorization: "Bearer \(general)"]),
            ]
            for response in byType {
                #expect(response.status == .forbidden, "\(response.text)")
                #expect(response.apiError["code"] as? String == "AGENT_TYPE_NOT_ALLOWED", "\(response.text)")
            }
            let generalRoute = try await client.send(.post, "/v1/route", json: #"{"prompt": "hi", "agentType": "general"}"#,
                                                     headers: [.authorization: "Bearer \(general)"])
            #expect(generalRoute.status == .ok, "\(generalRoute.text)")
        }
    }

    @Test("loopback names, credential headers, key lifetimes")
    func pieces() {
        for host in ["127.0.0.1", "127.8.9.1", "localhost", "::1", "[::1]"] { #expect(Authenticator.isLoopback(host), "\(host)") }
        for host in ["0.0.0.0", "::", "10.0.0.5", "fleet.example.com", "127.0.0", "1127.0.0.1",
                     "0127.0.0.1", "127.0.0.256", "127.0.0.1.1", "127..0.1", "127.0.0.", ".127.0.0.1", "127.0.0.1a", "127.0.0.-1", ""] { #expect(!Authenticator.isLoopback(host), "\(host)") }
        #expect(Credential.presented(in: [.authorization: "Bearer abc"]) == "abc")
        #expect(Credential.presented(in: [.authorization: "bearer  abc "]) == "abc")
        #expect(Credential.presented(in: [Credential.apiKeyHeader: "xyz"]) == "xyz")
        #expect(Credential.presented(in: [.authorization: "Basic dXNlcg==", Credential.apiKeyHeader: "xyz"]) == "xyz")
        #expect(Credential.presented(in: [.authorization: "Bearer "]) == nil)
        #expect(KeySpec.duration("30d") == 30 * 86_400 && KeySpec.duration("12h") == 43_200 && KeySpec.duration("90") == 90)
        #expect(KeySpec.duration("soon") == nil)
    }
}
