import Foundation

/// Routes a JSONL file of tasks (`fleetd route --jsonl FILE`): one `{"id": …, "prompt": …, "type"?: …}` per line
/// in, one selection per line out, in input order.
///
/// Each output line holds the input's `id`, `modelName`, `complexity` (overall and factors), `reason`,
/// `fallbackModels` and `estimatedCost`. A bad line gets `{"id"?, "line", "error": {"code", "message"}}` naming its
/// line number and the others go on; a routing failure gets the same with its ROUTER code. Blank lines are
/// skipped. Decisions are explained, not made live: no probe is taken and nothing is recorded; budget, quota
/// and health are read once for the whole batch. Lines are routed in parallel chunks.
public struct RoutingBatch: Sendable {
    public let router: ModelRouter
    /// Lines per parallel chunk.
    public let chunkSize: Int
    /// Rank with what the router's learner has learned (`predictiveRouting`).
    public let useLearning: Bool

    public init(router: ModelRouter, chunkSize: Int = 2_000, useLearning: Bool = false) {
        self.router = router
        self.chunkSize = max(1, chunkSize)
        self.useLearning = useLearning
    }

    /// Routes every line of `input` and returns the output JSONL (each line ends with a newline).
    public func run(_ input: Data) async -> Data {
        var out = Data()
        for line in await lines(input) {
            out.append(contentsOf: line.utf8)
            out.append(0x0A)
        }
        return out
    }

    /// Routes every line of `input` and returns one output line (without newline) per non-blank input line.
    public func lines(_ input: Data) async -> [String] {
        let bytes = [UInt8](input)
        var ranges: [(number: Int, range: Range<Int>)] = []
        var start = 0
        var number = 1
        for i in 0...bytes.count {
            if i == bytes.count || bytes[i] == 0x0A {
                var end = i
                if end > start && bytes[end - 1] == 0x0D { end -= 1 }
                if bytes[start..<end].contains(where: { $0 != 0x20 && $0 != 0x09 }) {
                    ranges.append((number, start..<end))
                }
                start = i + 1
                number += 1
            }
        }
        let (engine, inputs) = await router.batchContext()
        let router = self.router
        let useLearning = self.useLearning
        let chunks = stride(from: 0, to: ranges.count, by: chunkSize).map { Array(ranges[$0..<min($0 + chunkSize, ranges.count)]) }
        return await withTaskGroup(of: (Int, [String]).self) { group in
            for (index, chunk) in chunks.enumerated() {
                group.addTask {
                    let worker = LineWorker(engine: engine, inputs: inputs, router: router, useLearning: useLearning)
                    return (index, chunk.map { worker.route(lineNumber: $0.number, bytes: bytes[$0.range]) })
                }
            }
            var results = [[String]](repeating: [], count: chunks.count)
            for await (index, lines) in group { results[index] = lines }
            return results.flatMap { $0 }
        }
    }
}

/// The JSON id of a batch line: a string or an integer, echoed back as given.
public enum BatchTaskID: Sendable, Codable, Hashable, CustomStringConvertible {
    case string(String)
    case integer(Int)

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int.self) { self = .integer(i) } else { self = .string(try c.decode(String.self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .integer(let i): try c.encode(i)
        }
    }

    public var description: String {
        switch self {
        case .string(let s): s
        case .integer(let i): String(i)
        }
    }
}

/// Routes lines of one chunk, with its own decoder and encoder.
private struct LineWorker {
    let engine: RoutingEngine
    let inputs: RoutingInputs
    let router: ModelRouter
    let useLearning: Bool
    let decoder = JSONDecoder()
    let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    struct InputLine: Decodable {
        var id: BatchTaskID?
        var prompt: String?
        var type: String?
    }

    struct OutputLine: Encodable {
        var id: BatchTaskID
        var modelName: String
        var complexity: ComplexityScore
        var reason: String
        var fallbackModels: [String]
        var estimatedCost: Double
        /// How likely a strong model is needed, from learned outcomes (the complexity score before any).
        var predictedDifficulty: Double
    }

    struct ErrorLine: Encodable {
        struct Detail: Encodable { var code: String; var message: String }
        var id: BatchTaskID?
        var line: Int
        var error: Detail
    }

    func route(lineNumber: Int, bytes: ArraySlice<UInt8>) -> String {
        let parsed: InputLine
        do {
            parsed = try decoder.decode(InputLine.self, from: Data(bytes))
        } catch {
            return failure(nil, lineNumber, "INVALID_INPUT", "line \(lineNumber): not a JSON object with \"id\" and \"prompt\" (\(Self.describe(error)))")
        }
        guard let id = parsed.id else {
            return failure(nil, lineNumber, "INVALID_INPUT", "line \(lineNumber): \"id\" is missing")
        }
        guard let prompt = parsed.prompt else {
            return failure(id, lineNumber, "INVALID_INPUT", "line \(lineNumber): \"prompt\" is missing")
        }
        var type: TaskType?
        if let raw = parsed.type {
            guard let t = TaskType(rawValue: raw) else {
                return failure(id, lineNumber, "INVALID_INPUT",
                               "line \(lineNumber): unknown type '\(raw)'; known: \(TaskType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            type = t
        }
        let task = RoutingTask(taskId: id.description, prompt: prompt, type: type)
        do {
            let score = router.score(task)
            var inputs = inputs
            if useLearning { inputs.learning = router.learningInputs(task, engine: engine, score: score, live: false) }
            let selection = try engine.decide(task, score: score, inputs: inputs)
            let out = OutputLine(id: id, modelName: selection.modelName, complexity: selection.complexity,
                                 reason: selection.reason, fallbackModels: selection.fallbackModels, estimatedCost: selection.estimatedCost,
                                 predictedDifficulty: router.predictedDifficulty(score, tenantId: nil))
            return try String(decoding: encoder.encode(out), as: UTF8.self)
        } catch let error as RouterError {
            return failure(id, lineNumber, error.code.rawValue, "line \(lineNumber): \(error.message)")
        } catch {
            return failure(id, lineNumber, "INTERNAL", "line \(lineNumber): \(error)")
        }
    }

    private func failure(_ id: BatchTaskID?, _ line: Int, _ code: String, _ message: String) -> String {
        let body = ErrorLine(id: id, line: line, error: .init(code: code, message: message))
        if let data = try? encoder.encode(body) { return String(decoding: data, as: UTF8.self) }
        return "{\"line\":\(line),\"error\":{\"code\":\"\(code)\",\"message\":\"unencodable error\"}}"
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx),
             DecodingError.keyNotFound(_, let ctx), DecodingError.dataCorrupted(let ctx):
            let path = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? ctx.debugDescription : "\(path): \(ctx.debugDescription)"
        default:
            return "\(error)"
        }
    }
}
