/// Canned OpenAI Chat Completions answers, for the benchmarks and for tests that need an upstream
/// answering at once rather than a recorded transcript.
extension FakeResponse {
    static let openAIChunk = #"data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"token "}}]}"# + "\n\n"
    static let openAITail = #"data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"# + "\n\n"
        + #"data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":10,"total_tokens":22}}"# + "\n\n"
        + "data: [DONE]\n\n"

    /// A Chat Completions answer of `chunks` times "token ": one JSON body, or an event stream
    /// of that many chunks with a usage chunk and `[DONE]`.
    public static func openAIText(stream: Bool, chunks: Int = 10) -> FakeResponse {
        if stream {
            let body = String(repeating: openAIChunk, count: chunks) + openAITail
            return FakeResponse(headers: [("content-type", "text/event-stream")], body: .bytes(Array(body.utf8)))
        }
        let text = Array(repeating: "token", count: chunks).joined(separator: " ")
        let json = #"{"id":"c","object":"chat.completion","model":"fast","choices":[{"index":0,"message":{"role":"assistant","content":""#
            + text + #""},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":\#(chunks),"total_tokens":\#(12 + chunks)}}"#
        return FakeResponse(headers: [("content-type", "application/json")], body: .bytes(Array(json.utf8)))
    }

    /// A Chat Completions stream that sends one chunk, then holds until `gate` opens.
    public static func openAIHeld(gate: FakeGate) -> FakeResponse {
        FakeResponse(headers: [("content-type", "text/event-stream")],
                     body: .held(Array(openAIChunk.utf8), gate: gate, then: Array(openAITail.utf8)))
    }

    /// The request body fleetd sends for a short answer, for calling the upstream directly.
    public static func openAIRequestBody(stream: Bool) -> String {
        let streamPart = stream ? #","stream":true,"stream_options":{"include_usage":true}"# : ""
        return #"{"model":"fast","messages":[{"role":"user","content":"Say ten tokens."}],"max_tokens":64"# + streamPart + "}"
    }
}
