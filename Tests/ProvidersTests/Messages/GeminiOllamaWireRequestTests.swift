import Foundation
import FleetSupport
import Testing
@testable import Providers

/// ProviderRequest → Gemini generateContent and Ollama /api/chat, field by field.
@Suite struct GeminiOllamaWireRequestTests {
    @Test func geminiConversation() throws {
        var request = SampleConversation.request
        request.toolChoice = .tool("get_weather")
        request.topK = 5
        request.seed = 3
        request.responseFormat = .jsonSchema(name: "w", schema: .object(["type": .string("object")]), strict: nil)
        let body = try wireJSON(GeminiWireRequest(request))
        #expect(body[object: "systemInstruction"]?[objects: "parts"].first?["text"] as? String == "be brief")
        let contents = body[objects: "contents"]
        #expect(contents.map { $0["role"] as? String } == ["user", "model", "user"])
        let first = contents[0][objects: "parts"]
        #expect(first[0]["text"] as? String == "Weather and time in Paris?")
        #expect(first[1][object: "inlineData"]?["mimeType"] as? String == "image/png" && first[1][object: "inlineData"]?["data"] as? String == "AAAA")
        let model = contents[1][objects: "parts"]
        #expect(model[1][object: "functionCall"]?["name"] as? String == "get_weather")
        #expect(model[1][object: "functionCall"]?[object: "args"]?["city"] as? String == "Paris")
        #expect(model[1][object: "functionCall"]?["id"] as? String == "call_1")
        let results = contents[2][objects: "parts"]
        #expect(results[0][object: "functionResponse"]?["name"] as? String == "get_weather")
        #expect(results[0][object: "functionResponse"]?[object: "response"]?["content"] as? String == "18 C")
        // An error result is Gemini's `error` member.
        #expect(results[1][object: "functionResponse"]?[object: "response"]?["error"] as? String == "clock offline")
        #expect(results[2]["text"] as? String == "Thanks; and tomorrow?")
        let declarations = body[objects: "tools"].first?[objects: "functionDeclarations"] ?? []
        #expect(declarations.map { $0["name"] as? String } == ["get_weather", "get_time"])
        #expect(declarations[0][object: "parametersJsonSchema"]?["required"] as? [String] == ["city"])
        let calling = body[object: "toolConfig"]?[object: "functionCallingConfig"]
        #expect(calling?["mode"] as? String == "ANY" && calling?["allowedFunctionNames"] as? [String] == ["get_weather"])
        let config = try #require(body[object: "generationConfig"])
        #expect(config["maxOutputTokens"] as? Int == 300 && config["temperature"] as? Double == 0.5 && config["topP"] as? Double == 0.9)
        #expect(config["topK"] as? Int == 5 && config["seed"] as? Int == 3 && config["stopSequences"] as? [String] == ["END"])
        #expect(config["responseMimeType"] as? String == "application/json" && config[object: "responseJsonSchema"]?["type"] as? String == "object")
    }

    /// Gemini 3 answers 400 to a call in the history without its thought signature: the one
    /// Gemini gave goes back with the call; a call that did not come from Gemini carries the
    /// value Google documents for that case.
    @Test func geminiCallsCarryTheirThoughtSignatures() throws {
        let request = ProviderRequest(model: "m", messages: [
            ProviderMessage(role: .user, content: "weather?"),
            ProviderMessage(role: .assistant, blocks: [
                .toolUse(ToolUse(id: "c1", name: "get_weather", input: .object([:]), signature: "sig-from-gemini")),
                .toolUse(ToolUse(id: "c2", name: "get_time", input: .object([:]))),
            ]),
        ])
        let body = try wireJSON(GeminiWireRequest(request))
        let parts = body[objects: "contents"][1][objects: "parts"]
        #expect(parts.map { $0["thoughtSignature"] as? String } == ["sig-from-gemini", "skip_thought_signature_validator"], "\(body)")
        #expect(body[objects: "contents"][0][objects: "parts"].first?["thoughtSignature"] == nil, "text parts carry none")

        // The decoder keeps the signature Gemini puts beside a call, and fleetd's tool round keeps it.
        var decoder = GeminiStreamDecoder(secret: nil)
        let chunk = #"data: {"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"CtwBAVSoXO"}]},"finishReason":"STOP"}]}"# + "\r\n\r\n"
        var events: [ProviderEvent] = []
        try decoder.decode(.init(string: chunk), into: &events)
        guard case .toolCallDelta(let delta)? = events.first else { Issue.record("\(events)"); return }
        #expect(delta.signature == "CtwBAVSoXO" && delta.name == "get_weather")
    }

