import Foundation
import Testing
@testable import Routing

/// Quality floor on the hand-written labelled set (Tests/Fixtures/complexity/labelled.jsonl):
/// sending the highest-scored prompts to the strong model must recover the quality gap well above
/// chance (0.5) and above prompt length alone. The figures and how they were measured:
/// docs/complexity.md, "Quality: APGR on a hand-written labelled set".
@Suite("Complexity APGR on the labelled set")
struct ComplexityAPGRTests {
    struct Example: Decodable {
        var prompt: String
        var category: String
        var difficulty: Int
        var hard: Bool
    }

    static let fixture = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/complexity/labelled.jsonl")

    static func load() throws -> [Example] {
        let text = try String(contentsOf: fixture, encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(Example.self, from: Data($0.utf8)) }
    }

    /// RouteLLM's APGR with binary labels: the k highest-scored prompts go strong, k = 0…n; the share
    /// of hard prompts among them is the gap recovered; trapezoid area over the call share. Ties count
    /// by expectation.
    static func apgr(scores: [Double], hard: [Bool]) -> Double {
        let n = scores.count
        let totalHard = Double(hard.filter { $0 }.count)
        guard n > 0, totalHard > 0 else { return .nan }
        let order = (0..<n).sorted { scores[$0] > scores[$1] }
        var recovered = [Double](repeating: 0, count: n + 1)
        var k = 0, acc = 0.0
        while k < n {
            var j = k, group = 0.0
            while j < n && scores[order[j]] == scores[order[k]] { group += hard[order[j]] ? 1 : 0; j += 1 }
            for m in (k + 1)...j { recovered[m] = acc + group * Double(m - k) / Double(j - k) }
            acc += group
            k = j
        }
        var area = 0.0
        for m in 0..<n { area += (recovered[m] + recovered[m + 1]) / 2 / totalHard }
        return area / Double(n)
    }

    @Test func apgrOfKnownRankings() {
        let hard = [true, true, false, false]
        #expect(abs(Self.apgr(scores: [4, 3, 2, 1], hard: hard) - 0.75) < 1e-9) // perfect: 1 − h/2
        #expect(abs(Self.apgr(scores: [1, 1, 1, 1], hard: hard) - 0.5) < 1e-9)  // all tied: chance
        #expect(Self.apgr(scores: [1, 2, 3, 4], hard: hard) < 0.5)             // reversed
    }

    @Test func fixtureIsLargeAndBalancedEnough() throws {
        let examples = try Self.load()
        #expect(examples.count >= 300)
        for category in ["math", "mcq", "chat"] {
            let xs = examples.filter { $0.category == category }
            #expect(xs.count >= 90)
            #expect(xs.contains { $0.hard } && xs.contains { !$0.hard })
        }
        #expect(examples.allSatisfy { (0...3).contains($0.difficulty) && $0.hard == ($0.difficulty >= 2) })
    }

    @Test func apgrFloorOnAllAndHeldBackThird() throws {
        let examples = try Self.load()
        let analyzer = ComplexityAnalyzer()
        let scores = examples.map { analyzer.analyze(ComplexityInput(prompt: $0.prompt)).overall }
        let lengths = examples.map { Double($0.prompt.utf8.count) }
        let hard = examples.map(\.hard)

        let all = Self.apgr(scores: scores, hard: hard)
        let lengthOnly = Self.apgr(scores: lengths, hard: hard)
        let ceiling = Self.apgr(scores: hard.map { $0 ? 1 : 0 }, hard: hard)
        #expect(all >= 0.64, "APGR \(all)")
        #expect(all > lengthOnly + 0.01, "APGR \(all) vs length \(lengthOnly)")
        #expect((all - 0.5) / (ceiling - 0.5) >= 0.8, "normalised \((all - 0.5) / (ceiling - 0.5))")

        let held = examples.indices.filter { $0 % 3 == 2 }
        let heldAPGR = Self.apgr(scores: held.map { scores[$0] }, hard: held.map { hard[$0] })
        #expect(heldAPGR >= 0.62, "held-back APGR \(heldAPGR)")

        for category in ["math", "mcq", "chat"] {
            let idx = examples.indices.filter { examples[$0].category == category }
            let value = Self.apgr(scores: idx.map { scores[$0] }, hard: idx.map { hard[$0] })
            #expect(value >= 0.6, "\(category) APGR \(value)")
        }
    }
}
