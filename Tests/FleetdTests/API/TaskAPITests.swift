import Fleet
import Foundation
import Hummingbird
import HummingbirdTesting
import Providers
import Testing

/// `POST /v1/tasks`, `GET /v1/tasks/{id}` and `POST /v1/route`, in process (no socket).
@Suite("HTTP API: tasks and routes", .timeLimit(.minutes(1)))
struct TaskAPITests {
    static let simplePrompt = "Hi! How are you doing today?"
    static let complexPrompt = """
    Design the architecture of a distributed rate limiter for a multi-region API gateway. Prove that your \
    token-bucket synchronisation cannot double-spend under a network partition, reason step by step about every \
    race condition and edge case, and compare three alternatives with their trade-offs.
    """

    @Test("POST /v1/tasks answers one JSON result from the built-in responder; GET /v1/tasks/{id} finds it")
    func jsonResultFromTheBuiltinResponder() async throws {
        try await withFleetd(APIConfig.builtin()) { client, _ in
            let response = try await client.send(.post, "/v1/tasks", json: #"{"prompt": "\#(Self.simplePrompt)", "id": "t-json-1"}"#,
                                                 headers: [requestIDHeader: "req-42"])
            #expect(response.status == .ok, "\(response.text)")
            #expect(response.headers[.contentType] == "application/json")
            #expect(response.headers[requestIDHeader] == "req-42", "the client's request id comes back")
            let result = response.object
            #expect(result["taskId"] as? String == "t-json-1")
            #expect((result["output"] as? String)?.hasPrefix(BuiltinProvider.label) == true, "\(response.text)")
            #expect(result["model"] as? String == "quick")
            #expect(result["provider"] as? String == "builtin")
            #expect(result["localDefault"] as? Bool == true)
            #expect(result["streamed"] as? Bool == false)
            #expect(jsonValue(result, "selection.modelName") as? String == "quick")
            #expect((jsonValue(result, "usage.outputTokens") as? Int ?? 0) > 0)

            let record = try await client.send(.get, "/v1/tasks/t-json-1")
            #expect(record.status == .ok, "\(record.text)")
            #expect(record.object["status"] as? String == "completed")
            #expect(record.object["model"] as? String == "quick")
            #expect(jsonValue(record.object, "result.output") as? String == result["output"] as? String)
        }
    }

