import ComplexityCore
import Foundation

// Usage: lab [eval|dump|bench] [--all|--tune|--holdout] [--category C]
let args = CommandLine.arguments.dropFirst()
let command = args.first ?? "eval"
let split = args.contains("--holdout") ? "holdout" : args.contains("--all") ? "all" : "tune"
let categoryFilter: String? = args.firstIndex(of: "--category").flatMap { i in
    args.index(after: i) < args.endIndex ? args[args.index(after: i)] : nil
}

let fixture = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("../../Tests/Fixtures/complexity/labelled.jsonl").standardizedFileURL

func load() throws -> [Example] {
    let text = try String(contentsOf: fixture, encoding: .utf8)
    var out: [Example] = []
    for line in text.split(separator: "\n") where !line.isEmpty {
        guard let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let prompt = obj["prompt"] as? String, let category = obj["category"] as? String,
              let difficulty = obj["difficulty"] as? Int, let hard = obj["hard"] as? Bool else {
            throw NSError(domain: "lab", code: 1, userInfo: [NSLocalizedDescriptionKey: "bad line: \(line.prefix(80))"])
        }
        out.append(Example(prompt: prompt, category: category, difficulty: difficulty, hard: hard))
    }
    return out
}

let all = try load()
func inSplit(_ i: Int) -> Bool {
    switch split {
    case "holdout": return i % 3 == 2
    case "all": return true
    default: return i % 3 != 2
    }
}
let selected = all.enumerated().filter { inSplit($0.offset) && (categoryFilter == nil || $0.element.category == categoryFilter) }.map(\.element)
let analyzer = ComplexityAnalyzer()

func report(_ name: String, _ xs: [Example], score: (Example) -> Double) {
    let s = xs.map(score)
    let binary = APGR.compute(scores: s, gaps: xs.map { $0.hard ? 1 : 0 })
    let graded = APGR.compute(scores: s, gaps: xs.map { APGR.gradedStrong[$0.difficulty] - APGR.gradedWeak[$0.difficulty] })
    let hard = xs.filter(\.hard).count
    let ceiling = APGR.compute(scores: xs.map { $0.hard ? 1 : 0 }, gaps: xs.map { $0.hard ? 1 : 0 })
    let strict = APGR.compute(scores: s, gaps: xs.map { $0.difficulty == 3 ? 1 : 0 })
    print(String(format: "%-10@ n=%3d hard=%3d  APGR binary %.3f (ceiling %.3f, normalised %.2f)  graded %.3f  strict(d3) %.3f",
                 name as NSString, xs.count, hard, binary, ceiling, (binary - 0.5) / (ceiling - 0.5), graded, strict))
}

switch command {
case "eval":
    print("split: \(split)")
    let overall: (Example) -> Double = { analyzer.analyze(ComplexityInput(prompt: $0.prompt)).overall }
    let length: (Example) -> Double = { Double($0.prompt.utf8.count) }
    for cat in ["ALL", "math", "mcq", "chat"] {
        let xs = cat == "ALL" ? selected : selected.filter { $0.category == cat }
        if xs.isEmpty { continue }
        report(cat, xs, score: overall)
        report("  length", xs, score: length)
        report("  reason", xs, score: { analyzer.analyze(ComplexityInput(prompt: $0.prompt)).factors.requiresReasoning })
    }
case "dump":
    let scored = selected.map { ($0, analyzer.analyze(ComplexityInput(prompt: $0.prompt))) }
        .sorted { $0.1.overall > $1.1.overall }
    for (e, s) in scored {
        let f = s.factors
        let text = e.prompt.replacingOccurrences(of: "\n", with: " ⏎ ").prefix(110)
        print(String(format: "%.3f d%d %@ T%.2f S%.2f C%.2f R%.2f K%.2f %-13@ %@", s.overall, e.difficulty,
                     e.category as NSString, f.tokenCount, f.codeComplexity, f.contextSize, f.requiresReasoning,
                     f.requiresCreativity, s.taskType.rawValue as NSString, String(text) as NSString))
    }
case "bench":
    // A 2 KB prompt built from the labelled set, scored repeatedly.
    var prompt = ""
    for e in all where prompt.utf8.count < 2048 { prompt += e.prompt + "\n" }
    prompt = String(decoding: prompt.utf8.prefix(2048), as: UTF8.self)
    let input = ComplexityInput(prompt: prompt)
    var sink = 0.0
    for _ in 0..<1_000 { sink += analyzer.analyze(input).overall }
    let iterations = 100_000
    let clock = ContinuousClock()
    let elapsed = clock.measure { for _ in 0..<iterations { sink += analyzer.analyze(input).overall } }
    let perCall = Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6
    print(String(format: "2 KB prompt (%d bytes): %.2f µs per analyze() over %d calls (sink %.1f)",
                 prompt.utf8.count, perCall / Double(iterations), iterations, sink))
    let allInputs = all.map { ComplexityInput(prompt: $0.prompt) }
    let t2 = clock.measure { for _ in 0..<100 { for i in allInputs { sink += analyzer.analyze(i).overall } } }
    let per2 = (Double(t2.components.attoseconds) / 1e12 + Double(t2.components.seconds) * 1e6) / Double(100 * allInputs.count)
    print(String(format: "labelled prompts (avg %d bytes): %.2f µs per analyze()", allInputs.map { $0.prompt.utf8.count }.reduce(0, +) / allInputs.count, per2))
case "explain":
    // lab explain "prompt" [--context-bytes N] [--attach image,file]
    let rest = Array(args.dropFirst())
    let prompt = rest.first ?? ""
    let ctxBytes = rest.firstIndex(of: "--context-bytes").flatMap { Int(rest[$0 + 1]) } ?? 0
    let attach = rest.firstIndex(of: "--attach").map { rest[$0 + 1].split(separator: ",").compactMap { AttachmentKind(rawValue: String($0)) } } ?? []
    let input = ComplexityInput(prompt: prompt, context: ctxBytes > 0 ? String(repeating: "x", count: ctxBytes) : nil, attachments: attach)
    let s = analyzer.analyze(input)
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try enc.encode(s), as: UTF8.self))
    print(String(decoding: try enc.encode(analyzer.signals(input)), as: UTF8.self))
default:
    print("usage: lab [eval|dump|bench] [--all|--tune|--holdout] [--category C]")
}
