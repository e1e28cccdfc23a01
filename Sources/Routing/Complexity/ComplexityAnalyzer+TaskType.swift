extension ComplexityAnalyzer {
    /// The task type from attachments, cue votes and structure (see docs/complexity.md).
    static func inferType(_ t: TextFeatures, attachments: [AttachmentKind]) -> TaskType {
        if attachments.contains(.video) { return .video }
        if attachments.contains(.audio) { return .audio }
        if attachments.contains(.image) { return .image }

        var v = t
        let structure = 2.5 * t.codeFraction + 0.6 * Double(min(t.fencedBlocks, 2))
        if t.codeLines > 0 || t.fencedBlocks > 0 { v.vote(.code, 2 * structure) }
        if t.codeFraction < 0.3 {
            let quantities = t.numbers + t.quantityWords
            if t.numbers >= 2 { v.vote(.math, 0.35 * Double(min(quantities, 10))) }
            if t.numbers >= 1 { v.vote(.math, 0.5 * Double(min(t.percentOrCurrency, 2))) }
            v.vote(.math, 0.25 * Double(min(t.mathSymbols + t.singleLetterVariables, 10)))
        }
        if t.isMultipleChoice { v.vote(.reasoning, 2) }
        if t.letterWords <= 12 { v.vote(.chat, 1) }

        var best = TaskType.chat
        var bestVotes = 0.0
        for (i, type) in TaskType.allCases.enumerated() where v.votes[i] > bestVotes {
            best = type
            bestVotes = v.votes[i]
        }
        if bestVotes < 1 { return t.letterWords <= 40 ? .chat : .text }
        // Debugging, testing and documentation are kinds of code work: a clear cue wins over plain code.
        if best == .code {
            for special in [TaskType.debugging, .testing, .documentation] {
                if let i = TaskType.allCases.firstIndex(of: special), v.votes[i] >= 2 { return special }
            }
        }
        return best
    }

    /// Expected answer length: a base per task type, scaled by `0.5 + overall`. Translations
    /// (1.2 × input + 20) and summaries (input / 4 + 60, at most 600) follow the input instead.
    static func outputTokens(type: TaskType, inputTokens: Int, overall: Double) -> Int {
        let base: Double
        switch type {
        case .chat: base = 150
        case .text: base = 450
        case .creative: base = 700
        case .code: base = 800
        case .debugging: base = 700
        case .testing: base = 900
        case .documentation: base = 900
        case .analysis: base = 700
        case .reasoning: base = 600
        case .math: base = 450
        case .translation: return max(16, Int((1.2 * Double(inputTokens) + 20).rounded()))
        case .summarization: return max(16, Int(min(600, Double(inputTokens) / 4 + 60).rounded()))
        case .image: base = 300
        case .audio, .video: base = 400
        }
        return max(16, Int((base * (0.5 + overall)).rounded()))
    }
}
