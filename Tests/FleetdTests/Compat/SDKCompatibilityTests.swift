import FakeProvider
import FleetSupport
import Foundation
import Synchronization
import Testing

/// The official `openai` and `anthropic` Python SDKs (pinned in Tests/SDK/requirements.txt, in the
/// venv `scripts/sdk-venv` keeps) against the real `fleetd` binary over loopback, its models served
/// by the fake provider replaying recorded transcripts. Each test runs one check of
/// Tests/SDK/sdk_checks.py (what the SDK parsed) and then checks here what the provider received.
@Suite(.serialized) struct SDKCompatibilityTests {
    /// `.venv-sdk/bin/python`, made (or found up to date) once per test run by `scripts/sdk-venv`.
    static func python() async throws -> String {
        if let known = venv.withLock({ $0 }) { return try known.get() }
        let run = await runToEnd(URL(fileURLWithPath: "/usr/bin/nice"),
                                 ["-n", "15", "bash", repositoryRoot.appendingPathComponent("scripts/sdk-venv").path], environment: nil)
        let result: Result<String, SDKSetupError>
        if run.status == 0, let path = run.stdout.split(separator: "\n").last.map(String.init) {
            result = .success(path)
        } else {
            result = .failure(SDKSetupError(log: run.stdout + run.stderr))
        }
        venv.withLock { $0 = result }
        return try result.get()
    }

    private static let venv = Mutex<Result<String, SDKSetupError>?>(nil)

    /// Runs a program to its end: status, standard output and standard error (the process's
    /// own environment when `environment` is nil).
    static func runToEnd(_ executable: URL, _ arguments: [String], environment: [String: String]?) async -> (status: Int32, stdout: String, stderr: String) {
        do {
            let run = try await ChildProcess.run(executable: executable.path, arguments: arguments,
                                                 environment: environment ?? ProcessInfo.processInfo.environment)
            return (run.status, String(decoding: run.output, as: UTF8.self), String(decoding: run.error, as: UTF8.self))
        } catch {
            return (-1, "", "\(error)")
        }
    }

    struct SDKSetupError: Error, CustomStringConvertible {
        var log: String
        var description: String { "scripts/sdk-venv failed:\n\(log)" }
    }

    static let repositoryRoot = FixturePaths.root.deletingLastPathComponent().deletingLastPathComponent()
    static let checks = repositoryRoot.appendingPathComponent("Tests/SDK/sdk_checks.py")

