import FleetSupport
import Foundation
import NIOCore

/// Gemini `streamGenerateContent?alt=sse`: each `data:` is a whole GenerateContentResponse
/// (text parts, `functionCall` parts, `finishReason`, cumulative `usageMetadata`). The last
/// usage wins; the finish reason is sent once at the end (Gemini may repeat it on every chunk).
/// An error after the stream started arrives as bare JSON lines, not as an SSE field.
struct GeminiStreamDecoder: ProviderStreamDecoder {
    let secret: String?
    private var parser = SSEParser(captureUnknownLines: true)
    private var usage: TokenUsage?
    private var finishReason: String?
    private var toolCalls = 0
    private var done = false

    init(secret: String?) {
        self.secret = secret
    }

    mutating func decode(_ buffer: ByteBuffer, into out: inout [ProviderEvent]) throws {
        for event in parser.parse(buffer) { try handle(event, into: &out) }
    }

    mutating func finish() throws -> [ProviderEvent] {
        if done { return [] }
        done = true
        if !parser.unknownLines.isEmpty {
            let json = Array(parser.unknownLines.joined(separator: "\n").utf8)
            throw ProviderErrorClassifier.midStream(json: json, provider: .google, secret: secret)
        }
        guard let finishReason else {
            throw ProviderError(kind: .network, provider: .google, message: "the stream ended without a finishReason")
        }
        return [.finish(reason: finishReason)]
    }

    private mutating func handle(_ event: SSEEvent, into out: inout [ProviderEvent]) throws {
        let response: GeminiWire.Response
        do {
            response = try GeminiWire.Response(json: JSONValue.parse(text: event.data))
        } catch {
            out.append(.invalidChunk(reason: "undecodable chunk: \(error)"))
            return
        }
        if response.error != nil {
            throw ProviderErrorClassifier.midStream(json: Array(event.data.utf8), provider: .google, secret: secret)
        }
        out += response.events(toolCallBase: &toolCalls)
        if let reason = response.candidates?.first?.finishReason ?? response.blockedFinishReason { finishReason = reason }
        if let u = response.usageMetadata?.normalised, u != usage {
            // Passed on as it comes (the first chunk already counts the prompt and the thoughts),
            // so a stream cut before its end is billed on what Gemini reported so far.
            usage = u
            out.append(.usage(u))
        }
    }
}

/// Gemini's response shapes, shared by the streaming and the unary call. Read by hand from the
/// parsed text (``Response/init(json:)``, see `JSONValue+Read.swift`); `Decodable` too, as
/// `JSONDecoder` reads them, which the tests hold the hand reader to.
enum GeminiWire {
    struct Response: Decodable, Equatable {
        var candidates: [Candidate]?
        var usageMetadata: Usage?
        var modelVersion: String?
        var error: ErrorField?
        /// Set when the prompt itself was blocked: then there is no candidate at all.
        var promptFeedback: PromptFeedback?

        /// A blocked prompt's reason as a finish reason (a content filter's stop), so that it is
        /// told as one rather than as a stream that ended without a finish or an empty answer.
        var blockedFinishReason: String? {
            guard let reason = promptFeedback?.blockReason else { return nil }
            return ["SAFETY", "BLOCKLIST", "PROHIBITED_CONTENT", "IMAGE_SAFETY"].contains(reason) ? reason : "SAFETY"
        }

