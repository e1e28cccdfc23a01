import Foundation
import Providers

/// `fleetd-bench json`: reading a compatible endpoint's request body, by ``JSONValue/parse(utf8:)``
/// (what fleetd runs) against `JSONDecoder` into `JSONValue` (what it ran before).
struct JSONBench: BenchSuite {
    let name = "json"
    let summary = "compatible endpoints' request bodies read as JSON: fleetd's parser against JSONDecoder"

    /// A one-line Chat Completions request, and a 20-turn conversation with a tool (about 6 KB).
    static func bodies() -> [(label: String, text: String)] {
        let small = #"{"model":"auto","messages":[{"role":"user","content":"Say ten tokens."}],"stream":false}"#
        var turns: [String] = []
        for turn in 0..<20 {
            let role = turn % 2 == 0 ? "user" : "assistant"
            turns.append(#"{"role":"\#(role)","content":"Turn \#(turn): please summarise the report on \"Q\#(turn % 4 + 1)\" revenue, costs (€) and the 3 largest risks, then list next steps.\nKeep it under 200 words."}"#)
        }
        let tool = #"{"type":"function","function":{"name":"search","description":"Search the company wiki","parameters":{"type":"object","properties":{"query":{"type":"string"},"limit":{"type":"integer","minimum":1,"maximum":50}},"required":["query"]}}}"#
        let large = #"{"model":"auto","temperature":0.2,"max_tokens":1024,"stream":true,"tools":[\#(tool)],"messages":[\#(turns.joined(separator: ","))]}"#
        return [("one-line chat request", small), ("20-turn conversation with a tool", large)]
    }

    func run(scale: Double) async throws {
        let runs = max(100, Int(20_000 * scale))
        let clock = ContinuousClock()
        func microseconds(_ body: () throws -> Void) rethrows -> Double {
            for _ in 0..<100 { try body() }
            let start = clock.now
            for _ in 0..<runs { try body() }
            let elapsed = clock.now - start
            return (Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12) / Double(runs)
        }
        for (label, text) in Self.bodies() {
            let bytes = Array(text.utf8), data = Data(text.utf8)
            guard try JSONValue.parse(utf8: bytes) == (try JSONDecoder().decode(JSONValue.self, from: data)) else {
                throw BenchError(description: "the two readers disagree on the \(label)")
            }
            let parser = try microseconds { _ = try JSONValue.parse(utf8: bytes) }
            let decoder = try microseconds { _ = try JSONDecoder().decode(JSONValue.self, from: data) }
            print(String(format: "%@ (%d bytes, %d runs): JSONValue.parse %.1f µs, JSONDecoder into JSONValue %.1f µs (%.1f×)",
                         label, bytes.count, runs, parser, decoder, decoder / parser))
        }
    }
}
