import Agents
import FleetSupport
import Providers
import Routing
import Testing
@testable import fleetd

/// `TaskRequest(json:)` reads every member of a task body by hand; these check each one lands
/// where `POST /v1/tasks` needs it (the API tests check the errors through HTTP).
@Suite struct TaskRequestReadingTests {
    @Test("every member of a task body is read, a whole number written 64.0 included")
    func everyMemberIsRead() throws {
        let body = #"""
        {"id": "t-1", "prompt": "Sort a list", "context": "in Swift", "type": "code", "agentType": "coder",
         "preferredProvider": "anthropic", "preferredModel": "claude-fast", "privacy": "local-only",
         "constraints": {"maxCost": 0.25, "minQuality": 0.5, "maxLatencyMs": 900},
         "tenantId": "acme", "userId": "u-7", "sessionId": "s-9", "properties": {"region": "eu"},
         "maxTokens": 64.0, "stream": true, "unknownMember": [1, 2],
         "subtasks": [{"prompt": "first"}, {"prompt": "second", "id": "mine", "maxTokens": null}]}
        """#
        let task = try TaskRequest(json: JSONValue.parse(text: body)).task()
        #expect(task.id == "t-1" && task.prompt == "Sort a list" && task.context == "in Swift")
        #expect(task.type == .code && task.agentType == "coder" && task.preferredProvider == .anthropic)
        #expect(task.preferredModel == "claude-fast" && task.privacy == .localOnly)
        #expect(task.constraints == RoutingConstraints(maxCost: 0.25, minQuality: 0.5, maxLatencyMs: 900))
        #expect(task.tenantId == "acme" && task.userId == "u-7" && task.sessionId == "s-9")
        #expect(task.properties == ["region": "eu"])
        #expect(task.maxTokens == 64 && task.stream)
        #expect(task.subtasks?.map(\.id) == ["t-1.1", "mine"])
        #expect(task.subtasks?.map(\.prompt) == ["first", "second"])
        #expect(task.subtasks?[1].maxTokens == nil)
    }

    @Test("null members are absent, and the defaults apply")
    func nullsAreAbsent() throws {
        let body = #"{"prompt": "hi", "id": null, "type": null, "constraints": null, "privacy": null, "stream": null, "properties": null}"#
        let task = try TaskRequest(json: JSONValue.parse(text: body)).task()
        #expect(task.type == nil && task.privacy == .standard && !task.stream && task.properties.isEmpty)
        #expect(task.constraints == RoutingConstraints())
        #expect(!task.id.isEmpty)
    }

    @Test("a value out of a fixed set names the set")
    func choicesAreListed() throws {
        let error = #expect(throws: APIError.self) {
            try TaskRequest(json: JSONValue.parse(text: #"{"prompt": "hi", "preferredProvider": "acme"}"#))
        }
        #expect(error?.code == "INVALID_VALUE" && error?.field == "preferredProvider")
        #expect(error?.message.contains("anthropic") == true && error?.message.contains("'acme'") == true, "\(String(describing: error))")
    }
}
