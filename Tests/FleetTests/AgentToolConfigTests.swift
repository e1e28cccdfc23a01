import Fleet
import Foundation
import Testing
import ToolServers

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
