import Fleet
import Foundation
import Testing
@testable import ToolServers
import Providers

@Suite struct AgentToolConfigTests {
    @Test("servers, limits and ${VAR} in env and headers")
    func parses() throws {
        let config: [String: ConfigValue] = [
            "maxToolRounds": .int(3), "toolTimeoutMs": .int(1_500), "maxToolResultBytes": .int(4_096),
            "mcpServers": .list([
                .map(["name": .string("files"), "command": .string("npx"), "args": .list([.string("-y"), .string("server")]),
                      "env": .map(["TOKEN": .string("${FILES_TOKEN}"), "LEVEL": .int(2)])]),
                .map(["name": .string("search"), "url": .string("http://127.0.0.1:8931/mcp"),
                      "headers": .map(["Authorization": .string("Bearer ${SEARCH_TOKEN}")])]),
            ]),
        ]
        let (parsed, problems) = AgentToolConfig.parse(config, environment: ["FILES_TOKEN": "f-1", "SEARCH_TOKEN": "s-2"])
        #expect(problems.isEmpty, "\(problems)")
        let settings = try #require(parsed)
        #expect(settings.limits.maxRounds == 3 && settings.limits.timeout == .milliseconds(1_500) && settings.limits.maxResultBytes == 4_096)
        #expect(settings.servers == [
            ToolServerSpec(name: "files", transport: .stdio(command: "npx", args: ["-y", "server"], environment: ["TOKEN": "f-1", "LEVEL": "2"], directory: nil)),
            ToolServerSpec(name: "search", transport: .http(url: URL(string: "http://127.0.0.1:8931/mcp")!, headers: ["Authorization": "Bearer s-2"])),
        ])
    }

    /// `${VAR}` fills in arguments and URLs too (a token passed as `--token`, a hosted server's
    /// key in its query), and what logs show keeps them out.
    @Test func variablesInArgumentsAndURLsAreFilledAndNotShown() throws {
        let config: [String: ConfigValue] = ["mcpServers": .list([
            .map(["name": .string("gh"), "command": .string("server"), "args": .list([.string("--token"), .string("${GH_TOKEN}")])]),
            .map(["name": .string("hosted"), "url": .string("https://user:pw@mcp.example.com/mcp?api_key=${HOSTED_KEY}")]),
        ])]
        let (parsed, problems) = AgentToolConfig.parse(config, environment: ["GH_TOKEN": "ghp-secret", "HOSTED_KEY": "hk-secret"])
        #expect(problems.isEmpty, "\(problems)")
        let servers = try #require(parsed).servers
        #expect(servers[0].transport == .stdio(command: "server", args: ["--token", "ghp-secret"], environment: [:], directory: nil))
        #expect(servers[0].summary == "server --token ${GH_TOKEN}")
        guard case .http(let url, _) = servers[1].transport else { Issue.record("not http"); return }
        #expect(url.absoluteString == "https://user:pw@mcp.example.com/mcp?api_key=hk-secret")
        #expect(servers[1].summary == "https://mcp.example.com/mcp?…")
    }

    @Test("${VAR:-default} and ${VAR-default} as a shell reads them")
    func defaults() throws {
        let config: [String: ConfigValue] = ["mcpServers": .list([
            .map(["name": .string("files"), "command": .string("npx"),
                  "env": .map(["A": .string("${UNSET:-dev}"), "B": .string("${EMPTY:-x}"), "C": .string("${EMPTY-y}"),
                               "D": .string("pre-${SET:-no}-post"), "E": .string("${UNSET-z}"), "F": .string("${UNSET}")])]),
        ])]
        let (parsed, problems) = AgentToolConfig.parse(config, environment: ["EMPTY": "", "SET": "yes"])
        #expect(problems.isEmpty, "\(problems)")
        guard case .stdio(_, _, let environment, _)? = parsed?.servers.first?.transport else { Issue.record("\(String(describing: parsed))"); return }
        #expect(environment == ["A": "dev", "B": "x", "C": "", "D": "pre-yes-post", "E": "z", "F": ""])
    }

    @Test("bad settings are named with their place in the file")
    func validation() {
        let out = rendered("""
        agents:
          - type: researcher
            config:
              maxToolRounds: 0
              mcpServers:
                - {name: a, command: x, url: "http://h/mcp"}
                - {name: a, command: y}
                - {name: b}
                - {name: c, url: "ftp://h"}
                - {name: d, command: z, args: "one"}
                - {name: e, command: z, port: 3}
        """)
        #expect(out.contains { $0.contains("agents[0].config.maxToolRounds: expected a whole number from 1 to 50") }, "\(out)")
        #expect(out.contains { $0.contains("agents[0].config.mcpServers[0]: give command or url, not both") }, "\(out)")
        #expect(out.contains { $0.contains("agents[0].config.mcpServers[1].name: 'a' names two servers of this agent type") }, "\(out)")
        #expect(out.contains { $0.contains("agents[0].config.mcpServers[2]: give command (a stdio server) or url (a Streamable HTTP server)") }, "\(out)")
        #expect(out.contains { $0.contains("agents[0].config.mcpServers[3].url: expected an http:// or https:// URL") }, "\(out)")
        #expect(out.contains { $0.contains("agents[0].config.mcpServers[4].args: expected a list of strings") }, "\(out)")
        #expect(out.contains { $0.contains("agents[0].config.mcpServers[5].port: unknown setting") }, "\(out)")
    }
}

/// What an MCP server declares, made acceptable to every provider (before, one such tool made
/// every call offering the type's tools fail with a 400 on OpenAI).
@Suite struct ProviderSafeToolTests {
    @Test func namesProvidersRefuseAreMadeSafe() {
        #expect(MCPToolbox.providerSafeName("get_weather") == "get_weather")
        #expect(MCPToolbox.providerSafeName("files.read/text") == "files_read_text")
        let long = String(repeating: "a", count: 70)
        let safe = MCPToolbox.providerSafeName(long)
        #expect(safe.count == 64 && safe.hasPrefix(String(repeating: "a", count: 55)))
        #expect(safe != MCPToolbox.providerSafeName(long + "b"), "two long names stay apart")
    }

    @Test func arraysGetItemsAndTheTopIsAnObject() {
        let schema: JSONValue = .object(["type": .string("object"), "properties": .object([
            "tags": .object(["type": .string("array")]),
            "rows": .object(["type": .string("array"), "items": .object(["type": .string("array")])]),
            "either": .object(["type": .array([.string("array"), .string("null")])]),
            "type": .object(["type": .string("string")]),
        ])])
        guard case .object(let top) = MCPToolbox.providerSafeSchema(schema), case .object(let properties)? = top["properties"] else {
            Issue.record("not an object"); return
        }
        #expect(properties["tags"] == .object(["type": .string("array"), "items": .object([:])]))
        #expect(properties["rows"] == .object(["type": .string("array"), "items": .object(["type": .string("array"), "items": .object([:])])]))
        guard case .object(let either)? = properties["either"] else { Issue.record("either"); return }
        #expect(either["items"] == .object([:]))
        #expect(properties["type"] == .object(["type": .string("string")]))
        #expect(MCPToolbox.providerSafeSchema(.object([:])) == .object(["type": .string("object"), "properties": .object([:])]))
    }
}
