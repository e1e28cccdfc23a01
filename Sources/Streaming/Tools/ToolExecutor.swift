import FleetSupport
import Foundation
import Logging
import Providers

/// Runs the tool calls of one model answer: all at once, each bounded by the tool timeout and
/// the task's deadline, cancelled with the task, its result cut to the size bound. Every call
/// ends in a ``ToolResult`` for the model (an error result when the tool failed, hung or its
/// server died, so the model can carry on) and a ``ToolCallReport`` for the records.
public struct ToolExecutor: Sendable {
    public let invoker: any ToolInvoker
    public let limits: ToolLimits
    public let recorder: (any ToolCallRecorder)?
    /// Told of every call as it ends (fleetd's metrics).
    public let observer: (@Sendable (ToolCallReport) -> Void)?
    public let logger: Logger

    public init(invoker: any ToolInvoker, limits: ToolLimits, recorder: (any ToolCallRecorder)?,
                observer: (@Sendable (ToolCallReport) -> Void)? = nil, logger: Logger) {
        self.invoker = invoker
        self.limits = limits
        self.recorder = recorder
        self.observer = observer
        self.logger = logger
    }

    /// One call's outcome: the block the model gets and the report.
    public struct Outcome: Sendable {
        public var call: ToolUse
        public var result: ToolResult
        public var report: ToolCallReport
    }

    /// The model's calls with their ids settled (`call_<round>_<n>` when the provider gave none)
    /// and arguments parsed; calls whose arguments are not a JSON object keep `nil` input.
    public static func toolUses(_ calls: [ToolCall], round: Int) -> [(use: ToolUse, valid: Bool)] {
        calls.enumerated().map { index, call in
            let id = call.id.flatMap { $0.isEmpty ? nil : $0 } ?? "call_\(round)_\(index)"
            let text = call.arguments.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty { return (ToolUse(id: id, name: call.name, input: .object([:]), signature: call.signature), true) }
            if let input = try? JSONValue.parse(text: text), case .object = input {
                return (ToolUse(id: id, name: call.name, input: input, signature: call.signature), true)
            }
            return (ToolUse(id: id, name: call.name, input: .object([:]), signature: call.signature), false)
        }
    }

    /// Runs `calls` (from ``toolUses(_:round:)``) and returns their outcomes in the same order.
    public func run(_ calls: [(use: ToolUse, valid: Bool)], taskId: String, round: Int,
                    deadline: ContinuousClock.Instant?) async -> [Outcome] {
        await withTaskGroup(of: (Int, Outcome).self) { group in
            for (index, call) in calls.enumerated() {
                group.addTask { (index, await runOne(call.use, valid: call.valid, taskId: taskId, round: round, deadline: deadline)) }
            }
            var outcomes = [Outcome?](repeating: nil, count: calls.count)
            for await (index, outcome) in group { outcomes[index] = outcome }
            return outcomes.compactMap { $0 }
        }
    }

    private enum Raced: Sendable {
        case finished(Result<ToolInvocationResult, any Error>)
        case timedOut
    }

