import FakeProvider
import FleetSupport
import Foundation
import Testing
@testable import Providers

/// The OpenAI-format answer and stream chunks are read by hand from the parsed text
/// (`JSONValue+Read.swift`): the same wire values `JSONDecoder` gives for every recorded chunk and
/// answer, and what it refuses is refused.
/// `text` is refused by `JSONDecoder` as `Wire`, and the stream `decoder` reads `wire` (the text
/// as its provider frames it) as one undecodable chunk whose reason starts with `reason`.
func expectUndecodable<Wire: Decodable, Decoder: ProviderStreamDecoder>(
    _ text: String, as wire: Wire.Type, wire framed: String, decoder: Decoder, reason: String,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    #expect(throws: (any Error).self, "\(text)", sourceLocation: sourceLocation) { try JSONDecoder().decode(Wire.self, from: Data(text.utf8)) }
    var decoder = decoder
    var events: [ProviderEvent] = []
    try decoder.decode(.init(string: framed), into: &events)
    guard case .invalidChunk(let said)? = events.first, events.count == 1 else {
        Issue.record("\(text): \(events)", sourceLocation: sourceLocation)
        return
    }
    #expect(said.hasPrefix(reason), "\(said)", sourceLocation: sourceLocation)
}

@Suite struct OpenAIHandReaderTests {
    static let streams = ["openai-chat-stream-sdksnapshot-text-usage.sse", "openai-chat-stream-sdksnapshot-toolcall-usage.sse",
                          "ollama-openai-compat-stream-derived.sse"]

    /// The `data:` payloads of a recorded stream, but `[DONE]`.
    static func chunks(_ fixture: String) throws -> [String] {
        let text = String(decoding: try FixturePaths.data("providers/\(fixture)"), as: UTF8.self)
        return text.split(whereSeparator: \.isNewline).compactMap { line in
            guard line.hasPrefix("data:") else { return nil }
            let data = line.dropFirst(5).drop(while: { $0 == " " })
            return data == "[DONE]" ? nil : String(data)
        }
    }

    @Test(arguments: streams) func everyRecordedChunkReadsAsJSONDecoderReadsIt(_ fixture: String) throws {
        let chunks = try Self.chunks(fixture)
        #expect(chunks.count > 2)
        for chunk in chunks {
            let byHand = try OpenAIStreamDecoder.Wire.Chunk(json: JSONValue.parse(text: chunk))
            let decoded = try JSONDecoder().decode(OpenAIStreamDecoder.Wire.Chunk.self, from: Data(chunk.utf8))
            #expect(byHand == decoded, "\(chunk)")
        }
    }

    @Test(arguments: ["openai-chat-nonstream-sdksnapshot.json", "ollama-openai-compat-nonstream-derived.json"])
    func recordedAnswersReadAsJSONDecoderReadsThem(_ fixture: String) throws {
        let data = try FixturePaths.data("providers/\(fixture)")
        let byHand = try OpenAIChatClient.Wire.Completion(json: JSONValue.parse(utf8: Array(data)))
        #expect(byHand == (try JSONDecoder().decode(OpenAIChatClient.Wire.Completion.self, from: data)))
        #expect(byHand.choices?.first?.message?.content?.isEmpty == false)
    }

    @Test func aToolCallAnswerAndNullsRead() throws {
        let text = #"{"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":9,"completion_tokens":3.0,"total_tokens":12,"prompt_tokens_details":null}}"#
        let byHand = try OpenAIChatClient.Wire.Completion(json: JSONValue.parse(text: text))
        #expect(byHand == (try JSONDecoder().decode(OpenAIChatClient.Wire.Completion.self, from: Data(text.utf8))))
        #expect(byHand.choices?.first?.message?.tool_calls?.first?.function?.arguments == #"{"city":"Paris"}"#)
        #expect(byHand.usage?.normalised == TokenUsage(inputTokens: 9, outputTokens: 3))
    }

