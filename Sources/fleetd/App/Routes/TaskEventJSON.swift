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
/// cannot hold returns nil, and goes through `Codable` as before.
enum TaskEventJSON {
    static func chunk(_ chunk: StreamChunk) -> [UInt8] {
        var out = Writer(capacity: 64 + chunk.streamId.utf8.count + chunk.text.utf8.count)
        out.key("streamId", first: true)
        out.string(chunk.streamId)
        out.key("sequence")
        out.integer(chunk.sequence)
        out.key("text")
        out.string(chunk.text)
        return out.close()
    }

    static func start(_ start: TaskStart) -> [UInt8]? {
        var out = Writer(capacity: 320 + start.reason.utf8.count)
        out.key("taskId", first: true)
        out.string(start.taskId)
        out.key("agentId")
        out.string(start.agentId)
        out.key("agentType")
        out.string(start.agentType)
        out.key("model")
        out.string(start.model)
        out.key("provider")
        out.string(start.provider.rawValue)
        out.key("streaming")
        out.bool(start.streaming)
        out.key("routed")
        out.bool(start.routed)
        out.key("reason")
        out.string(start.reason)
        out.key("fallbackModels")
        out.strings(start.fallbackModels)
        out.key("complexity")
        guard out.number(start.complexity) else { return nil }
        out.key("localDefault")
        out.bool(start.localDefault)
        return out.close()
    }

    static func result(_ result: TaskResult) -> [UInt8]? {
        guard result.subtasks == nil, result.toolCalls == nil, result.toolUse == nil, result.content == nil,
              result.selection.alerts.isEmpty else { return nil }
        var out = Writer(capacity: 768 + result.output.utf8.count + result.selection.reason.utf8.count)
        out.key("taskId", first: true)
        out.string(result.taskId)
        out.key("status")
        out.string(result.status)
        out.key("output")
        out.string(result.output)
        out.key("model")
        out.string(result.model)
        out.key("provider")
        out.string(result.provider.rawValue)
        out.key("agentId")
        out.string(result.agentId)
        out.key("usage")
        out.usage(result.usage)
        out.key("cost")
        guard out.number(result.cost) else { return nil }
        out.key("streamed")
        out.bool(result.streamed)
        out.key("synchronousFallback")
        out.bool(result.synchronousFallback)
        out.key("attempts")
        out.integer(result.attempts)
        out.key("durationMs")
        guard out.number(result.durationMs) else { return nil }
        out.key("localDefault")
        out.bool(result.localDefault)
        out.key("backpressureEvents")
        out.integer(result.backpressureEvents)
        out.key("selection")
        guard out.selection(result.selection) else { return nil }
        if let cache = result.cache {
            out.key("cache")
            out.string(cache)
        }
        if let saved = result.cacheSavedUSD {
            out.key("cacheSavedUSD")
            guard out.number(saved) else { return nil }
        }
        if let reason = result.finishReason {
            out.key("finishReason")
            out.string(reason)
        }
        return out.close()
    }

    /// An object being written: `{` is there from the start, ``close()`` adds `}`.
    private struct Writer {
        var bytes: [UInt8] = []

        init(capacity: Int) {
            bytes.reserveCapacity(capacity)
            bytes.append(UInt8(ascii: "{"))
        }

        /// `,"name":` (no comma for the first member). Names here are plain ASCII.
        mutating func key(_ name: StaticString, first: Bool = false) {
            if !first { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "\""))
            name.withUTF8Buffer { bytes.append(contentsOf: $0) }
            bytes.append(UInt8(ascii: "\""))
            bytes.append(UInt8(ascii: ":"))
        }

        mutating func string(_ value: String) { JSONText.appendString(value, to: &bytes) }
        mutating func integer(_ value: Int) { JSONText.appendInteger(value, to: &bytes) }
        mutating func bool(_ value: Bool) { bytes.append(contentsOf: value ? "true".utf8 : "false".utf8) }

        /// False when JSON cannot hold the number (not finite): the caller gives up.
        mutating func number(_ value: Double) -> Bool {
            (try? JSONText.appendNumber(value, to: &bytes)) != nil
        }

        mutating func strings(_ values: [String]) {
            bytes.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                string(value)
            }
            bytes.append(UInt8(ascii: "]"))
        }

        mutating func usage(_ usage: CostUsage) {
            bytes.append(UInt8(ascii: "{"))
            key("inputTokens", first: true)
            integer(usage.inputTokens)
            key("outputTokens")
            integer(usage.outputTokens)
            key("cachedTokens")
            integer(usage.cachedTokens)
            key("cacheWriteTokens")
            integer(usage.cacheWriteTokens)
            key("cacheWriteHourTokens")
            integer(usage.cacheWriteHourTokens)
            bytes.append(UInt8(ascii: "}"))
        }

        mutating func selection(_ selection: SelectionSummary) -> Bool {
            bytes.append(UInt8(ascii: "{"))
            key("modelName", first: true)
            string(selection.modelName)
            key("routed")
            bool(selection.routed)
            key("reason")
            string(selection.reason)
            key("complexity")
            guard complexity(selection.complexity) else { return false }
            key("fallbackModels")
            strings(selection.fallbackModels)
            key("estimatedCost")
            guard number(selection.estimatedCost) else { return false }
            key("alerts")
            bytes.append(contentsOf: "[]".utf8) // only an empty list comes here
            bytes.append(UInt8(ascii: "}"))
            return true
        }

        mutating func complexity(_ score: ComplexityScore) -> Bool {
            bytes.append(UInt8(ascii: "{"))
            key("overall", first: true)
            guard number(score.overall) else { return false }
            key("factors")
            bytes.append(UInt8(ascii: "{"))
            key("tokenCount", first: true)
            guard number(score.factors.tokenCount) else { return false }
            key("codeComplexity")
            guard number(score.factors.codeComplexity) else { return false }
            key("contextSize")
            guard number(score.factors.contextSize) else { return false }
            key("requiresReasoning")
            guard number(score.factors.requiresReasoning) else { return false }
            key("requiresCreativity")
            guard number(score.factors.requiresCreativity) else { return false }
            bytes.append(UInt8(ascii: "}"))
            key("taskType")
            string(score.taskType.rawValue)
            key("estimatedInputTokens")
            integer(score.estimatedInputTokens)
            key("estimatedOutputTokens")
            integer(score.estimatedOutputTokens)
            bytes.append(UInt8(ascii: "}"))
            return true
        }

        mutating func close() -> [UInt8] {
            bytes.append(UInt8(ascii: "}"))
            return bytes
        }
    }
}
