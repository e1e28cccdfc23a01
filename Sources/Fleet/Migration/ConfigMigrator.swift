import FleetSupport
import Foundation
import Yams

/// Migrates a v1.0.4 config to v1.0.5 (README.md, "Migrating from v1.0.4").
///
/// Every existing key is kept as it was. `features` is added with every flag off; `routing` is
/// built from `ai.model` when there is one (that model as the only and default model, weights
/// 0.4/0.3/0.3, cost tracking off, routing off); `streaming` gets its defaults with a retry
/// policy. With the flags off the result behaves exactly as v1.0.4: one model, synchronous calls.
///
/// Block-style YAML is migrated by appending the new sections to the original text, so comments,
/// key order and formatting survive byte for byte. JSON (or flow-style YAML) input is rewritten
/// as YAML, since JSON cannot hold the appended sections' comments. A trailing document end
/// marker (`...`) stays last, after the new sections; CRLF input gives CRLF output throughout.
///
/// The model's prices and limits come from ``ModelPriceList`` (free for an Ollama model); for an id
/// the list does not know, Claude Sonnet's prices are written with a `# TODO: check prices` comment
/// and a warning naming the model.
public enum ConfigMigrator {
    /// What a migration did.
    public enum Outcome: Sendable, Equatable {
        /// The input was v1.0.4; `text` is the v1.0.5 config, `added` names the new sections and
        /// `warnings` what the operator should check (a model with no known prices).
        case migrated(text: String, added: [String], warnings: [String])
        /// The input already is v1.0.5: nothing to do.
        case alreadyCurrent
    }

    /// Why an input cannot be migrated.
    public struct MigrationError: Error, Sendable, CustomStringConvertible {
        public static let code = "MIGRATE_001"
        public var message: String
        public var description: String { message }
        public var shortDescription: String { "migration_refused" }
    }

    /// Keys a v1.0.4 config may hold at its top level.
    static let v104Keys: Set<String> = ["fleet", "agents", "database", "logging", "api", "security", "ai"]
    /// Keys that only v1.0.5 has.
    static let v105Keys: Set<String> = ["features", "featureOverrides", "routing", "streaming", "memory"]

    public static func migrate(text original: String, file: String = "<input>") throws -> Outcome {
        // Worked on with LF line ends; a CRLF file gets CRLF back throughout.
        let usesCRLF = original.contains("\r\n")
        let text = usesCRLF ? original.replacingOccurrences(of: "\r\n", with: "\n") : original
        let root: Node
        do {
            root = try ConfigLoader.parse(text: text, file: file)
        } catch let error as ConfigError {
            throw MigrationError(message: "\(file) is not a config fleetd can read:\n\(error)")
        }
        guard case .mapping(let mapping) = root else {
            throw MigrationError(message: "\(file): expected a v1.0.4 config (a mapping with fleet, agents, database, logging, api, security), got \(root.yamlDescription)")
        }
        let keys = mapping.keys.compactMap { $0.scalar?.string }
        if keys.contains(where: v105Keys.contains) {
            return .alreadyCurrent
        }
        let unknown = keys.filter { !v104Keys.contains($0) }
        guard unknown.isEmpty, keys.contains("fleet") || keys.contains("agents") else {
            let detail = unknown.isEmpty ? "it has none of the v1.0.4 sections" : "unexpected top-level keys: \(unknown.joined(separator: ", "))"
            throw MigrationError(message: "\(file) does not look like a v1.0.4 fleet config (\(detail)); nothing was written")
        }

        let aiModel = root["ai"]?["model"]?.string
        var warnings: [String] = []
        if let aiModel, !LegacyAIModel.capabilities(id: aiModel).listed {
            warnings.append("TODO: check prices: fleetd has no list prices for ai.model '\(aiModel)'; routing.models[0] "
                + "got Claude Sonnet's ($0.003 input / $0.015 output per 1k tokens, 200000-token window): set its own")
        }
        var sections: [(String, Node)] = [("features", featuresNode())]
        if let aiModel { sections.append(("routing", routingNode(model: aiModel))) }
        sections.append(("streaming", streamingNode()))

        let output: String
        if isBlockStyle(text) {
            output = try appendSections(sections, to: text, aiModel: aiModel, warnings: warnings)
        } else {
            var pairs = Array(mapping.map { (blockStyled($0.key), blockStyled($0.value)) })
            pairs.append(contentsOf: sections.map { (Node($0.0), $0.1) })
            output = "# Migrated from v1.0.4 to v1.0.5 by fleetd migrate-config.\n"
                + warnings.map { "# \($0)\n" }.joined()
                + (try Yams.serialize(node: Node(pairs), sortKeys: false))
        }
        try verify(output, keepsEverythingIn: mapping, file: file)
        let written = usesCRLF ? output.replacingOccurrences(of: "\n", with: "\r\n") : output
        return .migrated(text: written, added: sections.map(\.0), warnings: warnings)
    }