    /// Answers by wire format: recorded transcripts for text, tool calls and 429s.
    static let script = FakeScript { request, _ in
        let body = request.jsonBody ?? [:]
        let text = String(decoding: request.body, as: UTF8.self)
        let stream = body["stream"] as? Bool ?? false
        let callsTools = body["tools"] != nil && !text.contains("tool_result") && !text.contains(#""role":"tool""#)
        let name: String
        let thinks = (body["thinking"] as? [String: Any])?["type"] as? String == "enabled"
        if request.path == "/v1/messages", thinks, !text.contains("RATELIMITME") {
            name = !stream ? "anthropic-nonstream-thinking-derived.json"
                : text.contains("REDACTME") ? "anthropic-stream-redacted-thinking-recorded.sse"
                : callsTools ? "anthropic-stream-thinking-tool-use-recorded.sse" : "anthropic-stream-thinking-recorded.sse"
        } else if request.path == "/v1/messages", (body["output_config"] as? [String: Any])?["format"] != nil {
            name = "anthropic-nonstream-structured-derived.json"
        } else if request.path == "/v1/messages" {
            name = text.contains("RATELIMITME") ? "anthropic-error-429-rate-limit.http"
                : !stream ? "anthropic-nonstream-docs-example.json"
                : callsTools ? "anthropic-stream-sdkfixture-tool-use.sse" : "anthropic-stream-sdkfixture-basic.sse"
        } else if body["response_format"] != nil, !stream {
            name = text.contains("anthrax") ? "openai-chat-nonstream-sdksnapshot-refusal.json" : "openai-chat-nonstream-sdksnapshot-structured.json"
        } else {
            name = text.contains("RATELIMITME") ? "openai-error-429-rate-limit.http"
                : !stream ? "openai-chat-nonstream-sdksnapshot.json"
                : callsTools ? "openai-chat-stream-sdksnapshot-toolcall-usage.sse" : "openai-chat-stream-sdksnapshot-text-usage.sse"
        }
        return (try? FakeResponse.fixture("providers/\(name)")) ?? .status(500, body: #"{"error":"fixture missing"}"#)
    }

    /// An Anthropic-format model for simple prompts, an OpenAI-format one for complex prompts,
    /// and an OpenAI-format model that takes images.
    static func config(baseURL: String, streaming: Bool = true, budget: String = "budgetLimits: {daily: 1000}") -> String {
        """
        fleet: {id: sdk, maxAgents: 4, taskTimeout: 20000}
        agents:
          - {type: general, count: 2}
          - {type: coder, count: 1}
        api: {host: 127.0.0.1}
        features: {multiModelRouter: true, streaming: \(streaming)}
        routing:
          enabled: true
          defaultModel: claude-cheap
          strategy: cost
          health: {failureThreshold: 3, cooldownSeconds: 60}
          models:
            - name: claude-cheap
              provider: anthropic
              model: claude-cheap-id
              credentials: {endpoint: "\(baseURL)"}
              capabilities: {inputModalities: [text, document], costPer1kTokens: {input: 0.001, output: 0.002}}
              complexityRange: {min: 0.0, max: 0.45}
            - name: gpt-strong
              provider: openai
              model: gpt-strong-id
              credentials: {endpoint: "\(baseURL)/v1"}
              capabilities: {inputModalities: [text, document], costPer1kTokens: {input: 0.01, output: 0.03}}
              complexityRange: {min: 0.45, max: 1.0}
            - name: vision
              provider: openai
              model: vision-id
              credentials: {endpoint: "\(baseURL)/v1"}
              capabilities: {inputModalities: [text, image], costPer1kTokens: {input: 0.005, output: 0.01}}
              complexityRange: {min: 0.0, max: 0.3}
          costTracking: {enabled: true, \(budget)}
        streaming:
          enabled: true
          timeoutMs: 15000
          retryConfig: {maxRetries: 0, backoffMs: 10}
        """
    }

    /// A fake provider and fleetd in front of it, for one test.
    struct Fleet {
        let fake: FakeProviderServer
        let fleetd: FleetdProcess

        /// Runs one SDK check; it passes when the check exits 0.
        func check(_ arguments: String...) async throws {
            let python = try await SDKCompatibilityTests.python()
            // Niced: the Python SDKs' start-up is CPU-heavy, and the other suites' timing tests run
            // beside this one on the same cores.
            let environment = FleetdProcess.baseEnvironment.merging(["FLEETD_URL": fleetd.baseURL]) { $1 }
            let run = await SDKCompatibilityTests.runToEnd(URL(fileURLWithPath: "/usr/bin/nice"),
                                                           ["-n", "15", python, SDKCompatibilityTests.checks.path] + arguments, environment: environment)
            #expect(run.status == 0, "SDK check \(arguments) failed:\n\(run.stderr)\nfleetd's log:\n\(fleetd.logText.suffix(3_000))")
            #expect(run.stdout.contains("ok \(arguments.joined(separator: " "))"), "\(run.stdout)")
        }

        /// The JSON bodies the provider received, in order.
        var upstream: [(path: String, body: [String: Any])] {
            fake.requests.map { ($0.path, $0.jsonBody ?? [:]) }
        }
    }

    func withFleet(streaming: Bool = true, budget: String? = nil, _ body: (Fleet) async throws -> Void) async throws {
        let fake = try await FakeProviderServer.start(script: Self.script)
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        let config = budget.map { Self.config(baseURL: fake.baseURL, streaming: streaming, budget: $0) }
            ?? Self.config(baseURL: fake.baseURL, streaming: streaming)
        try config.write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"))
        do {
            try await body(Fleet(fake: fake, fleetd: fleetd))
        } catch {
            fleetd.signal(SIGTERM)
            _ = await fleetd.waitForExit()
            await fake.shutdown()
            throw error
        }
        fleetd.signal(SIGTERM)
        _ = await fleetd.waitForExit()
        await fake.shutdown()
    }

    @Test func openAIPlainTextServedByAnAnthropicFormatProvider() async throws {
        try await withFleet { fleet in
            try await fleet.check("openai_text")
            let sent = fleet.upstream
            #expect(sent.map(\.path) == ["/v1/messages"])
            #expect(sent.first?.body["model"] as? String == "claude-cheap-id")
            let messages = sent.first?.body["messages"] as? [[String: Any]]
            #expect(messages?.count == 1 && messages?.first?["role"] as? String == "user")
            #expect(messages?.first?["content"] as? String == "What is the capital of France?")
        }
    }

    @Test func openAIStreamedTextWithUsage() async throws {
        try await withFleet { fleet in
            try await fleet.check("openai_stream")
            #expect(fleet.upstream.allSatisfy { $0.path == "/v1/messages" && $0.body["stream"] as? Bool == true })
        }
    }

    @Test func anthropicPlainTextServedByAnOpenAIFormatProvider() async throws {
        try await withFleet { fleet in
            try await fleet.check("anthropic_text")
            let sent = fleet.upstream
            #expect(sent.map(\.path) == ["/v1/chat/completions"])
            #expect(sent.first?.body["model"] as? String == "gpt-strong-id")
            #expect(sent.first?.body["max_tokens"] as? Int == 256)
        }
    }

    @Test func anthropicStreamedTextWithUsage() async throws {
        try await withFleet { fleet in
            try await fleet.check("anthropic_stream")
            #expect(fleet.upstream.allSatisfy { $0.path == "/v1/chat/completions" && $0.body["stream"] as? Bool == true })
            let options = fleet.upstream.first?.body["stream_options"] as? [String: Any]
            #expect(options?["include_usage"] as? Bool == true)
        }
    }

    @Test func multiTurnConversationsReachTheProviderWhole() async throws {
        try await withFleet { fleet in
            try await fleet.check("multi_turn")
            let sent = fleet.upstream
            #expect(sent.count == 2)
            // OpenAI dialect → Anthropic format: the system message becomes `system`.
            let anthropic = try #require(sent.first { $0.path == "/v1/messages" }?.body)
            #expect(anthropic["system"] as? String == "You are terse.")
            let turns = try #require(anthropic["messages"] as? [[String: Any]])
            #expect(turns.map { $0["role"] as? String } == ["user", "assistant", "user"])
            #expect(turns.map { $0["content"] as? String } == ["Name a colour.", "Blue.", "Another one?"])
            // Anthropic dialect → OpenAI format: `system` becomes the first message.
            let openAI = try #require(sent.first { $0.path == "/v1/chat/completions" }?.body)
            let messages = try #require(openAI["messages"] as? [[String: Any]])
            #expect(messages.map { $0["role"] as? String } == ["system", "user", "assistant", "user"])
            #expect(messages.map { $0["content"] as? String } == ["You are terse.", "Name a colour.", "Blue.", "Another one?"])
        }
    }

    @Test func openAIToolCallRoundTripThroughAnAnthropicFormatProvider() async throws {
        try await withFleet { fleet in
            try await fleet.check("openai_tools")
            let sent = fleet.upstream
            #expect(sent.count == 2 && sent.allSatisfy { $0.path == "/v1/messages" })
            let tools = try #require(sent.first?.body["tools"] as? [[String: Any]])
            #expect(tools.first?["name"] as? String == "get_weather" && tools.first?["input_schema"] != nil)
            #expect((sent.first?.body["tool_choice"] as? [String: Any])?["type"] as? String == "auto")
            // The second call carries the assistant's tool_use and the tool's result, paired by id.
            let turns = try #require(sent.last?.body["messages"] as? [[String: Any]])
            #expect(turns.map { $0["role"] as? String } == ["user", "assistant", "user"])
            let assistant = try #require(turns[1]["content"] as? [[String: Any]])
            #expect(assistant.map { $0["type"] as? String } == ["text", "tool_use"])
            #expect(assistant[1]["id"] as? String == "toolu_01NRLabsLyVHZPKxbKvkfSMn")
            #expect((assistant[1]["input"] as? [String: Any])?["location"] as? String == "Paris")
            let result = try #require((turns[2]["content"] as? [[String: Any]])?.first)
            #expect(result["type"] as? String == "tool_result" && result["tool_use_id"] as? String == "toolu_01NRLabsLyVHZPKxbKvkfSMn")
            #expect((result["content"] as? [[String: Any]])?.first?["text"] as? String == "18 degrees, light rain")
            #expect(result["is_error"] == nil)
            // The named user turn after the result joins it (Anthropic alternates roles), its name
            // left out; the SDK's strict tool stays strict (a Claude id without a version is taken as
            // current, and Claude 4.5 on enforce `strict`).
            #expect((turns[2]["content"] as? [[String: Any]])?.last?["text"] as? String == "And tomorrow?")
            let strictTool = try #require((sent.last?.body["tools"] as? [[String: Any]])?.first)
            #expect(strictTool["name"] as? String == "get_weather" && strictTool["strict"] as? Bool == true)
            #expect((strictTool["input_schema"] as? [String: Any])?["additionalProperties"] as? Bool == false)
        }
    }

    /// Extended thinking through the official SDK: streamed and not, in a tool loop, redacted, and
    /// asked of a model of another provider (recorded Claude answers; Tests/Fixtures/providers).
    @Test func anthropicExtendedThinking() async throws {
        try await withFleet { fleet in
            try await fleet.check("anthropic_thinking")
            try Self.checkThinkingUpstream(fleet.fake.requests)
        }
    }

    /// What the provider received in ``anthropicExtendedThinking()``.
    static func checkThinkingUpstream(_ requests: [RecordedRequest]) throws {
        let anthropic = requests.filter { $0.path == "/v1/messages" }.map { $0.jsonBody ?? [:] }
        let openAI = requests.filter { $0.path == "/v1/chat/completions" }
        #expect(anthropic.count == 5 && openAI.count == 1, "\(requests.map(\.path))")
        for body in anthropic {
            let thinking = body["thinking"] as? [String: Any]
            #expect(thinking?["budget_tokens"] as? Int == 1_024 && body["max_tokens"] as? Int == 2_048, "\(body)")
        }
        // The tool loop's second call: the thinking block back first, with its signature, then the call.
        let loop = try #require(anthropic.first { ($0["messages"] as? [Any])?.count == 3 })
        let turns = try #require(loop["messages"] as? [[String: Any]])
        let assistant = try #require(turns[1]["content"] as? [[String: Any]])
        #expect(assistant.map { $0["type"] as? String } == ["thinking", "tool_use"])
        let signature = assistant[0]["signature"] as? String ?? ""
        #expect(signature.hasPrefix("EoQDCm0IDhgCKkCDzGs2") && signature.count == 524, "\(signature)")
        #expect((assistant[0]["thinking"] as? String ?? "").hasPrefix("The user wants me to:"))
        // The OpenAI-format model got the conversation's text, none of its thinking.
        let wire = String(decoding: try #require(openAI.first).body, as: UTF8.self)
        #expect(!wire.contains("thinking") && !wire.contains("reasoning") && !wire.contains("signature") && !wire.contains("EqkECkYI"),
                "\(wire.prefix(600))")
        #expect(wire.contains("And at night?") && wire.contains("Here are the basic steps"), "\(wire.prefix(600))")
    }

    /// OpenAI's `reasoning_effort` through the official SDK: not sent to an OpenAI-format model that
    /// is no reasoning model, a thinking budget for a Claude model, whose thinking stays out of the
    /// OpenAI answer.
    @Test func openAIReasoningEffort() async throws {
        try await withFleet { fleet in
            try await fleet.check("openai_reasoning")
            let requests = fleet.fake.requests
            let openAI = requests.filter { $0.path == "/v1/chat/completions" }.map { $0.jsonBody ?? [:] }
            let anthropic = requests.filter { $0.path == "/v1/messages" }.map { $0.jsonBody ?? [:] }
            #expect(openAI.count == 1 && anthropic.count == 2, "\(requests.map(\.path))")
            #expect(openAI.first?["reasoning_effort"] == nil, "gpt-strong-id is no reasoning model")
            for body in anthropic {
                #expect((body["thinking"] as? [String: Any])?["budget_tokens"] as? Int == 1_024, "\(body)")
            }
        }
    }

    /// Documents through the official SDK: a PDF and a text document reach an Anthropic model as
    /// documents and an OpenAI-format one as a file part and text; a PDF by URL is refused for a
    /// model that cannot take it.
    @Test func anthropicDocuments() async throws {
        try await withFleet { fleet in
            try await fleet.check("anthropic_documents")
            let requests = fleet.fake.requests
            #expect(requests.map(\.path) == ["/v1/messages", "/v1/chat/completions"], "\(requests.map(\.path))")
            let anthropic = (requests.first?.jsonBody?["messages"] as? [[String: Any]])?.first?["content"] as? [[String: Any]] ?? []
            #expect(anthropic.map { $0["type"] as? String } == ["document", "document", "text"])
            #expect((anthropic.first?["source"] as? [String: Any])?["media_type"] as? String == "application/pdf" && anthropic.first?["title"] as? String == "tiny.pdf")
            let openAI = (requests.last?.jsonBody?["messages"] as? [[String: Any]])?.first?["content"] as? [[String: Any]] ?? []
            #expect(openAI.map { $0["type"] as? String } == ["file", "text", "text"])
            let file = openAI.first?["file"] as? [String: Any]
            #expect((file?["file_data"] as? String)?.hasPrefix("data:application/pdf;base64,JVBERi0") == true && file?["filename"] as? String == "tiny.pdf")
        }
    }

    /// Structured outputs through both SDKs' `parse()`: OpenAI's `response_format` reaches a
    /// Claude model as `output_config.format`, Anthropic's reaches a Claude model as it is and an
    /// OpenAI-format model as a strict `json_schema`; each SDK parses the JSON answer into its model.
    @Test func structuredOutputsAcrossFormats() async throws {
        try await withFleet { fleet in
            try await fleet.check("structured_outputs")
            let sent = fleet.upstream
            #expect(sent.map(\.path) == ["/v1/messages", "/v1/messages", "/v1/chat/completions", "/v1/chat/completions", "/v1/chat/completions"],
                    "json_object to Claude is refused before any call")
            for call in sent.prefix(2) {
                let format = try #require((call.body["output_config"] as? [String: Any])?["format"] as? [String: Any])
                let schema = try #require(format["schema"] as? [String: Any])
                #expect(format["type"] as? String == "json_schema" && schema["additionalProperties"] as? Bool == false)
                let properties = (schema["properties"] as? [String: Any]).map { Set($0.keys) }
                #expect(properties == ["name", "email", "plan_interest", "demo_requested"])
            }
            // In the model's order, which Claude generates them in.
            for call in fleet.fake.requests.prefix(2) {
                let text = String(decoding: call.body, as: UTF8.self)
                let places = ["\"name\":{", "\"email\":{", "\"plan_interest\":{", "\"demo_requested\":{"].map { text.range(of: $0)?.lowerBound }
                #expect(places.allSatisfy { $0 != nil } && places.compactMap { $0 } == places.compactMap { $0 }.sorted(), "\(text)")
            }
            #expect(sent.prefix(2).allSatisfy { $0.body["response_format"] == nil })
            let openAI = try #require(sent[2].body["response_format"] as? [String: Any])
            let schema = try #require(openAI["json_schema"] as? [String: Any])
            #expect(openAI["type"] as? String == "json_schema" && schema["name"] as? String == "response")
            #expect(schema["strict"] as? Bool == true, "the Anthropic SDK's schema fits OpenAI's strict mode")
            #expect(((schema["schema"] as? [String: Any])?["required"] as? [String])?.sorted() == ["city", "temperature", "units"])
        }
    }

    /// OpenAI's Responses API through the official SDK (Tests/SDK/sdk_checks.py `responses`): what
    /// each call sent the Anthropic-format model, and that refused calls sent nothing.
    @Test func responsesAPIThroughTheOfficialSDK() async throws {
        try await withFleet { fleet in
            try await fleet.check("responses")
            let sent = fleet.upstream
            #expect(sent.map(\.path) == Array(repeating: "/v1/messages", count: 4) + ["/v1/chat/completions"]
                    + Array(repeating: "/v1/messages", count: 7))
            guard sent.count == 12 else { return }
            #expect(sent[0].body["system"] as? String == "Be brief." && sent[0].body["stream"] as? Bool != true)
            #expect(sent[1].body["stream"] as? Bool == true)
            #expect((sent[2].body["tools"] as? [[String: Any]])?.first?["name"] as? String == "get_weather")
            // The second turn: the first turn's output items and the call's output, paired by id.
            let turns = try #require(sent[3].body["messages"] as? [[String: Any]])
            #expect(turns.map { $0["role"] as? String } == ["user", "assistant", "user"])
            let assistant = try #require(turns[1]["content"] as? [[String: Any]])
            #expect(assistant.map { $0["type"] as? String } == ["text", "tool_use"])
            #expect(assistant[1]["id"] as? String == "toolu_01NRLabsLyVHZPKxbKvkfSMn")
            let result = try #require((turns[2]["content"] as? [[String: Any]])?.first)
            #expect(result["type"] as? String == "tool_result" && result["tool_use_id"] as? String == "toolu_01NRLabsLyVHZPKxbKvkfSMn")
            // Parallel calls to an OpenAI-format model: one assistant message with both, then a
            // tool message each (Chat Completions refuses them split).
            let replayed = try #require(sent[4].body["messages"] as? [[String: Any]])
            #expect(replayed.map { $0["role"] as? String } == ["user", "assistant", "tool", "tool"])
            #expect((replayed[1]["tool_calls"] as? [[String: Any]])?.map { $0["id"] as? String } == ["call_p", "call_r"])
            #expect(replayed[2...].map { $0["tool_call_id"] as? String } == ["call_p", "call_r"])
            // previous_response_id: the kept conversation, then the new turn.
            let continued = try #require(sent[6].body["messages"] as? [[String: Any]])
            #expect(continued.map { $0["role"] as? String } == ["user", "assistant", "user"])
            #expect(continued.first?["content"] as? String == "Name a colour." && continued.last?["content"] as? String == "Another one?")
            let afterStream = try #require(sent[7].body["messages"] as? [[String: Any]])
            #expect(afterStream.map { $0["role"] as? String } == ["user", "assistant", "user"])
            #expect((afterStream[1]["content"] as? [[String: Any]])?.map { $0["type"] as? String } == ["text", "tool_use"])
            #expect(((afterStream[2]["content"] as? [[String: Any]])?.first)?["tool_use_id"] as? String == "toolu_01NRLabsLyVHZPKxbKvkfSMn")
            let format = try #require((sent[9].body["output_config"] as? [String: Any])?["format"] as? [String: Any])
            #expect(format["type"] as? String == "json_schema")
            for call in sent[10...11] {
                #expect((call.body["thinking"] as? [String: Any])?["budget_tokens"] as? Int == 1_024, "\(call.body)")
            }
        }
    }

