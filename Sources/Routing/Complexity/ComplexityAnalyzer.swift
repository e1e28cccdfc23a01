#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Scores how hard a task is, from its text alone: no model call, no training data, deterministic.
///
/// One pass over the prompt's UTF-8 bytes gathers counts (words, numbers, code-like lines, nesting,
/// option lines, cue words and phrases from a fixed lexicon); the counts become five factors in 0…1,
/// and the factors become `overall`:
///
/// ```
/// base    = (wT·tokenCount + wS·codeComplexity + wC·contextSize) / (wT + wS + wC)
/// overall = 1 − (1 − base) · (1 − 0.8·requiresReasoning) · (1 − 0.2·requiresCreativity)
/// ```
///
/// where `wT, wS, wC` are ``ComplexityWeights``. `docs/complexity.md` gives every factor's formula
/// and worked examples. A call on a 2 KB prompt takes on the order of ten microseconds.
public struct ComplexityAnalyzer: Sendable {
    /// The weights of the token, structure and context factors in the base score.
    public var weights: ComplexityWeights
    let lexicon: CueLexicon

    /// How much full reasoning evidence lifts the score (the `0.8` of the formula).
    public static let reasoningLift = 0.8
    /// How much full creativity evidence lifts the score (the `0.2` of the formula).
    public static let creativityLift = 0.2

    /// Creates an analyzer. Negative weights count as zero; all-zero weights make the base score 0.
    public init(weights: ComplexityWeights = .init()) {
        self.weights = weights
        self.lexicon = .standard
    }

    /// Scores one task.
    public func analyze(_ input: ComplexityInput) -> ComplexityScore {
        let features = TextScanner(lexicon: lexicon).scan(input.prompt)
        let contextTokens = ComplexityAnalyzer.contextTokens(input.context)
        let promptTokens = ComplexityAnalyzer.promptTokens(features)
        let factors = ComplexityAnalyzer.factors(features, contextTokens: contextTokens, attachments: input.attachments)
        let overall = combine(factors)
        let type = input.type ?? ComplexityAnalyzer.inferType(features, attachments: input.attachments)
        let inputTokens = promptTokens + contextTokens
            + input.attachments.reduce(0) { $0 + ComplexityAnalyzer.attachmentTokens($1) }
        let outputTokens = ComplexityAnalyzer.outputTokens(type: type, inputTokens: inputTokens, overall: overall)
        return ComplexityScore(overall: overall, factors: factors, taskType: type,
                               estimatedInputTokens: inputTokens, estimatedOutputTokens: outputTokens)
    }

    /// `overall` from the factors, using this analyzer's weights.
    public func combine(_ f: ComplexityFactors) -> Double {
        let wT = max(0, weights.tokenWeighting.isFinite ? weights.tokenWeighting : 0)
        let wS = max(0, weights.structureWeighting.isFinite ? weights.structureWeighting : 0)
        let wC = max(0, weights.contextWeighting.isFinite ? weights.contextWeighting : 0)
        let total = wT + wS + wC
        let base = total > 0 ? (wT * f.tokenCount + wS * f.codeComplexity + wC * f.contextSize) / total : 0
        let overall = 1 - (1 - base)
            * (1 - ComplexityAnalyzer.reasoningLift * f.requiresReasoning)
            * (1 - ComplexityAnalyzer.creativityLift * f.requiresCreativity)
        return clamp01(overall)
    }

    // MARK: factors

