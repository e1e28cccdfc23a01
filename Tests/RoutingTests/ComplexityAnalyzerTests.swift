import Testing
@testable import Routing

@Suite("ComplexityAnalyzer factors, types and bounds")
struct ComplexityAnalyzerTests {
    let analyzer = ComplexityAnalyzer()

    func score(_ prompt: String, context: String? = nil, type: TaskType? = nil,
               attachments: [AttachmentKind] = []) -> ComplexityScore {
        analyzer.analyze(ComplexityInput(prompt: prompt, context: context, type: type, attachments: attachments))
    }

    @Test func codeRaisesStructure() {
        let prose = score("Please look at my function and tell me what it does.")
        let code = score("Please look at my function and tell me what it does:\n```python\ndef f(xs):\n    out = []\n    for x in xs:\n        if x > 0:\n            out.append(x * 2)\n    return out\n```")
        #expect(prose.factors.codeComplexity == 0)
        #expect(code.factors.codeComplexity > 0.8)
        #expect(code.overall > prose.overall)
    }

    @Test func deeperNestingRaisesStructure() {
        let flat = score("```js\nconst a = 1;\nconst b = 2;\n```")
        let nested = score("```js\nif (a) {\n  if (b) {\n    for (;;) {\n      while (c) { d(); }\n    }\n  }\n}\n```")
        #expect(nested.factors.codeComplexity > flat.factors.codeComplexity)
    }

    @Test func mathInProseIsNotCode() {
        let s = score("If the sum of the first n terms of a sequence is n^2 + 3n, find the 10th term.")
        #expect(s.factors.codeComplexity == 0)
        #expect(s.taskType == .math)
    }

    @Test func longContextRaisesContext() {
        let none = score("Summarize this.")
        let small = score("Summarize this.", context: String(repeating: "word ", count: 200))
        let large = score("Summarize this.", context: String(repeating: "word ", count: 100_000))
        #expect(none.factors.contextSize == 0)
        #expect(small.factors.contextSize > 0)
        #expect(large.factors.contextSize > small.factors.contextSize)
        #expect(large.overall > none.overall)
        #expect(large.estimatedInputTokens > 100_000)
    }

    @Test func tablesAndAttachmentsRaiseContext() {
        let table = score("Which region grew fastest?\nregion | q1 | q2\nnorth | 10 | 12\nsouth | 8 | 15\neast | 11 | 11")
        #expect(table.factors.contextSize > 0)
        let image = score("What is in this picture?", attachments: [.image])
        #expect(image.factors.contextSize > 0)
        #expect(image.taskType == .image)
        #expect(score("Describe it.", attachments: [.image, .video]).taskType == .video)
        #expect(score("Transcribe this.", attachments: [.audio]).taskType == .audio)
    }

    @Test(arguments: ["edge case", "race condition", "design the architecture", "step by step", "prove that"])
    func multiWordCuesRaiseReasoning(cue: String) {
        let plain = score("Write something about the payment service.")
        let cued = score("Write something about the payment service, \(cue).")
        #expect(cued.factors.requiresReasoning > plain.factors.requiresReasoning, "cue: \(cue)")
    }

    @Test func cuesAreCaseInsensitiveAndSurviveHyphens() {
        let lower = score("Handle the race condition in the cache.")
        let upper = score("Handle the RACE CONDITION in the cache.")
        let mixed = score("Handle the Race-Condition in the cache.")
        #expect(lower.factors.requiresReasoning == upper.factors.requiresReasoning)
        #expect(lower.factors.requiresReasoning == mixed.factors.requiresReasoning)
        #expect(lower.factors.requiresReasoning > 0.3)
    }

    @Test func cuesMatchWholeWordsOnly() {
        // "improve" must not match "prove"; "racecondition" is not the phrase.
        let a = score("Please improve the racecondition text.")
        let b = score("Please prove the race condition text.")
        #expect(a.factors.requiresReasoning < b.factors.requiresReasoning)
        #expect(analyzer.signals(ComplexityInput(prompt: "improve")).reasoningCueEvidence == 0)
    }

    @Test func creativityCues() {
        let s = score("Write a sonnet about a lighthouse keeper who imagines the sea as a character.")
        #expect(s.factors.requiresCreativity > 0.5)
        #expect(s.taskType == .creative)
    }

    @Test func hardReasoningOutscoresSmallTalk() {
        let chat = score("Hi there, can you recommend a good movie for tonight?")
        let proof = score("Prove that there are infinitely many primes of the form 4k + 3, step by step.")
        #expect(chat.overall < 0.15)
        #expect(proof.overall > 0.6)
    }

