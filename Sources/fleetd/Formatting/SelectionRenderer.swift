import FleetSupport
import Foundation
import Routing

/// Renders selections and routing errors for people (`fleetd route "text"`) and for machines (`--json`).
public enum SelectionRenderer {
    /// A multi-line explanation: score and factors, each candidate and why it is in or out, the pick, the fallbacks.
    public static func text(_ s: ModelSelection) -> String {
        let c = s.complexity
        let f = c.factors
        var out: [String] = []
        out.append("Task \(s.taskId): complexity \(fmt(c.overall)) (type \(c.taskType.rawValue))")
        out.append("  factors: tokens \(fmt(f.tokenCount)), code \(fmt(f.codeComplexity)), context \(fmt(f.contextSize)), reasoning \(fmt(f.requiresReasoning)), creativity \(fmt(f.requiresCreativity))")
        out.append("  estimate: \(s.trace.estimatedInputTokens) input + \(s.trace.estimatedOutputTokens) output tokens")
        out.append("  strategy: \(s.strategy?.rawValue ?? "none (router off)"); budget: \(s.trace.budget)")
        if let d = s.predictedDifficulty {
            out.append("  learning: predicted difficulty \(fmt(d)) (how likely a strong model is needed)")
        }
        out.append("")
        out.append("Candidates:")
        // The chain first (pick, then fallbacks in order), then the excluded models in configuration order.
        let ordered = s.trace.candidates.enumerated().sorted { a, b in
            switch (a.element.position, b.element.position) {
            case let (x?, y?): return x < y
            case (_?, nil): return true
            case (nil, _?): return false
            case (nil, nil): return a.offset < b.offset
            }
        }.map(\.element)
        for t in ordered {
            let mark: String
            if let position = t.position { mark = position == 1 ? "PICK" : "#\(position)" } else { mark = "out" }
            var head = "  [\(mark)] \(t.modelName) (\(t.provider))"
            if t.role != .candidate { head += " as \(t.role == .defaultModel ? "default model" : "last resort")" }
            if let score = t.score { head += "  score \(fmt(score))" }
            head += "  est \(money(t.estimatedCost))"
            out.append(head)
            if let excluded = t.exclusion {
                out.append("      excluded by \(excluded.stage.rawValue): \(excluded.detail)")
            } else {
                for d in t.decisions where d.stage == .complexityRange || d.stage == .budget || d.stage == .quota || d.stage == .health {
                    out.append("      \(d.stage.rawValue): \(d.detail)")
                }
            }
            if let p = t.prediction {
                out.append("      learned: predicted success \(fmt(p.predictedSuccess)) from \(fmt(p.outcomes)) outcomes (\(p.scope))"
                           + (p.counted ? "" : "; too few to count"))
            }
            for note in t.notes { out.append("      note: \(note)") }
        }
        out.append("")
        out.append("Pick: \(s.modelName) (\(s.modelConfig.provider.rawValue) \(s.modelConfig.model)), estimated \(money(s.estimatedCost))")
        out.append("Reason: \(s.reason)")
        if s.fallbackChain.isEmpty {
            out.append("Fallbacks: none")
        } else {
            out.append("Fallbacks:")
            for (i, entry) in s.fallbackChain.enumerated() {
                out.append("  \(i + 1). \(entry.modelName): \(entry.why)")
            }
        }
        for alert in s.alerts { out.append("Alert \(alert.code): \(alert.message)") }
        return out.joined(separator: "\n")
    }

    /// The explanation of a routing failure: the code, the message and each excluded model.
    public static func text(_ error: RouterError) -> String {
        var out = ["\(error.code.rawValue) \(error.code.name): \(error.message)"]
        for e in error.exclusions { out.append("  \(e.model): \(e.stage.rawValue): \(e.reason)") }
        return out.joined(separator: "\n")
    }

    /// The whole selection as JSON (sorted keys, ISO 8601 dates).
    public static func json(_ s: ModelSelection, pretty: Bool = true) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(s), as: UTF8.self)
    }

    /// A routing error as the JSON error object `{"error": {"code", "name", "message", "exclusions"}}`.
    public static func json(_ error: RouterError, pretty: Bool = true) throws -> String {
        struct Body: Encodable {
            struct Inner: Encodable { var code: String; var name: String; var message: String; var exclusions: [ModelExclusion] }
            var error: Inner
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        let body = Body(error: .init(code: error.code.rawValue, name: error.code.name, message: error.message, exclusions: error.exclusions))
        return String(decoding: try encoder.encode(body), as: UTF8.self)
    }
}