    /// Claude Code's request shape is served: its system message inside the conversation reaches
    /// the Anthropic model in its place, as user text; what is not carried is not sent.
    @Test func claudeCodeShapedRequests() async throws {
        try await withFleet { fleet in
            try await fleet.check("claude_code_shapes")
            let sent = try #require(fleet.fake.requests.first)
            #expect(sent.path == "/v1/messages")
            let body = sent.jsonBody ?? [:]
            let turns = body["messages"] as? [[String: Any]] ?? []
            #expect(turns.map { $0["role"] as? String } == ["user", "assistant", "user"], "\(turns)")
            let texts = (turns.last?["content"] as? [[String: Any]] ?? []).map { $0["text"] as? String }
            #expect(texts == ["The user switched to plan mode.", "How do I cross the street?"], "\(texts)")
            let wire = String(decoding: sent.body, as: UTF8.self)
            for field in ["context_management", "betas", "diagnostics", "scope", "eager_input_streaming"] {
                #expect(!wire.contains("\"\(field)\""), "\(field) was sent: \(wire.prefix(800))")
            }
            #expect((body["thinking"] as? [String: Any])?["budget_tokens"] as? Int == 1_024)
            #expect((body["output_config"] as? [String: Any])?["effort"] as? String == "high")
            #expect((body["tools"] as? [[String: Any]])?.first?["strict"] as? Bool == true)
        }
    }