    static func factors(_ t: TextFeatures, contextTokens: Int, attachments: [AttachmentKind]) -> ComplexityFactors {
        let tokens = Double(promptTokens(t))
        let tokenCount = clamp01(log(1 + tokens / 24) / log(1 + 4096.0 / 24))

        let structureEvidence = 0.6 * Double(min(t.fencedBlocks, 2))
            + 2.5 * t.codeFraction
            + 0.03 * Double(min(t.codeLines, 20))
            + 0.15 * Double(min(t.nesting, 6))
            + 0.3 * Double(min(t.distinctLanguages, 3))
            + 0.05 * Double(min(t.inlineCodeSpans / 2, 10))
        let codeComplexity = saturate(structureEvidence)

        let contextPart = clamp01(log(1 + Double(contextTokens) / 256) / log(1 + 131_072.0 / 256))
        let dataPart = saturate(0.15 * Double(t.tableLines + t.dataLines))
        let attachmentPart = 1 - attachments.reduce(1.0) { $0 * (1 - attachmentWeight($1)) }
        let contextSize = clamp01(1 - (1 - contextPart) * (1 - dataPart) * (1 - attachmentPart))

        let requiresReasoning = saturate(reasoningEvidence(t, codeComplexity: codeComplexity))
        let requiresCreativity = saturate(t.creativityEvidence)
        return ComplexityFactors(tokenCount: tokenCount, codeComplexity: codeComplexity, contextSize: contextSize,
                                 requiresReasoning: requiresReasoning, requiresCreativity: requiresCreativity)
    }

    /// The summed evidence behind `requiresReasoning` (before `1 − e^−x`).
    static func reasoningEvidence(_ t: TextFeatures, codeComplexity: Double) -> Double {
        var e = max(0, t.reasoningEvidence - t.easeEvidence)
        // Word problems: every quantity past the second is roughly one more step to track.
        let prose = t.codeFraction < 0.3
        if prose {
            let quantities = min(t.numbers + t.quantityWords, 14)
            e += 0.10 * Double(max(0, quantities - 2))
            e += 0.03 * Double(min(t.operationWords + t.percentOrCurrency, 15))
        }
        // Notation: operators, math symbols, single-letter variables.
        e += 0.08 * Double(min(t.mathSymbols + t.singleLetterVariables, 12))
        // Multiple choice: negated stems, combined-statement options, "Statement 1 | … " pairs.
        if t.isMultipleChoice {
            e += 0.45 * Double(min(t.capsNegations, 2)) + 0.1 * Double(min(t.negations, 2))
            e += t.romanItemLines >= 2 ? 0.4 : 0
            e += t.pipeSeparatedStatements >= 1 ? 0.2 : 0
        } else {
            e += 0.3 * Double(min(t.capsNegations, 1))
        }
        // Explicit constraints ("exactly", "without", "at most", "as JSON", …).
        e += 0.1 * Double(min(t.constraints, 8))
        // Several questions or turns to satisfy at once.
        e += 0.15 * Double(min(max(0, t.questionMarks - 1), 3))
        e += t.turnLines >= 3 ? 0.15 : 0
        // Code is reasoning too.
        e += 0.8 * codeComplexity
        return e
    }

    // MARK: tokens

    /// Prompt tokens: ≈1.33 per word, one per 2.5 digits, ≈0.9 per punctuation mark, ≈0.8 per other non-ASCII character.
    static func promptTokens(_ t: TextFeatures) -> Int {
        let estimate = 1.33 * Double(t.letterWords) + Double(t.digits) / 2.5
            + 0.9 * Double(t.punctuation) + 0.8 * Double(t.nonASCIIScalars)
        return Int(estimate.rounded(.up))
    }

    /// Context tokens: UTF-8 bytes / 4 (the context is not scanned, it may be large).
    static func contextTokens(_ context: String?) -> Int {
        guard let context else { return 0 }
        return (context.utf8.count + 3) / 4
    }

    /// The tokens an attachment is assumed to cost.
    public static func attachmentTokens(_ kind: AttachmentKind) -> Int {
        switch kind {
        case .image: return 800
        case .audio: return 1_500
        case .video: return 4_000
        case .file: return 2_000
        }
    }

    /// How much one attachment raises the context factor.
    static func attachmentWeight(_ kind: AttachmentKind) -> Double {
        switch kind {
        case .image: return 0.25
        case .audio: return 0.3
        case .video: return 0.45
        case .file: return 0.2
        }
    }
}

/// `1 − e^−x` for x ≥ 0, else 0: turns unbounded evidence into 0…1.
@inline(__always)
func saturate(_ x: Double) -> Double { x > 0 ? clamp01(1 - exp(-x)) : 0 }

@inline(__always)
func clamp01(_ x: Double) -> Double { x.isNaN ? 0 : min(1, max(0, x)) }
