import FleetSupport
import Foundation
import Streaming
import ToolServers

/// An agent type's tool settings from `agents[].config`: `mcpServers` (each a `command` with
/// `args` and `env`, or a `url` with `headers`), `maxToolRounds`, `toolTimeoutMs` and
/// `maxToolResultBytes`.
public struct AgentToolConfig: Sendable, Hashable {
    public var servers: [ToolServerSpec]
    public var limits: ToolLimits

    /// One problem, at `agents[i].config.<path>`.
    public struct Problem: Sendable, Hashable {
        public var path: String
        public var message: String
    }

    /// The settings, `nil` when the type names no servers; problems found on the way (when any,
    /// the settings are not to be used).
    /// - Parameter environment: resolves `${VAR}` in `env` and `headers` values.
    public static func parse(_ config: [String: ConfigValue], environment: [String: String] = [:]) -> (AgentToolConfig?, [Problem]) {
        var problems: [Problem] = []
        var limits = ToolLimits()
        if let value = config["maxToolRounds"] {
            if case .int(let rounds) = value, (1...50).contains(rounds) { limits.maxRounds = rounds }
            else { problems.append(Problem(path: "maxToolRounds", message: "expected a whole number from 1 to 50")) }
        }
        if let value = config["toolTimeoutMs"] {
            if case .int(let ms) = value, (100...3_600_000).contains(ms) { limits.timeout = .milliseconds(ms) }
            else { problems.append(Problem(path: "toolTimeoutMs", message: "expected milliseconds from 100 to 3600000")) }
        }
        if let value = config["maxToolResultBytes"] {
            if case .int(let bytes) = value, (256...16_777_216).contains(bytes) { limits.maxResultBytes = bytes }
            else { problems.append(Problem(path: "maxToolResultBytes", message: "expected bytes from 256 to 16777216")) }
        }
        guard let value = config["mcpServers"] else { return (nil, problems) }
        guard case .list(let entries) = value else {
            problems.append(Problem(path: "mcpServers", message: "expected a list of servers, each with name and command or url"))
            return (nil, problems)
        }
        var servers: [ToolServerSpec] = []
        var names: Set<String> = []
        for (index, entry) in entries.enumerated() {
            let path = "mcpServers[\(index)]"
            guard case .map(let fields) = entry else {
                problems.append(Problem(path: path, message: "expected a map with name and command or url"))
                continue
            }
            let known: Set<String> = ["name", "command", "args", "env", "cwd", "url", "headers"]
            for key in fields.keys.sorted() where !known.contains(key) {
                problems.append(Problem(path: "\(path).\(key)", message: "unknown setting; expected \(known.sorted().joined(separator: ", "))"))
            }
            guard let name = fields["name"]?.stringValue, !name.isEmpty,
                  name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                problems.append(Problem(path: "\(path).name", message: "expected a name of letters, digits, - and _"))
                continue
            }
            guard names.insert(name).inserted else {
                problems.append(Problem(path: "\(path).name", message: "'\(name)' names two servers of this agent type"))
                continue
            }
            switch (fields["command"], fields["url"]) {
            case (let command?, nil):
                guard let command = command.stringValue, !command.isEmpty else {
                    problems.append(Problem(path: "\(path).command", message: "expected the command to start"))
                    continue
                }
                var args: [String] = []
                if let value = fields["args"] {
                    guard case .list(let items) = value, let strings = Optional(items.compactMap(\.scalarText)), strings.count == items.count else {
                        problems.append(Problem(path: "\(path).args", message: "expected a list of strings"))
                        continue
                    }
                    args = strings
                }
                guard let env = stringMap(fields["env"], path: "\(path).env", environment: environment, problems: &problems) else { continue }
                // `${VAR}` in the arguments too (a token passed as `--token ${TOKEN}`); logs show them unfilled.
                servers.append(ToolServerSpec(name: name, transport: .stdio(command: command, args: args.map { expand($0, environment: environment) },
                                                                            environment: env, directory: fields["cwd"]?.stringValue),
                                              summary: ([command] + args).joined(separator: " ")))
            case (nil, let url?):
                // `${VAR}` in the URL too (a hosted server's key in its query); logs show it without the query.
                guard let written = url.stringValue, case let text = expand(written, environment: environment), let parsed = URL(string: text),
                      ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host != nil else {
                    problems.append(Problem(path: "\(path).url", message: "expected an http:// or https:// URL"))
                    continue
                }
                guard let headers = stringMap(fields["headers"], path: "\(path).headers", environment: environment, problems: &problems) else { continue }
                servers.append(ToolServerSpec(name: name, transport: .http(url: parsed, headers: headers), summary: URLRedaction.redacted(written)))
            case (nil, nil):
                problems.append(Problem(path: path, message: "give command (a stdio server) or url (a Streamable HTTP server)"))
            case (_?, _?):
                problems.append(Problem(path: path, message: "give command or url, not both"))
            }
        }
        return (AgentToolConfig(servers: servers, limits: limits), problems)
    }

    /// A map of strings (`env`, `headers`); `${VAR}` in a value is replaced by fleetd's
    /// environment variable (empty when unset), so secrets stay out of the file.
    private static func stringMap(_ value: ConfigValue?, path: String, environment: [String: String],
                                  problems: inout [Problem]) -> [String: String]? {
        guard let value else { return [:] }
        guard case .map(let fields) = value else {
            problems.append(Problem(path: path, message: "expected a map of names to strings"))
            return nil
        }
        var out: [String: String] = [:]
        for (key, item) in fields {
            guard let text = item.scalarText else {
                problems.append(Problem(path: "\(path).\(key)", message: "expected a string"))
                return nil
            }
            out[key] = expand(text, environment: environment)
        }
        return out
    }

    /// `${NAME}` replaced by `environment[NAME]` (empty when unset), as a shell does:
    /// `${NAME:-default}` gives `default` when NAME is unset or empty, `${NAME-default}` when it
    /// is unset.
    static func expand(_ text: String, environment: [String: String]) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                out += rest[open.lowerBound...]
                return out
            }
            let inner = rest[open.upperBound..<close]
            if let dash = inner.firstIndex(of: "-") {
                let colon = dash > inner.startIndex && inner[inner.index(before: dash)] == ":"
                let name = String(inner[..<(colon ? inner.index(before: dash) : dash)])
                let fallback = String(inner[inner.index(after: dash)...])
                let value = environment[name]
                out += (colon ? value.flatMap { $0.isEmpty ? nil : $0 } : value) ?? fallback
            } else {
                out += environment[String(inner)] ?? ""
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}

extension ConfigValue {
    /// A scalar as text (numbers and booleans as written), `nil` for lists, maps and null.
    var scalarText: String? {
        switch self {
        case .string(let value): value
        case .int(let value): String(value)
        case .double(let value): String(value)
        case .bool(let value): String(value)
        case .null, .list, .map: nil
        }
    }
}