    /// A refusal (structured outputs: `refusal` text, no content) is the answer's text, and the
    /// turn ends as a refusal, streamed or not.
    @Test func aRefusalIsTheAnswerAndEndsAsARefusal() async throws {
        var decoder = OpenAIStreamDecoder(provider: .openai, secret: nil)
        var events: [ProviderEvent] = []
        let chunks = [#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"refusal":""}}]}"#,
                      #"{"choices":[{"index":0,"delta":{"refusal":"I can't help"}}]}"#,
                      #"{"choices":[{"index":0,"delta":{"refusal":" with that."}}]}"#,
                      #"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#]
        for chunk in chunks {
            #expect(try OpenAIStreamDecoder.Wire.Chunk(json: JSONValue.parse(text: chunk))
                    == JSONDecoder().decode(OpenAIStreamDecoder.Wire.Chunk.self, from: Data(chunk.utf8)))
            try decoder.decode(.init(string: "data: \(chunk)\n\n"), into: &events)
        }
        try decoder.decode(.init(string: "data: [DONE]\n\n"), into: &events)
        #expect(events == [.textDelta("I can't help"), .textDelta(" with that."), .finish(reason: "refusal")])
        // Content beside the refusal: an answer, ended as the provider said.
        var mixed = OpenAIStreamDecoder(provider: .openai, secret: nil)
        var mixedEvents: [ProviderEvent] = []
        try mixed.decode(.init(string: "data: {\"choices\":[{\"index\":0,\"delta\":{\"refusal\":\"no\"}}]}\n\n"
                               + "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"but\"},\"finish_reason\":\"stop\"}]}\n\n"), into: &mixedEvents)
        #expect(mixedEvents.last == .finish(reason: "stop"))

        let body = #"{"id":"c","object":"chat.completion","model":"gpt","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}]}"#
        try await withServer(.always(FakeResponse(headers: [("content-type", "application/json")], body: .bytes(Array(body.utf8))))) { server in
            let answer = try await makeFactory().makeClient(for: endpoint(.openai, server)).complete(ProviderRequest(model: "m", prompt: "x"))
            #expect(answer.text == "I can't help with that." && answer.finishReason == "refusal")
        }
    }

    /// A member of the wrong kind is an undecodable chunk (STREAM_003, the stream goes on), as
    /// with `JSONDecoder`; the reason names the member.
    @Test func aChunkOfTheWrongShapeIsAnInvalidChunkNamingTheMember() throws {
        let bad = [#"{"choices":[{"index":0,"delta":{"content":5}}]}"#, #"{"choices":{"index":0}}"#,
                   #"{"choices":[{"index":0.5,"delta":{}}]}"#, #"[1,2]"#, #"{"choices":[{"delta":{"content":"a"}}]"#]
        for chunk in bad {
            try expectUndecodable(chunk, as: OpenAIStreamDecoder.Wire.Chunk.self, wire: "data: \(chunk)\n\n",
                                  decoder: OpenAIStreamDecoder(provider: .openai, secret: nil), reason: "undecodable chunk: ")
        }
        var decoder = OpenAIStreamDecoder(provider: .openai, secret: nil)
        var events: [ProviderEvent] = []
        try decoder.decode(.init(string: "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":5}}]}\n\n"), into: &events)
        #expect(events == [.invalidChunk(reason: "undecodable chunk: chunk.choices[0].delta.content is not a string")])
    }

    /// An `error` member is the provider's mid-stream error whatever its shape.
    @Test func anErrorMemberOfAnyShapeIsAMidStreamError() throws {
        for error in [#"{"message":"overloaded","type":"server_error"}"#, #""overloaded""#] {
            var decoder = OpenAIStreamDecoder(provider: .openai, secret: nil)
            var events: [ProviderEvent] = []
            #expect(throws: ProviderError.self) { try decoder.decode(.init(string: "data: {\"error\":\(error)}\n\n"), into: &events) }
        }
        var decoder = OpenAIStreamDecoder(provider: .openai, secret: nil)
        var events: [ProviderEvent] = []
        try decoder.decode(.init(string: "data: {\"error\":null,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"}}]}\n\n"), into: &events)
        #expect(events == [.textDelta("ok")])
    }
}