    private static func appendSections(_ sections: [(String, Node)], to text: String, aiModel: String?,
                                       warnings: [String]) throws -> String {
        // New keys after a document end marker (`...`) would start a second, malformed document:
        // they go before it, and the marker (with any comments after it) stays last.
        let (body, documentEnd) = splitDocumentEnd(text)
        var result = body
        if !result.isEmpty, !result.hasSuffix("\n") { result += "\n" }
        result += "\n# --- Added by fleetd migrate-config (v1.0.4 -> v1.0.5). Every flag is off, so fleetd\n"
        result += "# --- behaves exactly as v1.0.4 did: one default model, synchronous calls.\n"
        if let aiModel {
            result += "# --- routing holds ai.model (\(aiModel)) as the only and default model.\n"
        }
        for warning in warnings { result += "# \(warning)\n" }
        for (key, node) in sections {
            result += try Yams.serialize(node: Node([(Node(key), node)]), sortKeys: false)
        }
        return result + documentEnd
    }

    /// The text before a trailing document end marker (`...` at the start of the last line that is
    /// not blank or a comment), and the marker with what follows it; `(text, "")` when there is none.
    static func splitDocumentEnd(_ text: String) -> (body: String, documentEnd: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var index = lines.count - 1
        while index >= 0 {
            let line = lines[index]
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") {
                index -= 1
                continue
            }
            let rest = line.dropFirst(3)
            guard line.hasPrefix("..."), rest.isEmpty || rest.first == " " || rest.first == "\t" else { break }
            let body = index == 0 ? "" : lines[..<index].joined(separator: "\n") + "\n"
            return (body, lines[index...].joined(separator: "\n"))
        }
        return (text, "")
    }

    /// The migrated text must parse, keep every original key with its value, and validate.
    private static func verify(_ output: String, keepsEverythingIn original: Node.Mapping, file: String) throws {
        guard case .mapping(let migrated) = try ConfigLoader.parse(text: output, file: file) else {
            throw MigrationError(message: "internal error: the migrated config is not a mapping; nothing was written")
        }
        for (key, value) in original where migrated[key] != value {
            throw MigrationError(message: "internal error: the migration changed '\(key.string ?? "?")'; nothing was written")
        }
        do {
            _ = try ConfigLoader.load(text: output, file: file)
        } catch let error as ConfigError where ConfigLoader.isMalformed(error) {
            throw MigrationError(message: "internal error: the migrated config does not parse (\(error)); nothing was written")
        } catch let error as ConfigError {
            throw MigrationError(message: "the input has problems that v1.0.5 rejects; fix them and migrate again (nothing was written):\n\(error)")
        }
    }

    /// Whether the document's top level is a block mapping (so sections can be appended), judged
    /// by its first significant character: Yams does not report a composed node's flow style.
    private static func isBlockStyle(_ text: String) -> Bool {
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.drop { $0 == " " || $0 == "\t" || $0 == "\u{FEFF}" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix("%") { continue }
            // A document start marker may carry the top-level node on its line (`--- {fleet: …}`).
            let content = trimmed.hasPrefix("---") ? trimmed.dropFirst(3).drop(while: { $0 == " " || $0 == "\t" }) : trimmed
            if content.isEmpty || content.hasPrefix("#") { continue }
            return !(content.hasPrefix("{") || content.hasPrefix("["))
        }
        return false
    }

    /// The same values with every mapping and list in block style (JSON input is all flow style).
    private static func blockStyled(_ node: Node) -> Node {
        switch node {
        case .mapping(let mapping):
            return Node(mapping.map { (blockStyled($0.key), blockStyled($0.value)) }, mapping.tag, .block)
        case .sequence(let sequence):
            return Node(sequence.map(blockStyled), sequence.tag, .block)
        case .scalar(let scalar):
            // JSON quotes every string; drop the quotes where the value keeps its type without them.
            let plain = Node(scalar.string)
            return plain.tagName == node.tagName ? plain : node
        case .alias:
            return node
        }
    }

    private static func featuresNode() -> Node {
        Node([(Node("multiModelRouter"), Node("false")), (Node("streaming"), Node("false"))])
    }

    private static func routingNode(model: String) -> Node {
        // The model fleetd runs for an unmigrated file (``LegacyAIModel``), written out.
        let known = LegacyAIModel.capabilities(id: model).capabilities
        let prices = known.costPer1kTokens
        var pricing = [(Node("input"), Node(decimal(prices.input))), (Node("output"), Node(decimal(prices.output)))]
        if let cached = prices.cached { pricing.append((Node("cached"), Node(decimal(cached)))) }
        var limits = [(Node("maxTokens"), Node(String(known.maxTokens)))]
        if let maxOutput = known.maxOutputTokens { limits.append((Node("maxOutputTokens"), Node(String(maxOutput)))) }
        let capabilities = Node(limits + [
            (Node("supportsStreaming"), Node("true")),
            (Node("costPer1kTokens"), Node(pricing)),
        ])
        let modelNode = Node([
            (Node("name"), Node(model, .implicit, .doubleQuoted)),
            (Node("provider"), Node(inferProvider(model).rawValue)),
            (Node("model"), Node(model, .implicit, .doubleQuoted)),
            (Node("capabilities"), capabilities),
            (Node("complexityRange"), Node([(Node("min"), Node("0.0")), (Node("max"), Node("1.0"))])),
            (Node("enabled"), Node("true")),
        ])
        return Node([
            (Node("enabled"), Node("false")),
            (Node("defaultModel"), Node(model, .implicit, .doubleQuoted)),
            (Node("models"), Node([modelNode])),
            (Node("complexity"), Node([
                (Node("tokenWeighting"), Node("0.4")),
                (Node("structureWeighting"), Node("0.3")),
                (Node("contextWeighting"), Node("0.3")),
            ])),
            (Node("costTracking"), Node([(Node("enabled"), Node("false"))])),
        ])
    }

    /// A price as plain decimals: `String(Double)` writes `8e-05`, which YAML reads as a string.
    static func decimal(_ value: Double) -> String {
        var text = String(format: "%.8f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text += "0" }
        return text
    }

    private static func streamingNode() -> Node {
        Node([
            (Node("enabled"), Node("false")),
            (Node("bufferSize"), Node("1024")),
            (Node("backpressureThreshold"), Node("0.8")),
            (Node("timeoutMs"), Node("30000")),
            (Node("retryConfig"), Node([
                (Node("maxRetries"), Node("3")),
                (Node("backoffMs"), Node("1000")),
                (Node("backoffMultiplier"), Node("2")),
            ])),
        ])
    }

    /// v1.0.4 only named a model (`ai.model`): see ``LegacyAIModel/inferProvider(_:)``.
    static func inferProvider(_ model: String) -> ProviderKind { LegacyAIModel.inferProvider(model) }
}