    @Test func anthropicToolCallRoundTripThroughAnOpenAIFormatProvider() async throws {
        try await withFleet { fleet in
            try await fleet.check("anthropic_tools")
            let sent = fleet.upstream
            #expect(sent.count == 2 && sent.allSatisfy { $0.path == "/v1/chat/completions" })
            let tools = try #require(sent.first?.body["tools"] as? [[String: Any]])
            #expect((tools.first?["function"] as? [String: Any])?["name"] as? String == "get_weather")
            let messages = try #require(sent.last?.body["messages"] as? [[String: Any]])
            #expect(messages.map { $0["role"] as? String } == ["user", "assistant", "tool"])
            let call = try #require((messages[1]["tool_calls"] as? [[String: Any]])?.first)
            #expect(call["id"] as? String == "call_4XzlGBLtUe9dy3GVNV4jhq7h")
            let arguments = try #require((call["function"] as? [String: Any])?["arguments"] as? String)
            #expect(arguments == #"{"city":"New York City"}"#)
            #expect(messages[2]["tool_call_id"] as? String == "call_4XzlGBLtUe9dy3GVNV4jhq7h")
            // Chat Completions has no error flag: the error is marked in the text.
            #expect(messages[2]["content"] as? String == "[tool error] weather service unavailable")
        }
    }

