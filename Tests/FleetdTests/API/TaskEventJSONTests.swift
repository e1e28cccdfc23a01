import Agents
import FleetSupport
import Foundation
import Streaming
import Testing
@testable import fleetd

/// The hand-written JSON of a stream's `start` and `chunk` events and of a task's result is the
/// text `FastJSONEncoder` writes for the same value, byte for byte; a result of another shape
/// falls back to the encoder.
@Suite struct TaskEventJSONTests {
    static let texts = ["", "token", "say \"hi\"\\ and\nnew\tlines\r", "é – 🙂 日本", "\u{1}\u{1f}</script>", String(repeating: "x", count: 5_000)]

    static func encoded<Value: Encodable>(_ value: Value) throws -> String {
        String(decoding: try FastJSONEncoder().encode(value), as: UTF8.self)
    }

    static func decode<Value: Decodable>(_ type: Value.Type, _ json: String) throws -> Value {
        try JSONDecoder().decode(type, from: Data(json.utf8))
    }

    @Test func chunksMatchTheEncoder() throws {
        for text in Self.texts {
            for sequence in [0, 7, 123_456_789] {
                let chunk = StreamChunk(streamId: "stream-1796199254905-ezm9u6u\u{7f}", sequence: sequence, text: text)
                #expect(String(decoding: TaskEventJSON.chunk(chunk), as: UTF8.self) == (try Self.encoded(chunk)))
            }
        }
    }

    @Test func startsMatchTheEncoder() throws {
        for (complexity, fallbacks) in [(0.0, "[]"), (0.01471110610291504, #"["gemini-2.5-flash","local-builtin"]"#), (1e-7, #"["a\"b"]"#), (0.30000000000000004, #"["x"]"#)] {
            for reason in Self.texts {
                let json = """
                {"taskId":"task-1","agentId":"general-2","agentType":"general","model":"gpt-4o-mini","provider":"openai","streaming":true,
                 "routed":false,"reason":\(try Self.encoded(reason)),"fallbackModels":\(fallbacks),"complexity":\(complexity),"localDefault":true}
                """
                let start = try Self.decode(TaskStart.self, json)
                let written = try #require(TaskEventJSON.handWritten(start))
                #expect(String(decoding: written, as: UTF8.self) == (try Self.encoded(start)))
            }
        }
    }

    static func resultJSON(output: String = "token token", cost: String = "7.8e-06", extra: String = "", alerts: String = "[]",
                           fallbacks: String = #"["gemini-2.5-flash","claude-haiku","local-builtin"]"#) throws -> String {
        """
        {"taskId":"task-1796197515052-rdb4k3fd","status":"completed","output":\(try encoded(output)),"model":"gpt-4o-mini",
         "provider":"openai","agentId":"general-2",
         "usage":{"inputTokens":12,"outputTokens":10,"cachedTokens":3,"cacheWriteTokens":0,"cacheWriteHourTokens":1},
         "cost":\(cost),"streamed":false,"synchronousFallback":true,"attempts":2,"durationMs":6.930058,"localDefault":false,
         "backpressureEvents":4,
         "selection":{"modelName":"gpt-4o-mini","routed":true,"reason":"complexity 0.01 (chat) fits gpt-4o-mini's range 0.00–0.40",
           "complexity":{"overall":0.01471110610291504,"factors":{"tokenCount":0.03677776525728752,"codeComplexity":0,"contextSize":0.5,
             "requiresReasoning":1,"requiresCreativity":0.25},"taskType":"chat","estimatedInputTokens":5,"estimatedOutputTokens":77},
           "fallbackModels":\(fallbacks),"estimatedCost":4.6949999999999996e-05,"alerts":\(alerts)}\(extra)}
        """
    }

    @Test func resultsMatchTheEncoder() throws {
        let shapes = [
            try Self.resultJSON(),
            try Self.resultJSON(cost: "0", fallbacks: "[]"),
            try Self.resultJSON(cost: "1234.5", extra: #","finishReason":"stop""#),
            try Self.resultJSON(extra: #","cache":"hit","cacheSavedUSD":0.00012,"finishReason":"end_turn""#),
            try Self.resultJSON(extra: #","cache":"miss""#),
        ] + (try Self.texts.map { try Self.resultJSON(output: $0) })
        for json in shapes {
            let result = try Self.decode(TaskResult.self, json)
            let written = try #require(TaskEventJSON.handWritten(result))
            #expect(String(decoding: written, as: UTF8.self) == (try Self.encoded(result)))
        }
    }

    @Test("a result of a less common shape is left to the encoder")
    func otherShapesFallBack() throws {
        let alerts = try Self.decode(TaskResult.self, try Self.resultJSON(alerts: #"[{"code":"COST_002","message":"80% of the daily budget"}]"#))
        #expect(TaskEventJSON.handWritten(alerts) == nil)
        let subtasks = try Self.decode(TaskResult.self, try Self.resultJSON(extra: #","subtasks":[]"#))
        #expect(TaskEventJSON.handWritten(subtasks) == nil)
        var notFinite = try Self.decode(TaskResult.self, try Self.resultJSON())
        notFinite.durationMs = .infinity
        #expect(TaskEventJSON.handWritten(notFinite) == nil)
        #expect(throws: (any Error).self) { try FastJSONEncoder().encode(notFinite) }
        // What the routes call: the encoder's answer (here its error) when the hand writer gives up.
        #expect(throws: (any Error).self) { try TaskEventJSON.bytes(of: notFinite) }
        #expect(String(decoding: try TaskEventJSON.bytes(of: alerts), as: UTF8.self) == (try Self.encoded(alerts)))
    }
}
