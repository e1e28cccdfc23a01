/// The raw counts behind a ``ComplexityScore``, for explaining a routing decision
/// (`fleetd route` prints them) and for re-tuning. Produced by ``ComplexityAnalyzer/signals(_:)``.
public struct ComplexitySignals: Sendable, Codable, Hashable {
    /// Words made of letters.
    public var words: Int
    /// Numbers (digit runs, with decimal points and thousands separators).
    public var numbers: Int
    /// Quantities written as words ("twice", "half", "three").
    public var quantityWords: Int
    /// Arithmetic relation words ("each", "per", "remaining", "percent").
    public var operationWords: Int
    /// Operators and mathematical symbols (`= + * / ^ < >`, `×`, `∫`, Greek letters …).
    public var mathSymbols: Int
    /// Single-letter words other than "a" and "I" (variables).
    public var singleLetterVariables: Int
    /// Non-empty lines, and how many of them look like code.
    public var nonEmptyLines: Int
    public var codeLines: Int
    /// Fenced code blocks, deepest nesting, distinct programming languages named.
    public var fencedBlocks: Int
    public var nesting: Int
    public var languages: Int
    /// Lettered option lines (A. / B) / (C) …), and whether the prompt reads as multiple choice.
    public var optionLines: Int
    public var isMultipleChoice: Bool
    /// Negations written in capitals ("EXCEPT", "NOT").
    public var capitalisedNegations: Int
    /// Explicit constraints ("exactly", "without", "at most", "as JSON" …).
    public var constraints: Int
    /// Question marks and `User:`/`Assistant:` turn lines.
    public var questions: Int
    public var turns: Int
    /// Table rows and comma-separated data rows.
    public var dataLines: Int
    /// Summed cue evidence before saturation: reasoning cues, creativity cues, easy/social cues.
    public var reasoningCueEvidence: Double
    public var creativityCueEvidence: Double
    public var easeCueEvidence: Double
    /// The evidence behind `requiresReasoning` (its factor is `1 − e^−x`).
    public var reasoningEvidence: Double
}

extension ComplexityAnalyzer {
    /// The counts the analyzer saw in the prompt (the context is only measured, not scanned).
    public func signals(_ input: ComplexityInput) -> ComplexitySignals {
        let t = TextScanner(lexicon: lexicon).scan(input.prompt)
        let f = ComplexityAnalyzer.factors(t, contextTokens: 0, attachments: [])
        return ComplexitySignals(
            words: t.letterWords, numbers: t.numbers, quantityWords: t.quantityWords, operationWords: t.operationWords,
            mathSymbols: t.mathSymbols, singleLetterVariables: t.singleLetterVariables,
            nonEmptyLines: t.nonEmptyLines, codeLines: t.codeLines, fencedBlocks: t.fencedBlocks, nesting: t.nesting,
            languages: t.distinctLanguages, optionLines: t.optionLines, isMultipleChoice: t.isMultipleChoice,
            capitalisedNegations: t.capsNegations, constraints: t.constraints, questions: t.questionMarks,
            turns: t.turnLines, dataLines: t.tableLines + t.dataLines,
            reasoningCueEvidence: t.reasoningEvidence, creativityCueEvidence: t.creativityEvidence,
            easeCueEvidence: t.easeEvidence,
            reasoningEvidence: ComplexityAnalyzer.reasoningEvidence(t, codeComplexity: f.codeComplexity))
    }
}
