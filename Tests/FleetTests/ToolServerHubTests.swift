import FakeProvider
import Foundation
import Logging
import Providers
import Streaming
import Testing
@testable import ToolServers

/// The tool servers across reloads: a server a reload changed is not stopped under the tasks that
/// began with it (their toolboxes still call it) until the fleet manager says they are done; a
/// server whose tools change while it runs is listed again.
@Suite struct ToolServerHubTests {
    static func spec(_ url: URL, config: String) -> ToolServerSpec {
        ToolServerSpec(name: "fake", transport: .http(url: url, headers: ["X-Config": config]))
    }

    @Test("a server whose settings a reload changed still answers the toolboxes handed out before, until its generation is closed")
    func replacedServerServesEarlierToolboxes() async throws {
        let fake = try await FakeProviderServer.start(script: ToolServerConnectionTests.mcpServer(version: "2025-06-18"))
        let url = try #require(URL(string: fake.baseURL + "/mcp"))
        let hub = ToolServerHub(logger: Logger(label: "tool-hub-test"))
        let before = try #require(await hub.update(["assistant": [Self.spec(url, config: "1")]], generation: 1)["assistant"])
        let after = try #require(await hub.update(["assistant": [Self.spec(url, config: "2")]], generation: 2)["assistant"])

        // A task that began before the reload calls the server it began with; later ones the new one.
        let early = try await before.invoke(name: "echo", arguments: .object([:]))
        #expect(early.content == [.text("ok")])
        let late = try await after.invoke(name: "echo", arguments: .object([:]))
        #expect(late.content == [.text("ok")])

        // Those tasks are done: the replaced server stops, the new one stays.
        await hub.closeRetired(through: 2)
        await #expect(throws: ToolInvocationError.self) {
            try await before.invoke(name: "echo", arguments: .object([:]))
        }
        let again = try await after.invoke(name: "echo", arguments: .object([:]))
        #expect(again.content == [.text("ok")])
        await hub.shutdown()
        await fake.shutdown()

        let calls = fake.requests.filter { $0.jsonBody?["method"] as? String == "tools/call" }.map { $0.header("X-Config") ?? "-" }
        #expect(calls == ["1", "2", "2"], "\(calls)")
    }

    @Test("a server that says its tools changed (notifications/tools/list_changed) is listed again: the hub's handler is told, its toolboxes offer the new tool under a provider-safe name")
    func changedToolListIsListedAgain() async throws {
        let fake = try await FakeProviderServer.start(script: Self.growingServer())
        let url = try #require(URL(string: fake.baseURL + "/mcp"))
        let hub = ToolServerHub(logger: Logger(label: "tool-hub-test"))
        let told = FakeGate()
        await hub.onToolsChanged { told.open() }
        let before = try #require(await hub.update(["assistant": [Self.spec(url, config: "1")]], generation: 3)["assistant"])
        #expect(before.definitions.map(\.name) == ["echo"])

        // The call's answer (an SSE stream) carries the notification before the result.
        _ = try await before.invoke(name: "echo", arguments: .object([:]))
        #expect(await waitUntil { told.isOpen }, "the hub's handler was not told")
        let (generation, boxes) = await hub.currentToolboxes()
        #expect(generation == 3)
        #expect(boxes["assistant"]?.definitions.map(\.name) == ["echo", "echo_twice"])
        #expect(before.definitions.map(\.name) == ["echo"], "a toolbox handed out keeps the tools it had")
        await hub.shutdown()
        await fake.shutdown()
    }

    /// ``ToolServerConnectionTests/mcpServer(version:holdingCallsAt:)``, except that a call's
    /// answer first says the tool list changed, and from then on it lists a second tool, `echo.twice`.
    static func growingServer() -> FakeScript {
        let plain = ToolServerConnectionTests.mcpServer(version: "2025-06-18")
        let called = FakeGate()
        return FakeScript { request, index in
            let method = request.jsonBody?["method"] as? String
            guard request.method == "POST", let id = request.jsonBody?["id"] as? String,
                  method == "tools/call" || (method == "tools/list" && called.isOpen) else { return plain.respond(request, index) }
            if method == "tools/call" {
                called.open()
                return FakeResponse.sse([#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#,
                                         #"{"jsonrpc":"2.0","id":"\#(id)","result":{"content":[{"type":"text","text":"ok"}]}}"#])
            }
            let tools = #"[{"name":"echo","inputSchema":{"type":"object","properties":{}}},{"name":"echo.twice","inputSchema":{"type":"object","properties":{}}}]"#
            let answer = #"{"jsonrpc":"2.0","id":"\#(id)","result":{"tools":\#(tools)}}"#
            return FakeResponse(headers: [("content-type", "application/json")], body: .bytes(Array(answer.utf8)))
        }
    }
}
