import Agents
import FleetSupport
import Routing
import Store
import Streaming

/// The task API's commonest JSON written byte by byte: a stream's `start` and `chunk` events, and a
/// finished task's result (the `complete` event, and `POST /v1/tasks`' JSON answer).
///
/// Why by hand: through `Codable`, ``FastJSONEncoder`` met each nested value through a boxed
/// container and a dynamic cast; for a streamed task (a start, ten chunks and the result) that
/// was about 3.5% of the loop thread's samples in a `perf` profile on `config/fleet.yaml` as
/// shipped, and the result alone 2.6% of a JSON task's (docs/performance.md, "Tasks kept on their
/// loop"). The text is the encoder's, byte for byte (TaskEventJSONTests holds them to it, keys in
/// declaration order, numbers through the same ``JSONText`` writers); a result of a less common
/// shape (subtasks, tool calls, tool use, thinking blocks, routing alerts) or with a number JSON
/// cannot hold is not written by hand (``handWritten(_:)`` gives nil), and ``bytes(of:)`` sends
/// it through `Codable` as before.
enum TaskEventJSON {
    /// A `start` event's JSON: by hand, or through the encoder when a number is not finite.
    static func bytes(of start: TaskStart) throws -> [UInt8] {
        try handWritten(start) ?? FastJSONEncoder().encode(start)
    }

    /// A task's result as JSON: by hand when it has the common shape, else through the encoder.
    static func bytes(of result: TaskResult) throws -> [UInt8] {
        try handWritten(result) ?? FastJSONEncoder().encode(result)
    }

    static func chunk(_ chunk: StreamChunk) -> [UInt8] {
        var out = Writer(capacity: 64 + chunk.streamId.utf8.count + chunk.text.utf8.count)
        out.field("streamId", chunk.streamId)
        out.field("sequence", chunk.sequence)
        out.field("text", chunk.text)
        return out.close()
    }

    static func handWritten(_ start: TaskStart) -> [UInt8]? {
        var out = Writer(capacity: 320 + start.reason.utf8.count)
        out.field("taskId", start.taskId)
        out.field("agentId", start.agentId)
        out.field("agentType", start.agentType)
        out.field("model", start.model)
        out.field("provider", start.provider.rawValue)
        out.field("streaming", start.streaming)
        out.field("routed", start.routed)
        out.field("reason", start.reason)
        out.field("fallbackModels", start.fallbackModels)
        guard out.field("complexity", start.complexity) else { return nil }
        out.field("localDefault", start.localDefault)
        return out.close()
    }

    static func handWritten(_ result: TaskResult) -> [UInt8]? {
        guard result.subtasks == nil, result.toolCalls == nil, result.toolUse == nil, result.content == nil,
              result.selection.alerts.isEmpty else { return nil }
        var out = Writer(capacity: 768 + result.output.utf8.count + result.selection.reason.utf8.count)
        out.field("taskId", result.taskId)
        out.field("status", result.status)
        out.field("output", result.output)
        out.field("model", result.model)
        out.field("provider", result.provider.rawValue)
        out.field("agentId", result.agentId)
        out.key("usage")
        out.usage(result.usage)
        guard out.field("cost", result.cost) else { return nil }
        out.field("streamed", result.streamed)
        out.field("synchronousFallback", result.synchronousFallback)
        out.field("attempts", result.attempts)
        guard out.field("durationMs", result.durationMs) else { return nil }
        out.field("localDefault", result.localDefault)
        out.field("backpressureEvents", result.backpressureEvents)
        out.key("selection")
        guard out.selection(result.selection) else { return nil }
        if let cache = result.cache { out.field("cache", cache) }
        if let saved = result.cacheSavedUSD, !out.field("cacheSavedUSD", saved) { return nil }
        if let reason = result.finishReason { out.field("finishReason", reason) }
        return out.close()
    }

    /// An object being written: `{` is there from the start, ``close()`` adds `}`.
    private struct Writer {
        var bytes: [UInt8] = []

        init(capacity: Int) {
            bytes.reserveCapacity(capacity)
            bytes.append(UInt8(ascii: "{"))
        }

        /// `"name":`, after a comma unless it is its object's first member (the object was just
        /// opened: no value ends with `{`). Names here are plain ASCII.
        mutating func key(_ name: StaticString) {
            if bytes.last != UInt8(ascii: "{") { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "\""))
            name.withUTF8Buffer { bytes.append(contentsOf: $0) }
            bytes.append(UInt8(ascii: "\""))
            bytes.append(UInt8(ascii: ":"))
        }

        mutating func field(_ name: StaticString, _ value: String) {
            key(name)
            JSONText.appendString(value, to: &bytes)
        }

        mutating func field(_ name: StaticString, _ value: Int) {
            key(name)
            JSONText.appendInteger(value, to: &bytes)
        }

        mutating func field(_ name: StaticString, _ value: Bool) {
            key(name)
            bytes.append(contentsOf: value ? "true".utf8 : "false".utf8)
        }

        mutating func field(_ name: StaticString, _ values: [String]) {
            key(name)
            bytes.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                JSONText.appendString(value, to: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        }

        /// False when JSON cannot hold the number (not finite): the caller gives up.
        mutating func field(_ name: StaticString, _ value: Double) -> Bool {
            key(name)
            return (try? JSONText.appendNumber(value, to: &bytes)) != nil
        }

        mutating func usage(_ usage: CostUsage) {
            bytes.append(UInt8(ascii: "{"))
            field("inputTokens", usage.inputTokens)
            field("outputTokens", usage.outputTokens)
            field("cachedTokens", usage.cachedTokens)
            field("cacheWriteTokens", usage.cacheWriteTokens)
            field("cacheWriteHourTokens", usage.cacheWriteHourTokens)
            bytes.append(UInt8(ascii: "}"))
        }

        mutating func selection(_ selection: SelectionSummary) -> Bool {
            bytes.append(UInt8(ascii: "{"))
            field("modelName", selection.modelName)
            field("routed", selection.routed)
            field("reason", selection.reason)
            key("complexity")
            guard complexity(selection.complexity) else { return false }
            field("fallbackModels", selection.fallbackModels)
            guard field("estimatedCost", selection.estimatedCost) else { return false }
            field("alerts", [String]()) // only an empty list comes here
            bytes.append(UInt8(ascii: "}"))
            return true
        }

        mutating func complexity(_ score: ComplexityScore) -> Bool {
            bytes.append(UInt8(ascii: "{"))
            guard field("overall", score.overall) else { return false }
            key("factors")
            bytes.append(UInt8(ascii: "{"))
            let factors = score.factors
            guard field("tokenCount", factors.tokenCount), field("codeComplexity", factors.codeComplexity),
                  field("contextSize", factors.contextSize), field("requiresReasoning", factors.requiresReasoning),
                  field("requiresCreativity", factors.requiresCreativity) else { return false }
            bytes.append(UInt8(ascii: "}"))
            field("taskType", score.taskType.rawValue)
            field("estimatedInputTokens", score.estimatedInputTokens)
            field("estimatedOutputTokens", score.estimatedOutputTokens)
            bytes.append(UInt8(ascii: "}"))
            return true
        }

        mutating func close() -> [UInt8] {
            bytes.append(UInt8(ascii: "}"))
            return bytes
        }
    }
}