    @Test(arguments: [
        ("Translate this paragraph into French: the meeting is moved to Friday.", TaskType.translation),
        ("Summarize the following article in three bullet points.", .summarization),
        ("My app crashes with a segfault when I free this pointer, please fix the bug:\n```c\nfree(p);\nfree(p);\n```", .debugging),
        ("Write pytest unit tests for the slugify function, covering edge cases.", .testing),
        ("Write a docstring and README documentation for this module.", .documentation),
        ("Implement a function in Rust that parses a CSV line into fields.", .code),
        ("Write a short story about a dragon who is afraid of the dark.", .creative),
        ("Compare and evaluate the pros and cons of microservices versus a monolith.", .analysis),
        ("A train travels 60 miles per hour for 3 hours, then 40 miles per hour for 2 hours. How far does it go?", .math),
        ("Prove that the square root of 2 is irrational.", .reasoning),
        ("Hello!", .chat),
        ("Write an email to my landlord about the broken heater in the apartment and ask for a repair date.", .text),
    ])
    func typeInference(prompt: String, expected: TaskType) {
        #expect(score(prompt).taskType == expected, "\(prompt)")
    }

    @Test func callerTypeWins() {
        #expect(score("Hello!", type: .code).taskType == .code)
    }

    @Test func outputEstimateFollowsType() {
        let chat = score("Hello!")
        let code = score("Implement a thread-safe LRU cache in Java.")
        #expect(code.estimatedOutputTokens > chat.estimatedOutputTokens)
        let long = String(repeating: "The cat sat on the mat. ", count: 100)
        let translation = score("Translate into German: " + long)
        #expect(translation.taskType == .translation)
        #expect(translation.estimatedOutputTokens > translation.estimatedInputTokens)
    }

    @Test func deterministic() {
        let prompt = ComplexityWorkedExampleTests.goPrompt
        let first = score(prompt)
        for _ in 0..<50 { #expect(score(prompt) == first) }
        #expect(ComplexityAnalyzer().analyze(ComplexityInput(prompt: prompt)) == first)
    }

    @Test func boundsOnExtremeInputs() {
        var binary = [UInt8]()
        var x: UInt32 = 12345
        for _ in 0..<100_000 { x = x &* 1_103_515_245 &+ 12345; binary.append(UInt8(truncatingIfNeeded: x >> 16)) }
        let inputs = [
            "",
            " \n\t\n",
            String(repeating: "a", count: 1_000_000),
            String(repeating: "Prove the race condition edge case step by step. {[(", count: 20_000),
            String(decoding: binary, as: UTF8.self),
            String(repeating: "\u{0}\u{FFFD}é漢字🙂∫∑", count: 10_000),
            String(repeating: "{", count: 50_000) + String(repeating: "}", count: 60_000),
            "```\n" + String(repeating: "x;\n", count: 50_000),
        ]
        for prompt in inputs {
            let s = score(prompt, context: prompt, attachments: AttachmentKind.allCases)
            for v in [s.overall, s.factors.tokenCount, s.factors.codeComplexity, s.factors.contextSize,
                      s.factors.requiresReasoning, s.factors.requiresCreativity] {
                #expect(v >= 0 && v <= 1 && !v.isNaN)
            }
            #expect(s.estimatedInputTokens >= 0)
            #expect(s.estimatedOutputTokens >= 16)
        }
        let empty = score("")
        #expect(empty.overall == 0)
        #expect(empty.estimatedInputTokens == 0)
    }

    @Test func weightsAreNormalisedAndValidated() {
        let prompt = "Summarize this."
        let context = String(repeating: "word ", count: 50_000)
        let contextOnly = ComplexityAnalyzer(weights: .init(tokenWeighting: 0, structureWeighting: 0, contextWeighting: 1))
        let tokenOnly = ComplexityAnalyzer(weights: .init(tokenWeighting: 1, structureWeighting: 0, contextWeighting: 0))
        let input = ComplexityInput(prompt: prompt, context: context)
        #expect(contextOnly.analyze(input).overall > tokenOnly.analyze(input).overall)
        // Scaling all weights changes nothing.
        let doubled = ComplexityAnalyzer(weights: .init(tokenWeighting: 0.8, structureWeighting: 0.6, contextWeighting: 0.6))
        #expect(abs(doubled.analyze(input).overall - ComplexityAnalyzer().analyze(input).overall) < 1e-12)
        // Zero, negative or non-finite weights do not produce NaN.
        for w in [ComplexityWeights(tokenWeighting: 0, structureWeighting: 0, contextWeighting: 0),
                  ComplexityWeights(tokenWeighting: -1, structureWeighting: .nan, contextWeighting: .infinity)] {
            let s = ComplexityAnalyzer(weights: w).analyze(input)
            #expect(s.overall >= 0 && s.overall <= 1)
        }
    }

    @Test func taskTypeOrdinalsMatchAllCases() {
        for (i, type) in TaskType.allCases.enumerated() { #expect(type.ordinal == i) }
    }
}
