/// Counts gathered from one pass over a prompt; the raw material of every factor.
struct TextFeatures: Sendable {
    // Size
    var bytes = 0
    var letterWords = 0
    var numbers = 0
    var digits = 0
    var punctuation = 0
    var nonASCIIScalars = 0
    // Lines and structure
    var lines = 0
    var nonEmptyLines = 0
    var codeLines = 0
    var fenceLines = 0
    var maxBraceDepth = 0
    var maxIndent = 0
    var inlineCodeSpans = 0
    var optionLines = 0
    var romanItemLines = 0
    var turnLines = 0
    var tableLines = 0
    var dataLines = 0
    var pipeSeparatedStatements = 0
    // Text shape
    var questionMarks = 0
    var sentences = 0
    var mathSymbols = 0
    var singleLetterVariables = 0
    var percentOrCurrency = 0
    // Cues
    var reasoningEvidence = 0.0
    var creativityEvidence = 0.0
    var easeEvidence = 0.0
    var constraints = 0
    var quantityWords = 0
    var operationWords = 0
    var distinctLanguages = 0
    var capsNegations = 0
    var negations = 0
    /// Votes per ``TaskType`` (indexed like `TaskType.allCases`).
    var votes = [Double](repeating: 0, count: TaskType.allCases.count)

    /// The share of non-empty lines that look like code.
    var codeFraction: Double { nonEmptyLines == 0 ? 0 : Double(codeLines) / Double(nonEmptyLines) }
    /// Fenced blocks (an unclosed fence counts as one).
    var fencedBlocks: Int { (fenceLines + 1) / 2 }
    /// Deepest nesting seen: braces/brackets, or indentation of code lines in 4-space steps.
    var nesting: Int { max(maxBraceDepth, maxIndent / 4) }
    /// Looks like a multiple-choice question: at least three lettered option lines.
    var isMultipleChoice: Bool { optionLines >= 3 }

    @inline(__always)
    mutating func vote(_ type: TaskType, _ weight: Double) { votes[type.ordinal] += weight }
}

extension TaskType {
    /// Position in `allCases`, without allocating the array.
    var ordinal: Int {
        switch self {
        case .code: return 0
        case .reasoning: return 1
        case .math: return 2
        case .text: return 3
        case .creative: return 4
        case .analysis: return 5
        case .documentation: return 6
        case .debugging: return 7
        case .testing: return 8
        case .translation: return 9
        case .summarization: return 10
        case .chat: return 11
        case .image: return 12
        case .audio: return 13
        case .video: return 14
        }
    }
}