        /// Text and tool-call events of the first candidate.
        func events(toolCallBase: inout Int) -> [ProviderEvent] {
            var out: [ProviderEvent] = []
            for part in candidates?.first?.content?.parts ?? [] {
                if part.thought == true { continue }
                if let text = part.text, !text.isEmpty { out.append(.textDelta(text)) }
                if let call = part.functionCall {
                    let arguments = call.args.flatMap { try? FastJSONEncoder().encodeToString($0) } ?? "{}"
                    out.append(.toolCallDelta(ToolCallDelta(index: toolCallBase, id: call.id, name: call.name, argumentsFragment: arguments,
                                                            signature: part.thoughtSignature)))
                    toolCallBase += 1
                }
            }
            return out
        }
    }
    struct ErrorField: Decodable, Equatable {}
    struct PromptFeedback: Decodable, Equatable { var blockReason: String? }
    struct Candidate: Decodable, Equatable {
        var content: Content?
        var finishReason: String?
    }
    struct Content: Decodable, Equatable { var parts: [Part]? }
    struct Part: Decodable, Equatable {
        var text: String?
        var thought: Bool?
        var functionCall: FunctionCall?
        /// Gemini 3 (and 2.5 when thinking) signs a call; the signature must come back with it.
        var thoughtSignature: String?
    }
    struct FunctionCall: Decodable, Equatable {
        var id: String?
        var name: String
        var args: JSONValue?
    }
    struct Usage: Decodable, Equatable {
        var promptTokenCount: Int?
        var candidatesTokenCount: Int?
        var cachedContentTokenCount: Int?
        var thoughtsTokenCount: Int?

        /// Thoughts are billed as output: output = candidates + thoughts.
        var normalised: TokenUsage {
            TokenUsage(
                inputTokens: promptTokenCount ?? 0,
                outputTokens: (candidatesTokenCount ?? 0) + (thoughtsTokenCount ?? 0),
                cachedInputTokens: cachedContentTokenCount ?? 0,
                reasoningTokens: thoughtsTokenCount ?? 0
            )
        }
    }
}

// The hand reader of the wire types (`JSONValue+Read.swift`): what `JSONDecoder` reads, from a
// parsed value.

extension GeminiWire.Response {
    init(json: JSONValue) throws {
        let members = try json.members("response")
        candidates = try members.array("candidates", in: "response")?.enumerated().map { index, candidate in
            let path = "response.candidates[\(index)]"
            let candidate = try candidate.members(path)
            return GeminiWire.Candidate(
                content: try candidate.object("content", in: path).map { content in
                    GeminiWire.Content(parts: try content.array("parts", in: "\(path).content")?.enumerated().map { index, part in
                        try GeminiWire.Part(members: part.members("\(path).content.parts[\(index)]"), path: "\(path).content.parts[\(index)]")
                    })
                },
                finishReason: try candidate.string("finishReason", in: path))
        }
        usageMetadata = try members.object("usageMetadata", in: "response").map { usage in
            GeminiWire.Usage(promptTokenCount: try usage.int("promptTokenCount", in: "response.usageMetadata"),
                             candidatesTokenCount: try usage.int("candidatesTokenCount", in: "response.usageMetadata"),
                             cachedContentTokenCount: try usage.int("cachedContentTokenCount", in: "response.usageMetadata"),
                             thoughtsTokenCount: try usage.int("thoughtsTokenCount", in: "response.usageMetadata"))
        }
        modelVersion = try members.string("modelVersion", in: "response")
        // Any error member but `null` is the provider's error, whatever its shape.
        error = members["error"].flatMap { $0 == .null ? nil : GeminiWire.ErrorField() }
        promptFeedback = try members.object("promptFeedback", in: "response").map {
            GeminiWire.PromptFeedback(blockReason: try $0.string("blockReason", in: "response.promptFeedback"))
        }
    }
}

extension GeminiWire.Part {
    init(members: JSONObject, path: String) throws {
        text = try members.string("text", in: path)
        thought = try members.bool("thought", in: path)
        thoughtSignature = try members.string("thoughtSignature", in: path)
        functionCall = try members.object("functionCall", in: path).map { call in
            GeminiWire.FunctionCall(id: try call.string("id", in: "\(path).functionCall"),
                                    name: try call.requiredString("name", in: "\(path).functionCall"),
                                    args: call["args"].flatMap { $0 == .null ? nil : $0 })
        }
    }
}
