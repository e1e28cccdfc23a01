import Foundation
import Yams

/// A config that loaded: the values, and the warnings worth showing the operator.
public struct LoadedConfig: Sendable {
    public var config: FleetConfig
    public var warnings: [ConfigDiagnostic]
    /// The file it came from (`nil` for text given directly).
    public var path: String?
    /// The environment variables that override a value the file sets otherwise (names only):
    /// fleetd logs them at every load, so an edit the environment hides is not a silent no-op.
    public var environmentOverrides: [EnvironmentOverride] = []
}

/// Loads, decodes, overrides from the environment and validates a v1.0.5 (or v1.0.4) config.
public enum ConfigLoader {
    /// Files larger than this are refused before parsing.
    public static let maximumFileBytes = 8 * 1_024 * 1_024

    /// Loads a config file. Throws ``ConfigError`` with every problem found.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> LoadedConfig {
        let url = URL(fileURLWithPath: path)
        let data: Data
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
            if let size = attributes[.size] as? Int, size > maximumFileBytes {
                throw ConfigError(diagnostics: [ConfigDiagnostic(file: path, line: 0, column: 0, path: "",
                    message: "the file is \(size) bytes; config files are limited to \(maximumFileBytes) bytes")])
            }
            data = try Data(contentsOf: url)
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(diagnostics: [ConfigDiagnostic(file: path, line: 0, column: 0, path: "",
                message: "cannot read the config file: \(Self.reason(error))")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(diagnostics: [ConfigDiagnostic(file: path, line: 0, column: 0, path: "",
                message: "the file is not UTF-8 text")])
        }
        var loaded = try load(text: text, file: path, environment: environment)
        loaded.path = path
        return loaded
    }

    /// Loads config text; `file` names it in diagnostics.
    public static func load(text: String, file: String = "<input>", environment: [String: String] = [:]) throws -> LoadedConfig {
        let sink = DiagnosticSink(file: file)
        let root = try parse(text: text, file: file)
        var config = FleetConfig.decode(root, sink: sink)
        let fromFile = config
        EnvironmentOverrides.apply(environment, to: &config, sink: sink)
        FleetConfig.validate(config, root: root, sink: sink)
        let diagnostics = sink.sorted
        if sink.hasErrors {
            throw ConfigError(diagnostics: diagnostics)
        }
        return LoadedConfig(config: config, warnings: diagnostics, path: nil,
                            environmentOverrides: EnvironmentOverrides.overridden(fromFile, by: config, root: root, environment: environment))
    }

    /// Parses YAML (or JSON, which is YAML) into a node tree, turning libyaml's errors into
    /// positioned diagnostics.
    static func parse(text: String, file: String) throws -> Node {
        do {
            guard let root = try Yams.compose(yaml: text) else {
                throw ConfigError(diagnostics: [ConfigDiagnostic(file: file, line: 1, column: 1, path: "",
                    message: "the config is empty; see config/fleet.yaml for a complete example")])
            }
            return resolvingMergeKeys(root)
        } catch let error as YamlError {
            throw ConfigError(diagnostics: [diagnostic(for: error, file: file)])
        }
    }

    /// The tree with YAML merge keys applied (`<<: *defaults`, or a list of them): a mapping gets
    /// the merged mappings' pairs it does not set itself, the first merged source first. Yams
    /// resolves aliases when it composes the tree, but leaves `<<` as a key (its own flattening is
    /// internal to it), so `- <<: *modelDefaults` was "unknown key '<<'" in a typed section and,
    /// in an agent's free-form `config`, a key named `<<` with the defaults silently lost.
    static func resolvingMergeKeys(_ node: Node) -> Node {
        switch node {
        case .mapping(let mapping):
            var own: [(Node, Node)] = []
            var merged: [(Node, Node)] = []
            for (key, value) in mapping {
                guard key.scalar?.string == "<<" else {
                    own.append((key, resolvingMergeKeys(value)))
                    continue
                }
                let sources: [Node] = if case .sequence(let list) = value { Array(list) } else { [value] }
                for case .mapping(let source) in sources.map(resolvingMergeKeys) {
                    merged += source.map { ($0.key, $0.value) }
                }
            }
            var seen = Set(own.compactMap { $0.0.scalar?.string })
            var pairs = own
            for (key, value) in merged where seen.insert(key.scalar?.string ?? "").inserted {
                pairs.append((key, value))
            }
            return .mapping(Node.Mapping(pairs, mapping.tag, mapping.style, mapping.mark))
        case .sequence(let sequence):
            return .sequence(Node.Sequence(sequence.map(resolvingMergeKeys), sequence.tag, sequence.style, sequence.mark))
        default:
            return node
        }
    }

    static func isMalformed(_ error: ConfigError) -> Bool {
        error.diagnostics.contains { $0.message.hasPrefix("malformed YAML") }
    }

    static func diagnostic(for error: YamlError, file: String) -> ConfigDiagnostic {
        func make(_ problem: String, _ context: YamlError.Context?, _ mark: Mark) -> ConfigDiagnostic {
            var message = "malformed YAML: \(problem)"
            if let context { message += " (\(context.text) at \(context.mark.line):\(context.mark.column))" }
            return ConfigDiagnostic(file: file, line: mark.line, column: mark.column, path: "", message: message)
        }
        switch error {
        case .scanner(let context, let problem, let mark, _): return make(problem, context, mark)
        case .parser(let context, let problem, let mark, _): return make(problem, context, mark)
        case .composer(let context, let problem, let mark, _): return make(problem, context, mark)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let names = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
            return ConfigDiagnostic(file: file, line: context.mark.line, column: context.mark.column, path: "",
                                    message: "duplicate key \(names) in the mapping that starts here")
        case .reader(let problem, let offset, _, let yaml):
            let (line, column) = position(ofOffset: offset ?? 0, in: yaml)
            return ConfigDiagnostic(file: file, line: line, column: column, path: "", message: "unreadable input: \(problem)")
        default:
            return ConfigDiagnostic(file: file, line: 1, column: 1, path: "", message: "malformed YAML: \(error)")
        }
    }

    private static func position(ofOffset offset: Int, in text: String) -> (Int, Int) {
        var line = 1, column = 1
        for (index, scalar) in text.unicodeScalars.enumerated() {
            if index >= offset { break }
            if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        return (line, column)
    }

    private static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoSuchFileError || nsError.code == 260 {
            return "no such file"
        }
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain,
           let code = POSIXErrorCode(rawValue: Int32(underlying.code)) {
            return String(cString: strerror(code.rawValue))
        }
        return nsError.localizedDescription
    }
}