    @Test func imageInputIsRoutedToTheImageCapableModel() async throws {
        try await withFleet { fleet in
            try await fleet.check("image")
            let sent = fleet.upstream
            #expect(sent.count == 2)
            #expect(sent.allSatisfy { $0.body["model"] as? String == "vision-id" })
            for request in sent {
                let parts = (request.body["messages"] as? [[String: Any]])?.first?["content"] as? [[String: Any]] ?? []
                let url = parts.compactMap { ($0["image_url"] as? [String: Any])?["url"] as? String }.first
                #expect(url?.hasPrefix("data:image/png;base64,iVBORw0KGgo") == true, "\(parts)")
            }
        }
    }

    @Test func autoSendsSimpleAndComplexPromptsToDifferentModels() async throws {
        try await withFleet { fleet in
            try await fleet.check("auto_routing")
            #expect(fleet.upstream.compactMap { $0.body["model"] as? String } == ["claude-cheap-id", "gpt-strong-id", "gpt-strong-id"])
        }
    }

    @Test(arguments: ["openai", "openai_stream", "anthropic"])
    func providerRateLimitIsTheSDKsRateLimitError(variant: String) async throws {
        try await withFleet { fleet in
            try await fleet.check("rate_limit", variant)
            // Every model of the chain was tried (the simple prompt's: claude-cheap, then vision).
            #expect(Set(fleet.upstream.compactMap { $0.body["model"] as? String }) == ["claude-cheap-id", "vision-id"])
        }
    }

