import FleetSupport
import Foundation
import Providers
import Routing
import Store
import Streaming

/// What a running task reports, in order: `start`, `chunk`s and `progress`, then `complete` or a
/// terminal `error`. The JSON API collects them into one ``TaskResult``; the SSE API relays them.
public enum TaskEvent: Sendable {
    case start(TaskStart)
    case chunk(StreamChunk)
    case progress(StreamProgress)
    /// A terminal failure, or (when `terminal` is false) a discarded chunk.
    case error(TaskFailure)
    case complete(TaskResult)

    public var name: String {
        switch self {
        case .start: "start"
        case .chunk: "chunk"
        case .progress: "progress"
        case .error: "error"
        case .complete: "complete"
        }
    }
}

/// Sent first: which agent and model took the task, and why.
public struct TaskStart: Sendable, Codable {
    public var taskId: String
    public var agentId: String
    public var agentType: String
    public var model: String
    public var provider: ProviderKind
    public var streaming: Bool
    public var routed: Bool
    public var reason: String
    public var fallbackModels: [String]
    public var complexity: Double
    /// True when the answer comes from fleetd's built-in local responder, not a model.
    public var localDefault: Bool
}

/// A task that failed, with the product's error code (ROUTER_*, STREAM_*, COST_*, PROVIDER_*).
public struct TaskFailure: Error, Sendable, Codable, Hashable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String
    public var terminal: Bool
    public var model: String?
    /// Seconds to wait before retrying, when known (a full queue, a provider's Retry-After).
    public var retryAfterSeconds: Int?

    public init(code: ErrorCode, message: String, terminal: Bool = true, model: String? = nil, retryAfterSeconds: Int? = nil) {
        self.code = code
        self.message = message
        self.terminal = terminal
        self.model = model
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// A finished task.
public struct TaskResult: Sendable, Codable {
    public var taskId: String
    public var status: String
    public var output: String
    public var model: String
    public var provider: ProviderKind
    public var agentId: String
    public var usage: CostUsage
    /// US dollars, from the model's prices.
    public var cost: Double
    public var streamed: Bool
    public var synchronousFallback: Bool
    public var attempts: Int
    public var durationMs: Double
    public var localDefault: Bool
    /// Times the stream paused the provider read because the consumer was slow.
    public var backpressureEvents: Int
    public var selection: SelectionSummary
    /// Each subtask's outcome, when the task had subtasks.
    public var subtasks: [SubtaskOutcome]?
    /// `hit` when the answer came from the response cache (no model was called, nothing billed
    /// but a zero-cost `cache` row), `miss` when the cache was asked and did not have it; absent
    /// when `advancedCaching` is off for the task.
    public var cache: String? = nil
    /// On a hit: what the original call cost, saved this time.
    public var cacheSavedUSD: Double? = nil
    /// The tool calls the model made, when it made any.
    public var toolCalls: [ToolCall]? = nil
    /// Why generation stopped, in the provider's own words (`end_turn`, `stop`, `tool_calls`, `STOP`…).
    public var finishReason: String? = nil
}

/// Why a model was chosen (the full trace is in `routing/selections/<taskId>`).
public struct SelectionSummary: Sendable, Codable {
    public var modelName: String
    public var routed: Bool
    public var reason: String
    public var complexity: ComplexityScore
    public var fallbackModels: [String]
    public var estimatedCost: Double
    public var alerts: [RoutingAlert]

    public init(_ selection: ModelSelection) {
        modelName = selection.modelName
        routed = selection.routed
        reason = selection.reason
        complexity = selection.complexity
        fallbackModels = selection.fallbackModels
        estimatedCost = selection.estimatedCost
        alerts = selection.alerts
    }
}

/// One subtask's outcome: its result, or why it failed.
public struct SubtaskOutcome: Sendable, Codable {
    public var taskId: String
    public var succeeded: Bool
    public var result: TaskResult?
    public var error: TaskFailure?

    public init(taskId: String, succeeded: Bool, result: TaskResult?, error: TaskFailure?) {
        self.taskId = taskId
        self.succeeded = succeeded
        self.result = result
        self.error = error
    }
}
