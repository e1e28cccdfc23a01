import Testing
@testable import Routing

/// The worked examples of docs/complexity.md, number for number.
@Suite("Complexity worked examples")
struct ComplexityWorkedExampleTests {
    let analyzer = ComplexityAnalyzer()

    static func near(_ a: Double, _ b: Double, _ tolerance: Double = 0.0005) -> Bool { abs(a - b) <= tolerance }

    @Test("1. greeting")
    func greeting() {
        let s = analyzer.analyze(ComplexityInput(prompt: "Hi! How are you doing today?"))
        #expect(Self.near(s.factors.tokenCount, 0.0677))
        #expect(s.factors.requiresReasoning == 0)
        #expect(Self.near(s.overall, 0.0271))
        #expect(s.taskType == .chat)
        #expect(s.estimatedInputTokens == 10)
        #expect(s.estimatedOutputTokens == 79)
    }

    @Test("2. multi-step word problem")
    func wordProblem() {
        let prompt = "A shop buys 120 umbrellas at $6 each. It sells 70% of them at $15 each during a rainy week, "
            + "and the rest at a 40% discount off the selling price. What is the shop's total profit?"
        let input = ComplexityInput(prompt: prompt)
        let s = analyzer.analyze(input)
        let signals = analyzer.signals(input)
        #expect(signals.numbers == 5)
        #expect(signals.operationWords == 9)
        #expect(Self.near(signals.reasoningEvidence, 0.69))
        #expect(Self.near(s.factors.tokenCount, 0.2340))
        #expect(Self.near(s.factors.requiresReasoning, 0.4984))
        #expect(Self.near(s.overall, 0.4550))
        #expect(s.taskType == .math)
        #expect(s.estimatedInputTokens == 56)
        #expect(s.estimatedOutputTokens == 430)
    }

    @Test("3. multiple choice with EXCEPT")
    func negatedMultipleChoice() {
        let prompt = "All of the following are functions of the liver EXCEPT:\nA. producing bile\nB. storing glycogen\n"
            + "C. producing insulin\nD. detoxifying drugs"
        let input = ComplexityInput(prompt: prompt)
        let s = analyzer.analyze(input)
        let signals = analyzer.signals(input)
        #expect(signals.isMultipleChoice)
        #expect(signals.capitalisedNegations == 1)
        #expect(Self.near(signals.reasoningEvidence, 0.85))
        #expect(Self.near(s.factors.requiresReasoning, 0.5726))
        #expect(Self.near(s.overall, 0.4952))
        #expect(s.taskType == .reasoning)
    }

    @Test("4. concurrency bug in fenced Go code")
    func goRace() {
        let s = analyzer.analyze(ComplexityInput(prompt: ComplexityWorkedExampleTests.goPrompt))
        #expect(Self.near(s.factors.codeComplexity, 0.9733))
        #expect(Self.near(s.factors.requiresReasoning, 0.8724))
        #expect(Self.near(s.factors.tokenCount, 0.3112))
        #expect(Self.near(s.overall, 0.8237))
        #expect(s.taskType == .debugging)
        #expect(s.estimatedInputTokens == 95)
        #expect(s.estimatedOutputTokens == 927)
    }

    @Test("5. haiku")
    func haiku() {
        let s = analyzer.analyze(ComplexityInput(prompt: "Write a haiku about the first snow of winter."))
        #expect(Self.near(s.factors.requiresCreativity, 0.5507))
        #expect(Self.near(s.overall, 0.1604))
        #expect(s.taskType == .creative)
    }

    @Test("6. summary of a large attached document")
    func largeContext() {
        let input = ComplexityInput(prompt: "Summarize the attached quarterly report and list the three largest risks.",
                                    context: String(repeating: "x", count: 200_000), attachments: [.file])
        let s = analyzer.analyze(input)
        #expect(Self.near(s.factors.contextSize, 0.8769))
        #expect(Self.near(s.overall, 0.3028))
        #expect(s.taskType == .summarization)
        #expect(s.estimatedInputTokens == 52_016)
        #expect(s.estimatedOutputTokens == 600)
    }

    static let goPrompt = """
        Explain the race condition in this Go code and fix it without using a mutex:
        ```go
        var counter int
        func main() {
            var wg sync.WaitGroup
            for i := 0; i < 1000; i++ {
                wg.Add(1)
                go func() { counter++; wg.Done() }()
            }
            wg.Wait()
            fmt.Println(counter)
        }
        ```
        """
}
