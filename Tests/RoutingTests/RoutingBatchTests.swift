import Foundation
import Routing
import Testing

@Suite("Batch routing and rendering")
struct RoutingBatchTests {
    func router() -> ModelRouter {
        ModelRouter(configuration: Seed.configuration(defaultModel: "claude-sonnet-4.5"),
                    scorer: FixedScorer(scores: ["easy": 0.1, "hard": 0.9]))
    }

    func objects(_ lines: [String]) throws -> [[String: Any]] {
        try lines.map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    @Test("one line out per line in, in order, with the input id; bad lines get an error naming the line")
    func batchLines() async throws {
        let input = """
        {"id": "a", "prompt": "easy"}
        {"id": 2, "prompt": "hard", "type": "code"}
        not json

        {"id": "c", "prompt": "hard", "type": "poetry"}
        {"prompt": "no id"}
        {"id": "e", "prompt": "easy"}\r
        """
        let lines = await RoutingBatch(router: router(), chunkSize: 2).lines(Data(input.utf8))
        #expect(lines.count == 6)
        let o = try objects(lines)
        #expect(o[0]["id"] as? String == "a")
        #expect(o[0]["modelName"] as? String == "claude-haiku-4")
        #expect((o[0]["complexity"] as? [String: Any])?["overall"] as? Double == 0.1)
        #expect(((o[0]["complexity"] as? [String: Any])?["factors"] as? [String: Any])?["codeComplexity"] as? Double == 0.2)
        #expect(o[0]["fallbackModels"] as? [String] == ["claude-sonnet-4.5"])
        #expect((o[0]["reason"] as? String)?.contains("fits claude-haiku-4") == true)
        #expect(o[1]["id"] as? Int == 2)
        #expect(o[1]["modelName"] as? String == "claude-opus-4")
        #expect((o[1]["complexity"] as? [String: Any])?["taskType"] as? String == "code")
        let bad = try #require(o[2]["error"] as? [String: Any])
        #expect(o[2]["line"] as? Int == 3)
        #expect(bad["code"] as? String == "INVALID_INPUT")
        #expect((bad["message"] as? String)?.hasPrefix("line 3: not a JSON object") == true)
        #expect(o[3]["line"] as? Int == 5)  // the blank line 4 is skipped, numbering is kept
        #expect(o[3]["id"] as? String == "c")
        #expect(((o[3]["error"] as? [String: Any])?["message"] as? String)?.contains("unknown type 'poetry'") == true)
        #expect(((o[4]["error"] as? [String: Any])?["message"] as? String) == "line 6: \"id\" is missing")
        #expect(o[5]["id"] as? String == "e" && o[5]["modelName"] as? String == "claude-haiku-4")
    }

    @Test("a routing failure on one line is that line's error; the rest go on")
    func routingErrorPerLine() async throws {
        let r = ModelRouter(configuration: Seed.configuration([Seed.haiku]), scorer: FixedScorer(scores: ["easy": 0.1, "hard": 0.9]))
        let data = await RoutingBatch(router: r).run(Data("{\"id\":1,\"prompt\":\"hard\"}\n{\"id\":2,\"prompt\":\"easy\"}\n".utf8))
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        let o = try objects(lines)
        #expect(((o[0]["error"] as? [String: Any])?["code"] as? String) == "ROUTER_001")
        #expect(((o[0]["error"] as? [String: Any])?["message"] as? String)?.contains("claude-haiku-4: score 0.90 outside 0.00–0.40") == true)
        #expect(o[1]["modelName"] as? String == "claude-haiku-4")
    }

    @Test("10,000 lines keep their order across chunks")
    func order() async throws {
        var input = ""
        for i in 0..<10_000 { input += "{\"id\":\(i),\"prompt\":\"\(i % 2 == 0 ? "easy" : "hard")\"}\n" }
        let lines = await RoutingBatch(router: router(), chunkSize: 333).lines(Data(input.utf8))
        #expect(lines.count == 10_000)
        let o = try objects(lines)
        for (i, obj) in o.enumerated() {
            #expect(obj["id"] as? Int == i)
            #expect(obj["modelName"] as? String == (i % 2 == 0 ? "claude-haiku-4" : "claude-opus-4"))
        }
    }
}