    @Test func aSpentBudgetIsEachSDKsOwnError() async throws {
        try await withFleet(budget: "budgetLimits: {daily: 0.0000001}, policy: block") { fleet in
            try await fleet.check("budget")
            #expect(fleet.fake.requests.isEmpty, "a refused budget calls no provider")
        }
    }

    @Test func streamingFlagOffStillAnswersInTheStreamFormat() async throws {
        try await withFleet(streaming: false) { fleet in
            try await fleet.check("stream_flag_off")
            #expect(fleet.upstream.count == 2)
            #expect(fleet.upstream.allSatisfy { $0.path == "/v1/messages" && $0.body["stream"] as? Bool == false })
        }
    }

    @Test func badParametersAreTheSDKsBadRequestErrorNamingThem() async throws {
        try await withFleet { fleet in
            try await fleet.check("bad_request")
            #expect(fleet.fake.requests.isEmpty, "a refused request must never reach a provider")
        }
    }

    /// `models.retrieve` in both SDKs; routes fleetd does not serve (`responses`, `embeddings`,
    /// `completions`, an Anthropic base URL ending in /v1) as each SDK's NotFoundError saying what
    /// to use; Anthropic's request-level `cache_control`, relayed to the Anthropic model.
    @Test func modelRetrievalUnknownRoutesAndRequestLevelCacheControl() async throws {
        try await withFleet { fleet in
            try await fleet.check("retrieve_and_unknown_routes")
            let sent = fleet.upstream
            #expect(sent.map(\.path) == ["/v1/messages"], "only the cache_control message reaches a provider")
            #expect(sent.first?.body["model"] as? String == "claude-cheap-id")
            #expect((sent.first?.body["cache_control"] as? [String: Any])?["type"] as? String == "ephemeral", "\(String(describing: sent.first?.body))")
            let system = sent.first?.body["system"] as? [[String: Any]]
            #expect(system?.first?["text"] as? String == "Be brief." && (system?.first?["cache_control"] as? [String: Any])?["ttl"] as? String == "1h",
                    "\(String(describing: sent.first?.body))")
        }
    }

    @Test func modelListsInEachDialectAndFleetdsOwn() async throws {
        try await withFleet { fleet in
            try await fleet.check("models")
            // fleetd's own callers send neither an SDK's auth header nor anthropic-version.
            let own = try await http(.GET, fleet.fleetd.baseURL + "/v1/models")
            #expect((own.json["models"] as? [[String: Any]])?.count == 3, "\(own.body)")
            let openAI = try await http(.GET, fleet.fleetd.baseURL + "/v1/models", headers: [("Authorization", "Bearer x")])
            #expect(openAI.json["object"] as? String == "list")
            let forced = try await http(.GET, fleet.fleetd.baseURL + "/v1/models?format=fleetd", headers: [("x-api-key", "x")])
            #expect(forced.json["models"] != nil)
        }
    }
}
