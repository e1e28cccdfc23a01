import FleetSupport
import Foundation
import Providers
import Routing
import Store
import Streaming

/// What a running task reports, in order: `start`, `chunk`s and `progress`, then `complete` or a
/// terminal `error`. The JSON API collects them into one ``TaskResult``; the SSE API relays them.
public enum TaskEvent: Sendable {
    // Indirect (boxed), as are the tool events, an error and the end: once per task or seldom.
    // Inline, the start (105 bytes) set every event's size, and an event takes a slot in each
    // async frame that awaits one, on the chain an open stream's connection keeps.
    indirect case start(TaskStart)
    case chunk(StreamChunk)
    /// A piece of the model's extended thinking (asked for through `/v1/messages`' `thinking`):
    /// its blocks are numbered across the task's model calls.
    case thinking(ThinkingDelta)
    case progress(StreamProgress)
    /// The model asked for a tool (`mcpTools`): sent before the call runs.
    indirect case toolCall(TaskToolCall)
    /// A tool call ended (answered, failed, timed out); its result goes back to the model.
    indirect case toolResult(TaskToolResult)
    /// A terminal failure, or (when `terminal` is false) a discarded chunk.
    indirect case error(TaskFailure)
    // Indirect: a result is a few hundred bytes, and every event held across an `await` takes
    // that much of its task's async frame, for every open stream (docs/performance.md, "Memory").
    indirect case complete(TaskResult)

    /// How the task ended, when this event is its end (`complete`, or a terminal `error`).
    public var outcome: Result<TaskResult, TaskFailure>? {
        switch self {
        case .complete(let result): .success(result)
        case .error(let failure) where failure.terminal: .failure(failure)
        default: nil
        }
    }

    public var name: String {
        switch self {
        case .start: "start"
        case .chunk: "chunk"
        case .thinking: "thinking"
        case .progress: "progress"
        case .toolCall: "tool_call"
        case .toolResult: "tool_result"
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

/// A tool call the model made, as the task's SSE stream tells it (`tool_call`).
public struct TaskToolCall: Sendable, Codable {
    public var taskId: String
    /// 1 for the calls of the model's first answer, 2 for the next…
    public var round: Int
    public var callId: String
    /// The MCP server that serves the tool, when one does.
    public var server: String?
    public var tool: String
    public var arguments: JSONValue
}

/// A tool call's end, as the task's SSE stream tells it (`tool_result`).
public struct TaskToolResult: Sendable, Codable {
    public var taskId: String
    public var round: Int
    public var callId: String
    public var server: String?
    public var tool: String
    /// `ok`, `tool_error`, `timeout`, `failed`, `rejected` or `cancelled`.
    public var outcome: ToolCallReport.Outcome
    public var isError: Bool
    public var durationMs: Double
    /// The result's text as the model gets it (cut to the agent type's `maxToolResultBytes`).
    public var text: String
    public var truncated: Bool
}

/// What tools did in a task (`mcpTools` on and the agent type has tool servers).
public struct ToolUseSummary: Sendable, Codable {
    /// Rounds of tool calls: model calls made = rounds + 1 (unless the task ended early).
    public var rounds: Int
    public var calls: [ToolCallReport]
    /// True when the model still asked for tools after `maxToolRounds`: the answer is its last
    /// one, with the calls it asked for in ``TaskResult/toolCalls``, not run.
    public var exhausted: Bool
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

    /// `TASK_TIMEOUT`: the task ran past `fleet.taskTimeout`.
    public static func timedOut(taskId: String, after timeout: Duration) -> TaskFailure {
        TaskFailure(code: .taskTimeout, message: "task \(taskId) ran longer than fleet.taskTimeout (\(timeout))")
    }
}

/// A finished task.
public struct TaskResult: Sendable, Codable {
    public var taskId: String
    public var status: String
    /// The answer's text: with tool rounds, every model call's text in order, as the chunks told it.
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
    /// The tool calls fleetd ran for the model (agent types with `mcpServers`, `mcpTools` on).
    public var toolUse: ToolUseSummary? = nil
    /// When the model thought (`/v1/messages`' `thinking`, `reasoning_effort`): the answer's
    /// thinking and text blocks in the order they came, over every model call of the task.
    public var content: [ContentBlock]? = nil
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
