import FleetSupport
import Foundation

/// One agent: a worker of one type with its role. It runs one task at a time (the fleet manager
/// hands it a task only when it is idle) and keeps its own record for heartbeats and `/v1/agents`.
public actor Agent {
    public nonisolated let id: String
    public nonisolated let type: String
    /// Its system prompt, default task type and token limit; a reload may replace it, and the
    /// next task the agent runs uses the new one.
    public nonisolated var role: AgentRole { liveRole.value }
    private nonisolated let liveRole: LiveSetting<AgentRole>

    public private(set) var currentTask: String?
    public private(set) var busySince: Date?
    public private(set) var completed = 0
    public private(set) var failed = 0
    public private(set) var lastHeartbeat = Date()

    public init(id: String, type: String, role: AgentRole) {
        self.id = id
        self.type = type
        self.liveRole = LiveSetting(role)
    }

    /// A reload's role for this agent's type.
    public nonisolated func update(role: AgentRole) {
        liveRole.set(role)
    }

    /// The task's events (see ``TaskRun``). Iterate them to run it.
    /// - Parameter deadline: when the task must be done by (its timeout), if it has one: no retry
    ///   of the model waits past it.
    public nonisolated func run(_ task: AgentTask, settings: TaskSettings, runtime: TaskRuntime,
                                deadline: ContinuousClock.Instant? = nil) -> TaskRun {
        TaskRun(task: task, settings: settings, runtime: runtime, agent: self, deadline: deadline)
    }

    func began(_ taskId: String) {
        currentTask = taskId
        busySince = Date()
    }

    func ended(success: Bool) {
        currentTask = nil
        busySince = nil
        if success { completed += 1 } else { failed += 1 }
    }

    /// Answers a heartbeat: proves the actor is responsive and reports what it is doing.
    public func heartbeat(now: Date = Date()) -> AgentStatus {
        lastHeartbeat = now
        return AgentStatus(id: id, type: type, currentTask: currentTask, busySince: busySince,
                           completed: completed, failed: failed, lastHeartbeat: now)
    }
}

/// An agent's state, as heartbeats and `/v1/agents` see it.
public struct AgentStatus: Sendable, Codable, Hashable {
    public var id: String
    public var type: String
    public var currentTask: String?
    public var busySince: Date?
    public var completed: Int
    public var failed: Int
    public var lastHeartbeat: Date
}