/// Anthropic's stream events are read by hand too: the same wire values `JSONDecoder` gives for
/// every recorded event, and what it refuses is refused.
@Suite struct AnthropicHandReaderTests {
    static let streams = ["anthropic-stream-sdkfixture-basic.sse", "anthropic-stream-docs-basic.sse", "anthropic-stream-sdkfixture-tool-use.sse"]

    @Test(arguments: streams) func everyRecordedEventReadsAsJSONDecoderReadsIt(_ fixture: String) throws {
        let events = try OpenAIHandReaderTests.chunks(fixture)
        #expect(events.count > 4)
        for event in events {
            let byHand = try AnthropicStreamDecoder.Wire.Event(json: JSONValue.parse(text: event))
            #expect(byHand == (try JSONDecoder().decode(AnthropicStreamDecoder.Wire.Event.self, from: Data(event.utf8))), "\(event)")
        }
    }

    @Test func anEventOfTheWrongShapeIsAnInvalidChunkNamingTheMember() throws {
        let bad = [#"{"index":0,"delta":{"type":"text_delta","text":"a"}}"#, #"{"type":"content_block_delta","index":"0"}"#,
                   #"{"type":"content_block_start","index":0,"content_block":{"text":"a"}}"#, #"{"type":"message_delta","usage":{"output_tokens":1.5}}"#]
        for text in bad {
            try expectUndecodable(text, as: AnthropicStreamDecoder.Wire.Event.self, wire: "event: content_block_delta\ndata: \(text)\n\n",
                                  decoder: AnthropicStreamDecoder(secret: nil), reason: "undecodable content_block_delta event: ")
        }
    }
}

/// Gemini's chunks and answers are read by hand too, tool calls' arguments taken from the parsed
/// text as they are.
@Suite struct GeminiHandReaderTests {
    @Test func everyRecordedChunkAndAnswerReadsAsJSONDecoderReadsIt() throws {
        var texts = try OpenAIHandReaderTests.chunks("gemini-stream-firebase-basic-short.sse")
        #expect(texts.count > 1)
        texts.append(String(decoding: try FixturePaths.data("providers/gemini-nonstream-firebase-basic-short.json"), as: UTF8.self))
        texts.append(#"{"candidates":[{"content":{"parts":[{"text":"thinking","thought":true},{"functionCall":{"id":"c1","name":"get_weather","args":{"city":"Paris","days":[1,2]}},"thoughtSignature":"sig"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":1,"thoughtsTokenCount":3},"modelVersion":"gemini-2.5-flash"}"#)
        texts.append(#"{"promptFeedback":{"blockReason":"OTHER"},"usageMetadata":{"promptTokenCount":7}}"#)
        for text in texts {
            let byHand = try GeminiWire.Response(json: JSONValue.parse(text: text))
            #expect(byHand == (try JSONDecoder().decode(GeminiWire.Response.self, from: Data(text.utf8))), "\(text)")
        }
    }

    @Test func aToolCallsArgumentsAndAThoughtAreRead() throws {
        var decoder = GeminiStreamDecoder(secret: nil)
        var events: [ProviderEvent] = []
        let chunk = #"{"candidates":[{"content":{"parts":[{"text":"hmm","thought":true},{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}]},"finishReason":"STOP"}]}"#
        try decoder.decode(.init(string: "data: \(chunk)\r\n\r\n"), into: &events)
        #expect(events == [.toolCallDelta(ToolCallDelta(index: 0, id: nil, name: "get_weather", argumentsFragment: #"{"city":"Paris"}"#))])
    }

    /// A tool call's arguments are written in the order the model gave them and slashes as they
    /// are, so the same call gives the same text in every process (`JSONEncoder` wrote a
    /// dictionary in its per-process hash order, and `/` as `\/`): it goes into later turns and
    /// their cache keys.
    @Test func toolArgumentsAreTheSameTextInEveryProcess() throws {
        var decoder = GeminiStreamDecoder(secret: nil)
        var events: [ProviderEvent] = []
        let chunk = #"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"fetch","args":{"url":"https://x.test/a/b","method":"GET","headers":{"b":"2","a":"1"},"retries":3}}}]},"finishReason":"STOP"}]}"#
        try decoder.decode(.init(string: "data: \(chunk)\r\n\r\n"), into: &events)
        let expected = #"{"url":"https://x.test/a/b","method":"GET","headers":{"b":"2","a":"1"},"retries":3}"#
        #expect(events.first == .toolCallDelta(ToolCallDelta(index: 0, id: nil, name: "fetch", argumentsFragment: expected)))
    }

    @Test func aChunkOfTheWrongShapeIsAnInvalidChunk() throws {
        let bad = [#"{"candidates":[{"content":{"parts":[{"text":1}]}}]}"#, #"{"candidates":[{"content":{"parts":[{"functionCall":{"args":{}}}]}}]}"#,
                   #"{"candidates":[{"content":{"parts":[{"text":"a","thought":"yes"}]}}]}"#, #"{"usageMetadata":{"promptTokenCount":"7"}}"#]
        for text in bad {
            try expectUndecodable(text, as: GeminiWire.Response.self, wire: "data: \(text)\r\n\r\n",
                                  decoder: GeminiStreamDecoder(secret: nil), reason: "undecodable chunk: ")
        }
    }
}

/// Anthropic's non-streamed answer is read by hand too.
@Suite struct AnthropicAnswerHandReaderTests {
    @Test func recordedAndToolUseAnswersReadAsJSONDecoderReadsThem() throws {
        let texts = [String(decoding: try FixturePaths.data("providers/anthropic-nonstream-docs-example.json"), as: UTF8.self),
                     #"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"Let me look."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"location":"Paris","units":null}}],"stop_reason":"tool_use","usage":{"input_tokens":12,"output_tokens":7,"cache_read_input_tokens":null}}"#]
        for text in texts {
            let byHand = try AnthropicClient.Wire.Message(json: JSONValue.parse(text: text))
            #expect(byHand == (try JSONDecoder().decode(AnthropicClient.Wire.Message.self, from: Data(text.utf8))), "\(text)")
            #expect(byHand.content?.isEmpty == false)
        }
        #expect(throws: (any Error).self) { try AnthropicClient.Wire.Message(json: JSONValue.parse(text: #"{"content":[{"text":"no type"}]}"#)) }
        #expect(throws: (any Error).self) { try AnthropicClient.Wire.Message(json: JSONValue.parse(text: #"{"content":{"type":"text"}}"#)) }
    }
}

/// Ollama's native lines and answers are read by hand too.
@Suite struct OllamaHandReaderTests {
    @Test func everyRecordedLineAndAnswerReadsAsJSONDecoderReadsIt() throws {
        var texts: [String] = []
        for fixture in ["ollama-chat-stream-docs.ndjson", "ollama-chat-stream-observed.ndjson", "ollama-chat-stream-tools-docs.ndjson"] {
            texts += String(decoding: try FixturePaths.data("providers/\(fixture)"), as: UTF8.self)
                .split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
        }
        #expect(texts.count > 6)
        texts.append(String(decoding: try FixturePaths.data("providers/ollama-chat-nonstream-docs.json"), as: UTF8.self))
        for text in texts {
            let byHand = try OllamaWire.ChatResponse(json: JSONValue.parse(text: text))
            #expect(byHand == (try JSONDecoder().decode(OllamaWire.ChatResponse.self, from: Data(text.utf8))), "\(text)")
        }
    }

    @Test func aLineOfTheWrongShapeIsAnInvalidChunkAndAnErrorIsTheServers() throws {
        for text in [#"{"message":{"content":7}}"#, #"{"message":{"tool_calls":[{"function":{"arguments":{}}}]}}"#, #"{"done":"yes"}"#] {
            try expectUndecodable(text, as: OllamaWire.ChatResponse.self, wire: text + "\n", decoder: OllamaStreamDecoder(), reason: "undecodable line: ")
        }
        var decoder = OllamaStreamDecoder()
        var events: [ProviderEvent] = []
        #expect(throws: ProviderError.self) { try decoder.decode(.init(string: #"{"error":"model 'x' not found"}"# + "\n"), into: &events) }
    }
}
