import FakeProvider
import Foundation
import Logging
import Providers
import Streaming
import Testing
@testable import ToolServers

/// The tool servers across reloads: a server a reload changed is not stopped under the tasks that
/// began with it (their toolboxes still call it) until the fleet manager says they are done.
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
}
