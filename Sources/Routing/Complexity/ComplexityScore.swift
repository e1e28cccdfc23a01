/// What kind of work a task is. Inferred by ``ComplexityAnalyzer`` when the caller gives none.
public enum TaskType: String, Sendable, Codable, CaseIterable, Hashable {
    case code, reasoning, math, text, creative, analysis, documentation, debugging, testing
    case translation, summarization, chat
    case image, audio, video
}

/// The weights `routing.complexity` sets (docs/complexity.md). They need not sum to 1; the analyzer normalises.
public struct ComplexityWeights: Sendable, Codable, Hashable {
    /// Weight of the token-count factor.
    public var tokenWeighting: Double
    /// Weight of code structure (fences, code-like lines, nesting, languages).
    public var structureWeighting: Double
    /// Weight of context/data size.
    public var contextWeighting: Double

    public init(tokenWeighting: Double = 0.4, structureWeighting: Double = 0.3, contextWeighting: Double = 0.3) {
        self.tokenWeighting = tokenWeighting
        self.structureWeighting = structureWeighting
        self.contextWeighting = contextWeighting
    }
}

/// The individual signals behind a complexity score, each 0…1.
public struct ComplexityFactors: Sendable, Codable, Hashable {
    public var tokenCount: Double
    public var codeComplexity: Double
    public var contextSize: Double
    public var requiresReasoning: Double
    public var requiresCreativity: Double

    public init(tokenCount: Double = 0, codeComplexity: Double = 0, contextSize: Double = 0,
                requiresReasoning: Double = 0, requiresCreativity: Double = 0) {
        self.tokenCount = tokenCount
        self.codeComplexity = codeComplexity
        self.contextSize = contextSize
        self.requiresReasoning = requiresReasoning
        self.requiresCreativity = requiresCreativity
    }
}

/// The analyzer's verdict on one task.
public struct ComplexityScore: Sendable, Codable, Hashable {
    /// 0 (trivial) … 1 (hardest).
    public var overall: Double
    public var factors: ComplexityFactors
    /// The caller's type, or the inferred one.
    public var taskType: TaskType
    public var estimatedInputTokens: Int
    public var estimatedOutputTokens: Int

    public init(overall: Double, factors: ComplexityFactors, taskType: TaskType,
                estimatedInputTokens: Int, estimatedOutputTokens: Int) {
        self.overall = overall
        self.factors = factors
        self.taskType = taskType
        self.estimatedInputTokens = estimatedInputTokens
        self.estimatedOutputTokens = estimatedOutputTokens
    }
}
