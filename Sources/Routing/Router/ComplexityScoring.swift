/// The router's seam to complexity analysis: turns a task into a ``ComplexityScore``.
///
/// ``ComplexityAnalyzer`` conforms (`ComplexityAnalyzer+Scoring.swift`); tests use a fixed-score fake.
/// Called on every selection, and concurrently from batch routing, so it must be fast and thread-safe.
public protocol ComplexityScoring: Sendable {
    func score(_ task: RoutingTask) -> ComplexityScore
}
