/// RouteLLM's APGR: route the top-k scored prompts to the strong model, sweep k from 0 to N,
/// and average the share of the strong-over-weak quality gap recovered (trapezoid rule).
/// Ties in score are broken by expectation (as if at random).
struct Example {
    var prompt: String
    var category: String
    var difficulty: Int
    var hard: Bool
}

enum APGR {
    /// Quality of the weak and strong model per difficulty 0…3 for the graded variant.
    static let gradedWeak: [Double] = [1.0, 0.85, 0.4, 0.1]
    static let gradedStrong: [Double] = [1.0, 1.0, 0.95, 0.85]

    /// `gaps[i]`: strong minus weak quality of item i. Binary: hard → 1, else 0.
    static func compute(scores: [Double], gaps: [Double]) -> Double {
        precondition(scores.count == gaps.count)
        let n = scores.count
        let totalGap = gaps.reduce(0, +)
        guard n > 0, totalGap > 0 else { return .nan }
        let order = (0..<n).sorted { scores[$0] > scores[$1] }
        // recovered[k] = expected gap recovered when the k highest-scored prompts go strong
        var recovered = [Double](repeating: 0, count: n + 1)
        var k = 0
        var acc = 0.0
        while k < n {
            var j = k
            var groupGap = 0.0
            while j < n && scores[order[j]] == scores[order[k]] { groupGap += gaps[order[j]]; j += 1 }
            let size = Double(j - k)
            for m in (k + 1)...j { recovered[m] = acc + groupGap * Double(m - k) / size }
            acc += groupGap
            k = j
        }
        var area = 0.0
        for m in 0..<n { area += (recovered[m] + recovered[m + 1]) / 2 / totalGap }
        return area / Double(n)
    }
}
