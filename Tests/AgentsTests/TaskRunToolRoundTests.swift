import Agents
import FakeProvider
import Foundation
import Logging
import Providers
import Streaming
import Testing

/// A task whose model writes some text, calls a tool, then answers: what the client is told
/// across the two model calls (`mcpTools`), with no tool server process (``LookupTool``).
@Suite("TaskRun: tool rounds", .timeLimit(.minutes(1)))
struct TaskRunToolRoundTests {
    static let settings = TaskSettings(useRouter: true, useStreaming: true, useTools: true)
    static let firstText = "Let me look. "

    /// The first call's answer: text, then a call to `lookup` (streamed: in two text chunks).
    static func toolAnswer(stream: Bool) -> FakeResponse {
        if stream {
            return .sse([
                #"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Let me "}}]}"#,
                #"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"look. "}}]}"#,
                #"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"snow\"}"}}]}}]}"#,
                #"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
                #"{"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":8,"total_tokens":20}}"#,
                "[DONE]",
            ])
        }
        let json = #"{"id":"c","object":"chat.completion","model":"fast","choices":[{"index":0,"message":{"role":"assistant","content":"Let me look. ","# +
            #""tool_calls":[{"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"snow\"}"}}]},"finish_reason":"tool_calls"}],"# +
            #""usage":{"prompt_tokens":12,"completion_tokens":8,"total_tokens":20}}"#
        return FakeResponse(headers: [("content-type", "application/json")], body: .bytes(Array(json.utf8)))
    }

    /// Runs one task (the tool call first, then three tokens of text) and returns its events and the upstream.
    static func run(stream: Bool, _ body: ([TaskEvent], FakeProviderServer) throws -> Void) async throws {
        try await withServer(.sequence([toolAnswer(stream: stream), .openAIText(stream: stream, chunks: 3)])) { fake in
            let tools = ToolExecutor(invoker: LookupTool(), limits: ToolLimits(), recorder: nil, logger: Logger(label: "tool-round-test"))
            let harness = try await RunHarness.make(models: [RunModels.fake("primary", fake)], defaultModel: "primary", tools: ["general": tools])
            defer { harness.remove() }
            let agent = Agent(id: "general-1", type: "general", role: AgentRole())
            let events = await agent.run(AgentTask(prompt: "Is snow cold?", stream: stream), settings: settings, runtime: harness.runtime).events()
            try body(events, fake)
        }
    }

    @Test("chunk sequence numbers run on across tool rounds, and complete's output is every round's text, streamed or not",
          arguments: [true, false])
    func sequenceAndOutputSpanTheRounds(streamed: Bool) async throws {
        try await Self.run(stream: streamed) { events, fake in
            let result = try #require(events.result, "\(events.map(\.name))")
            #expect(fake.requestCount == 2)
            let secondCall = String(decoding: fake.requests.last?.body ?? [], as: UTF8.self)
            #expect(secondCall.contains("snow is cold"), "the tool's result went back")
            #expect(result.toolUse?.rounds == 1 && result.toolUse?.exhausted == false)
            #expect(events.map(\.name).filter { $0 == "tool_call" || $0 == "tool_result" } == ["tool_call", "tool_result"])

            let sequences = events.compactMap { if case .chunk(let chunk) = $0 { chunk.sequence } else { nil } }
            #expect(sequences == Array(0..<sequences.count), "one numbering for the whole task: \(sequences)")
            #expect(sequences.count == (streamed ? 5 : 2), "\(sequences)")
            #expect(events.chunkTexts.first.map { Self.firstText.hasPrefix($0) } == true, "\(events.chunkTexts)")
            #expect(result.output == Self.firstText + (streamed ? "token token token " : "token token token"), "\(result.output)")
            #expect(result.output == events.chunkTexts.joined(), "the output is what the client was streamed")
        }
    }

    @Test("a JSON task result keeps the text the model wrote before its tool calls")
    func jsonResultKeepsTheFirstRoundsText() async throws {
        try await withServer(.sequence([Self.toolAnswer(stream: false), .openAIText(stream: false, chunks: 3)])) { fake in
            let tools = ToolExecutor(invoker: LookupTool(), limits: ToolLimits(), recorder: nil, logger: Logger(label: "tool-round-test"))
            let harness = try await RunHarness.make(models: [RunModels.fake("primary", fake)], defaultModel: "primary", tools: ["general": tools])
            defer { harness.remove() }
            let agent = Agent(id: "general-1", type: "general", role: AgentRole())
            let result = try await agent.run(AgentTask(prompt: "Is snow cold?"), settings: Self.settings, runtime: harness.runtime).result()
            #expect(result.toolUse?.rounds == 1)
            #expect(result.output == Self.firstText + "token token token", "\(result.output)")
        }
    }
}

/// One tool, `lookup` on server `facts`, that answers "snow is cold".
struct LookupTool: ToolInvoker {
    var definitions: [ToolDefinition] { [ToolDefinition(name: "lookup")] }

    func server(of tool: String) -> String? {
        tool == "lookup" ? "facts" : nil
    }

    func invoke(name: String, arguments: JSONValue) async throws -> ToolInvocationResult {
        ToolInvocationResult(content: [.text("snow is cold")])
    }
}