    @Test func ollamaConversation() throws {
        var request = SampleConversation.request
        request.responseFormat = .jsonObject
        request.topK = 4
        let body = try wireJSON(OllamaWireRequest(request, stream: false))
        let messages = body[objects: "messages"]
        #expect(messages.map { $0["role"] as? String } == ["system", "user", "assistant", "tool", "tool", "user"])
        #expect(messages[1]["content"] as? String == "Weather and time in Paris?" && messages[1]["images"] as? [String] == ["AAAA"])
        let calls = messages[2][objects: "tool_calls"]
        #expect(calls.count == 2 && calls[0][object: "function"]?[object: "arguments"]?["city"] as? String == "Paris")
        #expect(messages[3]["tool_name"] as? String == "get_weather" && messages[3]["content"] as? String == "18 C")
        #expect(messages[4]["content"] as? String == "[tool error] clock offline")
        #expect(body[objects: "tools"].count == 2 && body["format"] as? String == "json")
        let options = try #require(body[object: "options"])
        #expect(options["num_predict"] as? Int == 300 && options["top_k"] as? Int == 4 && options["stop"] as? [String] == ["END"])
    }

    @Test func ollamaToolChoiceNoneSendsNoTools() throws {
        var request = SampleConversation.request
        request.toolChoice = ToolChoice.none
        #expect(try wireJSON(OllamaWireRequest(request, stream: false))["tools"] == nil)
    }

    @Test func whatEachFormatCannotCarryIsNamed() {
        var request = ProviderRequest(model: "m", messages: [ProviderMessage(role: .user, blocks: [.image(.url("https://x.test/a.png"))])])
        request.responseFormat = .jsonObject
        request.topK = 3
        request.temperature = 1.5
        request.toolChoice = .required
        #expect(request.unsupportedFeatures(on: .anthropic).count == 2) // JSON output, temperature above 1
        #expect(request.unsupportedFeatures(on: .openai) == ["top_k (Chat Completions has no top_k)"])
        #expect(request.unsupportedFeatures(on: .google).first?.hasPrefix("image URLs") == true)
        #expect(request.unsupportedFeatures(on: .ollama).count == 2) // image URLs, forced tool call
        #expect(request.unsupportedFeatures(on: .builtin).count == 2) // JSON output, forced tool call
        #expect(ProviderRequest(model: "m", prompt: "hi").unsupportedFeatures(on: .anthropic).isEmpty)
        // An Anthropic client's prefill: a final assistant message the answer continues.
        var prefill = ProviderRequest(model: "m", messages: [ProviderMessage(role: .user, content: "JSON please"),
                                                             ProviderMessage(role: .assistant, content: "{\"colours\": [")])
        #expect(prefill.unsupportedFeatures(on: .openai).isEmpty, "an OpenAI client's final assistant message is history")
        prefill.continuesLastAssistantTurn = true
        for kind in [ProviderKind.openai, .xai, .google] {
            #expect(prefill.unsupportedFeatures(on: kind).first?.hasPrefix("a final assistant message to continue") == true, "\(kind)")
        }
        #expect(prefill.unsupportedFeatures(on: .anthropic).isEmpty && prefill.unsupportedFeatures(on: .ollama).isEmpty)
        let imageInResult = ProviderRequest(model: "m", messages: [ProviderMessage(role: .user, blocks: [
            .toolResult(ToolResult(toolUseId: "t", content: [.image(.base64(mediaType: "image/png", data: "AA"))])),
        ])])
        #expect(imageInResult.unsupportedFeatures(on: .openai).count == 1)
        #expect(imageInResult.unsupportedFeatures(on: .anthropic).isEmpty)
        #expect(imageInResult.hasImages && imageInResult.usesTools)
    }

    @Test func stopReasonsInEachDialect() {
        #expect(StopReason(providerReason: "end_turn", hasToolCalls: false).openAI == "stop")
        #expect(StopReason(providerReason: "tool_calls", hasToolCalls: true).anthropic == "tool_use")
        #expect(StopReason(providerReason: "STOP", hasToolCalls: true).openAI == "tool_calls")
        #expect(StopReason(providerReason: "MAX_TOKENS", hasToolCalls: false).anthropic == "max_tokens")
        #expect(StopReason(providerReason: "model_context_window_exceeded", hasToolCalls: false).openAI == "length", "Anthropic: the context window, not max_tokens, ended it")
        #expect(StopReason(providerReason: "length", hasToolCalls: false).anthropic == "max_tokens")
        #expect(StopReason(providerReason: "SAFETY", hasToolCalls: false).openAI == "content_filter")
        #expect(StopReason(providerReason: "content_filter", hasToolCalls: false).anthropic == "refusal")
        #expect(StopReason(providerReason: "stop_sequence", hasToolCalls: false).openAI == "stop")
        #expect(StopReason(providerReason: nil, hasToolCalls: false) == .endTurn)
    }

    @Test func dataURLsParseIntoInlineImages() {
        #expect(ImageSource.fromURL("data:image/jpeg;base64,/9j/") == .base64(mediaType: "image/jpeg", data: "/9j/"))
        #expect(ImageSource.fromURL("https://x.test/a.png") == .url("https://x.test/a.png"))
        #expect(ImageSource.base64(mediaType: "image/png", data: "AA").urlForm == "data:image/png;base64,AA")
    }
}
