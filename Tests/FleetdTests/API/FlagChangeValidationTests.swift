import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import fleetd

@Suite("PUT /v1/flags/{name} refuses what it cannot apply as meant", .timeLimit(.minutes(1)))
struct FlagChangeValidationTests {
    @Test("an empty stickiness or environment, an unknown agent type or key, a fractional percentage, a body that is not an object: 400 saying what")
    func refusals() async throws {
        try await withFleetd(APIConfig.builtin(), environment: ["FLEETD_ADMIN_TOKEN": "tok"]) { client, _ in
            let auth: HTTPFields = [.authorization: "Bearer tok"]
            let cases: [(body: String, field: String?, says: String)] = [
                (#"{"enabled": true, "rollout": {"percentage": 50, "stickiness": ""}}"#, "rollout.stickiness", "must not be empty"),
                (#"{"enabled": true, "agentType": "revewer"}"#, "agentType", "names no configured agent type"),
                (#"{"enabled": true, "environment": ""}"#, "environment", "must name an environment"),
                (#"{"enabled": true, "rollout": {"percentage": 50.5}}"#, "rollout.percentage", "whole number"),
                (#"[true]"#, nil, "must be a JSON object"),
                (#"{"enabled": true, "enabeld": false, "scope": "x"}"#, "enabeld", "unknown keys 'enabeld', 'scope'"),
                (#"{"enabled": true, "rollout": {"percentage": 5, "stickyness": "userId"}}"#, "rollout.stickyness", "unknown key 'stickyness'"),
            ]
            for test in cases {
                let answer = try await client.send(.put, "/v1/flags/streaming", json: test.body, headers: auth)
                #expect(answer.status == .badRequest, "\(test.body): \(answer.text)")
                let error = answer.object["error"] as? [String: Any]
                #expect(error?["field"] as? String == test.field, "\(test.body): \(answer.text)")
                #expect((error?["message"] as? String)?.contains(test.says) == true, "\(test.body): \(answer.text)")
            }
            #expect((try await client.send(.get, "/v1/flags/history").object["changes"] as? [Any])?.isEmpty == true, "nothing was changed")
            let accepted = try await client.send(.put, "/v1/flags/streaming",
                                                 json: #"{"enabled": true, "rollout": {"percentage": 50}, "agentType": "coder"}"#, headers: auth)
            #expect(accepted.status == .ok, "\(accepted.text)")
        }
    }
}