    @Test("a config with no model answers every task with the built-in responder, labelled as such")
    func noModelsMeansTheBuiltinResponder() async throws {
        try await withFleetd(APIConfig.noModels) { client, _ in
            let response = try await client.send(.post, "/v1/tasks", json: #"{"prompt": "Write a haiku about snow"}"#)
            #expect(response.status == .ok, "\(response.text)")
            #expect(response.object["model"] as? String == EffectiveModels.builtinName)
            #expect(response.object["localDefault"] as? Bool == true)
            #expect((response.object["output"] as? String)?.hasPrefix(BuiltinProvider.label) == true)
        }
    }

    @Test("GET /v1/tasks/{id} of an unknown task is a 404 naming the id")
    func unknownTaskIs404() async throws {
        try await withFleetd(APIConfig.builtin()) { client, _ in
            let response = try await client.send(.get, "/v1/tasks/no-such-task")
            #expect(response.status == .notFound)
            #expect(response.apiError["code"] as? String == "UNKNOWN_TASK")
            #expect(response.apiError["field"] as? String == "id")
            #expect((response.apiError["message"] as? String)?.contains("no-such-task") == true)
        }
    }

    /// A bad body, and the error fleetd must answer it with.
    struct BadInput: Sendable, CustomStringConvertible {
        var body: String
        var code: String
        var field: String?
        var description: String { body.isEmpty ? "(empty body)" : body }
    }

    static let badInputs: [BadInput] = [
        BadInput(body: "{}", code: "MISSING_FIELD", field: "prompt"),
        BadInput(body: #"{"prompt": 42}"#, code: "WRONG_TYPE", field: "prompt"),
        BadInput(body: #"{"prompt": "   "}"#, code: "INVALID_VALUE", field: "prompt"),
        BadInput(body: #"{"prompt": " \t\n\r\u00a0\u3000 "}"#, code: "INVALID_VALUE", field: "prompt"),
        BadInput(body: #"{"prompt": "hi", "maxTokens": "many"}"#, code: "WRONG_TYPE", field: "maxTokens"),
        BadInput(body: #"{"prompt": "hi", "maxTokens": 0}"#, code: "INVALID_VALUE", field: "maxTokens"),
        BadInput(body: #"{"prompt": "hi", "type": "poetry"}"#, code: "INVALID_VALUE", field: "type"),
        BadInput(body: #"{"prompt": "hi", "constraints": {"maxCost": "cheap"}}"#, code: "WRONG_TYPE", field: "constraints.maxCost"),
        BadInput(body: #"{"prompt": "hi", "constraints": {"maxCost": -1}}"#, code: "INVALID_VALUE", field: "constraints.maxCost"),
        BadInput(body: #"{"prompt": "hi", "constraints": {"minQuality": 1.5}}"#, code: "INVALID_VALUE", field: "constraints.minQuality"),
        BadInput(body: #"{"prompt": "hi", "constraints": {"maxLatencyMs": -5}}"#, code: "INVALID_VALUE", field: "constraints.maxLatencyMs"),
        BadInput(body: #"{"prompt": "hi", "subtasks": [{"context": "no prompt"}]}"#, code: "MISSING_FIELD", field: "subtasks[0].prompt"),
        BadInput(body: #"{"prompt": null}"#, code: "WRONG_TYPE", field: "prompt"),
        BadInput(body: #"{"prompt": "hi", "maxTokens": 1.5}"#, code: "INVALID_VALUE", field: "maxTokens"),
        BadInput(body: #"{"prompt": "hi", "maxTokens": 1e20}"#, code: "INVALID_VALUE", field: "maxTokens"),
        BadInput(body: #"{"prompt": "hi", "subtasks": "both"}"#, code: "WRONG_TYPE", field: "subtasks"),
        BadInput(body: #"{"prompt": "hi", "stream": "yes"}"#, code: "WRONG_TYPE", field: "stream"),
        BadInput(body: #"{"prompt": "hi", "privacy": "secret"}"#, code: "INVALID_VALUE", field: "privacy"),
        BadInput(body: #"{"prompt": "hi", "constraints": [1]}"#, code: "WRONG_TYPE", field: "constraints"),
        BadInput(body: #"{"prompt": "hi", "properties": {"region": 5}}"#, code: "WRONG_TYPE", field: "properties.region"),
        BadInput(body: #"{"prompt": "hi", "subtasks": [null]}"#, code: "WRONG_TYPE", field: "subtasks[0]"),
        BadInput(body: #"{"prompt": "hi", "subtasks": [{"prompt": "a", "maxTokens": "x"}]}"#, code: "WRONG_TYPE", field: "subtasks[0].maxTokens"),
        BadInput(body: #"["hi"]"#, code: "WRONG_TYPE", field: nil),
        BadInput(body: #"{"prompt": "hi", "agentType": "nobody"}"#, code: "UNKNOWN_AGENT_TYPE", field: "agentType"),
        BadInput(body: "this is not JSON", code: "BAD_JSON", field: nil),
        BadInput(body: "", code: "BAD_JSON", field: nil),
    ]

    @Test("bad input is a 400 whose error names the field, and runs nothing", arguments: badInputs)
    func badInputNamesTheField(_ input: BadInput) async throws {
        try await withFleetd(APIConfig.builtin()) { client, _ in
            let response = try await client.send(.post, "/v1/tasks", json: input.body)
            #expect(response.status == .badRequest, "\(response.text)")
            #expect(response.headers[.contentType] == "application/json")
            #expect(response.apiError["code"] as? String == input.code, "\(response.text)")
            #expect(response.apiError["field"] as? String == input.field, "\(response.text)")
            if let field = input.field, input.code != "UNKNOWN_AGENT_TYPE" {
                #expect((response.apiError["message"] as? String)?.contains(field) == true, "\(response.text)")
            }
            let agents = try await client.send(.get, "/v1/agents").object["agents"] as? [[String: Any]] ?? []
            #expect(agents.count == 3)
            #expect(agents.allSatisfy { $0["completed"] as? Int == 0 && $0["failed"] as? Int == 0 }, "no agent ran anything")
        }
    }

    @Test("a body over api.maxBodyBytes gets 413; one under it is served")
    func oversizedBodyIs413() async throws {
        try await withFleetd(APIConfig.builtin(maxBodyBytes: 512)) { client, _ in
            let small = #"{"prompt": "\#(String(repeating: "word ", count: 80))"}"#
            let large = #"{"prompt": "\#(String(repeating: "word ", count: 120))"}"#
            #expect(small.utf8.count < 512 && large.utf8.count > 512)
            for path in ["/v1/tasks", "/v1/route"] {
                let refused = try await client.send(.post, path, json: large)
                #expect(refused.status == .contentTooLarge, "\(path): \(refused.text)")
                #expect(refused.apiError["code"] as? String == "BODY_TOO_LARGE")
                let served = try await client.send(.post, path, json: small)
                #expect(served.status == .ok, "\(path): \(served.text)")
            }
        }
    }

    @Test("POST /v1/route explains the pick, the candidates and the fallbacks without running the task")
    func routeExplainsWithoutRunning() async throws {
        try await withFleetd(APIConfig.builtin()) { client, _ in
            let simple = try await client.send(.post, "/v1/route", json: #"{"prompt": "\#(Self.simplePrompt)", "id": "route-1"}"#)
            #expect(simple.status == .ok, "\(simple.text)")
            #expect(simple.object["modelName"] as? String == "quick")
            #expect(simple.object["routed"] as? Bool == true)
            #expect(!(simple.object["reason"] as? String ?? "").isEmpty)
            #expect((jsonValue(simple.object, "complexity.overall") as? Double ?? 1) < 0.45)
            let candidates = jsonValue(simple.object, "trace.candidates") as? [[String: Any]] ?? []
            let deep = candidates.first { $0["modelName"] as? String == "deep" }
            let deepRange = (deep?["decisions"] as? [[String: Any]])?.first { $0["stage"] as? String == "complexityRange" }
            #expect(deepRange?["passed"] as? Bool == false, "deep is out of range for a simple prompt: \(simple.text)")

            let complex = try await client.send(.post, "/v1/route", json: #"{"prompt": "\#(Self.complexPrompt)"}"#)
            #expect(complex.status == .ok, "\(complex.text)")
            #expect(complex.object["modelName"] as? String == "deep")
            #expect(complex.object["fallbackModels"] as? [String] == ["quick"], "the default model is the fallback")

            // The agent type's role applies as it would for a real task: coder's default task type is code.
            let coder = try await client.send(.post, "/v1/route", json: #"{"prompt": "\#(Self.simplePrompt)", "agentType": "coder"}"#)
            #expect(jsonValue(coder.object, "complexity.taskType") as? String == "code", "\(coder.text)")

            // Explaining ran nothing: no task record, no cost entry.
            #expect(try await client.send(.get, "/v1/tasks/route-1").status == .notFound)
            let costs = try await client.send(.get, "/v1/costs")
            #expect(jsonValue(costs.object, "report.total.entries") as? Int == 0, "\(costs.text)")
        }
    }

    @Test("an image, audio or video task goes only to a model that takes that input; none is a 400 naming why, as for an attached image")
    func mediaTaskTypesNeedTheirInput() async throws {
        // quick and deep take text only.
        try await withFleetd(APIConfig.builtin()) { client, _ in
            for type in ["image", "audio", "video"] {
                let refused = try await client.send(.post, "/v1/tasks", json: #"{"prompt": "What is in it?", "type": "\#(type)"}"#)
                #expect(refused.status == .badRequest, "\(type): \(refused.text)")
                #expect(refused.apiError["code"] as? String == "REQUEST_UNSUPPORTED", "\(type): \(refused.text)")
                let message = refused.apiError["message"] as? String ?? ""
                #expect(message.contains("quick: cannot take \(type) input (task type \(type))"), "\(message)")
                // The route's explanation answers the same.
                let route = try await client.send(.post, "/v1/route", json: #"{"prompt": "What is in it?", "type": "\#(type)"}"#)
                #expect(route.status == .badRequest && route.apiError["code"] as? String == "REQUEST_UNSUPPORTED", "\(type): \(route.text)")
            }
            let text = try await client.send(.post, "/v1/tasks", json: #"{"prompt": "What is in it?", "type": "text"}"#)
            #expect(text.status == .ok, "\(text.text)")
        }
        // A model that takes images serves the image task.
        let withEyes = APIConfig.builtin().replacingOccurrences(
            of: "complexityRange: {min: 0.45, max: 1.0}}",
            with: "complexityRange: {min: 0.45, max: 1.0}}\n    - {name: eyes, provider: builtin, model: fleetd-builtin, capabilities: {inputModalities: [text, image]}}")
        try await withFleetd(withEyes) { client, _ in
            let served = try await client.send(.post, "/v1/tasks", json: #"{"prompt": "What is in it?", "type": "image"}"#)
            #expect(served.status == .ok && served.object["model"] as? String == "eyes", "\(served.text)")
        }
        // With the router off (v1.0.4's path) the default model serves every task, as it did.
        try await withFleetd(APIConfig.builtin(), environment: ["FLEETD_ENVIRONMENT": "legacy"]) { client, _ in
            let legacy = try await client.send(.post, "/v1/tasks", json: #"{"prompt": "What is in it?", "type": "image"}"#)
            #expect(legacy.status == .ok && legacy.object["model"] as? String == "quick", "\(legacy.text)")
        }
    }

    @Test("a preferredModel no configured model has is not refused (v1.0.4 ran such tasks): the result's and the route's reason say so, naming the models")
    func unknownPreferredModelIsNamedInTheReason() async throws {
        try await withFleetd(APIConfig.builtin()) { client, _ in
            let body = #"{"prompt": "\#(Self.simplePrompt)", "preferredModel": "qiuck"}"#
            let note = "preferred model 'qiuck' is not configured (configured: quick, deep)"
            let response = try await client.send(.post, "/v1/tasks", json: body)
            #expect(response.status == .ok, "\(response.text)")
            let reason = jsonValue(response.object, "selection.reason") as? String ?? ""
            #expect(reason.contains(note), "\(reason)")
            let route = try await client.send(.post, "/v1/route", json: body)
            let explained = route.object["reason"] as? String ?? ""
            #expect(route.status == .ok && explained.contains(note), "\(route.text)")
        }
    }
}
