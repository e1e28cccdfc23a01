import FleetSupport
import Foundation
import Providers

/// The tools an agent type may give its model, and the way to run them: module ToolServers
/// implements it over MCP servers; Streaming and Agents only know this seam.
public protocol ToolInvoker: Sendable {
    /// What the model is offered (names unique within the invoker).
    var definitions: [ToolDefinition] { get }
    /// The server that serves `tool`, for records and logs; `nil` for a name it does not know.
    func server(of tool: String) -> String?
    /// Runs one call to the end. Throws ``ToolInvocationError`` when the call could not be made
    /// or its server failed; a tool that ran and reported failure returns `isError: true`.
    /// Must return promptly once the calling task is cancelled.
    func invoke(name: String, arguments: JSONValue) async throws -> ToolInvocationResult
}

/// What a tool returned.
public struct ToolInvocationResult: Sendable, Hashable {
    /// Text and image blocks, in the tool's order.
    public var content: [ContentBlock]
    /// The tool says it failed (MCP's `isError`).
    public var isError: Bool

    public init(content: [ContentBlock], isError: Bool = false) {
        self.content = content
        self.isError = isError
    }
}

/// Why a tool call could not be made or did not finish.
public struct ToolInvocationError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// The model named a tool the agent type does not have.
        case unknownTool
        /// The server is not running or the connection to it broke.
        case unavailable
        /// The server answered with a protocol error (bad arguments, internal error).
        case failed
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// How tool calls are bounded: how long one may take and how much of its result the model gets.
public struct ToolLimits: Sendable, Hashable {
    public var timeout: Duration
    /// The most UTF-8 bytes of result text handed to the model; the rest is cut with a note.
    public var maxResultBytes: Int
    /// Model calls after the first that may follow tool results (`maxToolRounds`).
    public var maxRounds: Int

    public init(timeout: Duration = .seconds(30), maxResultBytes: Int = 64 * 1024, maxRounds: Int = 5) {
        self.timeout = timeout
        self.maxResultBytes = maxResultBytes
        self.maxRounds = maxRounds
    }
}

/// One tool call as it ended: what the store, the metrics and the task's SSE stream report.
public struct ToolCallReport: Sendable, Hashable, Codable {
    public enum Outcome: String, Sendable, Hashable, Codable {
        /// The tool ran and answered.
        case ok
        /// The tool ran and said it failed (its error text goes to the model).
        case toolError = "tool_error"
        /// It took longer than the tool timeout; the call was cancelled.
        case timeout
        /// The server is gone, or the call failed at the protocol level.
        case failed
        /// The model asked for a tool the agent type does not have, or sent arguments that are not a JSON object.
        case rejected
        /// The task was cancelled (its client left, or its timeout) while the tool ran.
        case cancelled
    }

    public var taskId: String
    /// 1 for the tools the model's first answer asked for, 2 for the next…
    public var round: Int
    /// The model's id for the call (the provider's, or `call_<n>` when it gave none).
    public var callId: String
    /// The MCP server that served it (`nil` when no server has the tool).
    public var server: String?
    public var tool: String
    public var outcome: Outcome
    public var startedAt: Date
    public var durationMs: Double
    /// UTF-8 bytes of result text the tool returned (before the bound).
    public var resultBytes: Int
    /// Whether the result was cut to ``ToolLimits/maxResultBytes``.
    public var truncated: Bool
    /// Why it failed, for the operator (never a secret: tool servers' errors as they said them).
    public var message: String?

    public init(taskId: String, round: Int, callId: String, server: String?, tool: String, outcome: Outcome, startedAt: Date,
                durationMs: Double, resultBytes: Int, truncated: Bool, message: String?) {
        self.taskId = taskId
        self.round = round
        self.callId = callId
        self.server = server
        self.tool = tool
        self.outcome = outcome
        self.startedAt = startedAt
        self.durationMs = durationMs
        self.resultBytes = resultBytes
        self.truncated = truncated
        self.message = message
    }
}

/// Where tool calls are written (module Agents implements it on the memory store, partition
/// `tools/calls`).
public protocol ToolCallRecorder: Sendable {
    func recordToolCall(_ report: ToolCallReport) async throws
}