    private func runOne(_ use: ToolUse, valid: Bool, taskId: String, round: Int, deadline: ContinuousClock.Instant?) async -> Outcome {
        let startedAt = Date()
        let started = ContinuousClock.now
        let server = invoker.server(of: use.name)
        let timeout = deadline.map { min(limits.timeout, max(.zero, started.duration(to: $0))) } ?? limits.timeout

        let raced: Raced
        if !valid || server == nil {
            // Not sent: the outcome below says which (arguments that are not an object, or no such tool).
            raced = .finished(.failure(ToolInvocationError(.unknownTool, "")))
        } else {
            let invoker = self.invoker
            raced = await withTaskGroup(of: Raced.self) { group in
                group.addTask {
                    do { return .finished(.success(try await invoker.invoke(name: use.name, arguments: use.input))) }
                    catch { return .finished(.failure(error)) }
                }
                group.addTask {
                    do {
                        try await Task.sleep(for: timeout)
                        return .timedOut
                    } catch {
                        return .finished(.failure(CancellationError()))
                    }
                }
                let first = await group.next() ?? .finished(.failure(CancellationError()))
                group.cancelAll()
                return first
            }
        }

        let elapsed = ContinuousClock.now - started
        let durationMs = elapsed.inMilliseconds
        var outcome: ToolCallReport.Outcome
        var content: [ContentBlock]
        var isError = true
        var message: String?
        var resultBytes = 0
        var truncated = false
        switch raced {
        case .timedOut:
            outcome = .timeout
            message = "the tool did not answer within \(Self.describe(timeout)); the call was cancelled"
            content = [.text("error: \(message!)")]
        case .finished(.success(let result)):
            outcome = result.isError ? .toolError : .ok
            isError = result.isError
            (content, resultBytes, truncated) = Self.bounded(result.content, maxBytes: limits.maxResultBytes)
            if result.isError { message = content.compactMap(\.text).joined(separator: " ").prefix(300).description }
        case .finished(.failure(let error)):
            if !valid {
                outcome = .rejected
                message = "the arguments for \(use.name) are not a JSON object"
            } else if server == nil {
                outcome = .rejected
                let names = invoker.definitions.map(\.name).sorted().joined(separator: ", ")
                message = "there is no tool named '\(use.name)'; the tools are: \(names)"
            } else if error is CancellationError || Task.isCancelled {
                outcome = .cancelled
                message = "the task was cancelled while the tool ran"
            } else {
                outcome = .failed
                message = "the tool server \(server ?? "?") failed: \(error)"
            }
            content = [.text("error: \(message!)")]
        }
        let report = ToolCallReport(taskId: taskId, round: round, callId: use.id, server: server, tool: use.name, outcome: outcome,
                                    startedAt: startedAt, durationMs: durationMs, resultBytes: resultBytes, truncated: truncated,
                                    message: message)
        switch outcome {
        case .ok, .toolError, .cancelled: break
        case .timeout, .failed, .rejected:
            logger.warning("tool call \(outcome.rawValue)", metadata: [
                "task": "\(taskId)", "server": "\(server ?? "-")", "tool": "\(use.name)", "error": "\(message ?? "")",
            ])
        }
        observer?(report)
        if let recorder {
            // Its own task: a cancelled run still has its tool call written down.
            Task { [logger] in
                do { try await recorder.recordToolCall(report) } catch {
                    logger.warning("a tool call could not be recorded", metadata: ["task": "\(taskId)", "error": "\(error)"])
                }
            }
        }
        return Outcome(call: use, result: ToolResult(toolUseId: use.id, name: use.name, content: content, isError: isError), report: report)
    }

    /// The content with its text cut to `maxBytes` UTF-8 bytes in all (on a character boundary),
    /// a note saying so at the cut; the original text size; whether it was cut.
    static func bounded(_ content: [ContentBlock], maxBytes: Int) -> ([ContentBlock], Int, Bool) {
        let total = content.reduce(0) { $0 + ($1.text?.utf8.count ?? 0) }
        guard total > maxBytes else { return (content.isEmpty ? [.text("")] : content, total, false) }
        var left = maxBytes
        var out: [ContentBlock] = []
        for block in content {
            guard let text = block.text else {
                out.append(block)
                continue
            }
            if left <= 0 { continue }
            if text.utf8.count <= left {
                out.append(block)
                left -= text.utf8.count
                continue
            }
            // Cut on a scalar boundary: the text is longer than `left`, so the loop stops inside it.
            var cut = text.unicodeScalars.endIndex
            var used = 0
            for index in text.unicodeScalars.indices {
                let size = text.unicodeScalars[index].utf8.count
                if used + size > left {
                    cut = index
                    break
                }
                used += size
            }
            out.append(.text(String(text.unicodeScalars[..<cut])))
            left = 0
        }
        out.append(.text("\n[fleetd: the tool's result was cut to \(maxBytes) of its \(total) bytes]"))
        return (out, total, true)
    }

    static func describe(_ duration: Duration) -> String {
        let ms = duration.inMilliseconds
        return ms >= 1_000 ? "\(fixed(ms / 1_000, digits: 1)) s" : "\(Int(ms)) ms"
    }
}
