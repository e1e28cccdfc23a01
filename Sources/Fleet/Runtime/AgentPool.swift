import Agents
import DequeModule
import Foundation

/// The agents of a fleet, by type, and the bounded queue of tasks waiting for one.
///
/// Kept inside ``FleetManager`` (actor-isolated there): a pure bookkeeping struct plus the
/// continuations of waiting tasks, resumed outside any lock because the actor has none.
struct AgentPool {
    struct Waiter {
        /// From ``newWaiterID()``: unique within this pool, which is all a cancellation needs.
        let id: UInt64
        let continuation: CheckedContinuation<Agent, any Error>
    }

    private(set) var agents: [String: Agent] = [:]
    private var idle: [String: [Agent]] = [:]
    private var waiters: [String: Deque<Waiter>] = [:]
    private var retired: Set<String> = []
    /// Agents of each type that are not retired (kept, because dispatch asks on every task).
    private var live: [String: Int] = [:]
    private var sequence = 0
    private var waiterSequence: UInt64 = 0

    var waitingCount: Int { waiters.values.reduce(0) { $0 + $1.count } }

    func count(of type: String) -> Int {
        live[type] ?? 0
    }

    func hasType(_ type: String) -> Bool {
        count(of: type) > 0
    }

    var types: Set<String> { Set(live.filter { $0.value > 0 }.keys) }

    /// An idle agent of `type`, if one is free now.
    mutating func takeIdle(_ type: String) -> Agent? {
        idle[type]?.popLast()
    }

    /// A waiter's id. A counter, not a `UUID`: Foundation's `UUID()` opens, reads and closes
    /// `/dev/urandom` each time, three system calls for every task that waits.
    mutating func newWaiterID() -> UInt64 {
        waiterSequence &+= 1
        return waiterSequence
    }

    mutating func enqueue(_ type: String, _ waiter: Waiter) {
        waiters[type, default: []].append(waiter)
    }

    /// Removes a waiter that gave up (cancelled); returns it so it can be resumed with an error.
    mutating func removeWaiter(_ id: UInt64) -> Waiter? {
        for (type, queue) in waiters {
            if let index = queue.firstIndex(where: { $0.id == id }) {
                return waiters[type]?.remove(at: index)
            }
        }
        return nil
    }

    /// Gives the agent back: to the first task waiting for its type, or to the idle list.
    /// Returns the waiter to resume, if any. A retired agent is dropped.
    mutating func release(_ agent: Agent) -> Waiter? {
        if retired.contains(agent.id) {
            retired.remove(agent.id)
            agents[agent.id] = nil
            return nil
        }
        if let waiter = waiters[agent.type]?.popFirst() {
            return waiter
        }
        idle[agent.type, default: []].append(agent)
        return nil
    }

    mutating func spawn(type: String, role: AgentRole) -> Agent {
        sequence += 1
        let agent = Agent(id: "\(type)-\(sequence)", type: type, role: role)
        agents[agent.id] = agent
        live[type, default: 0] += 1
        return agent
    }

    /// Retires agents of `type` beyond `keep`: idle ones at once, busy ones when they come back.
    mutating func retire(type: String, keep: Int) {
        var excess = count(of: type) - keep
        guard excess > 0 else { return }
        while excess > 0, let agent = idle[type]?.popLast() {
            agents[agent.id] = nil
            live[type, default: 0] -= 1
            excess -= 1
        }
        for agent in agents.values where excess > 0 && agent.type == type && !retired.contains(agent.id) {
            retired.insert(agent.id)
            live[type, default: 0] -= 1
            excess -= 1
        }
    }

    /// Whether the agent was retired (it finishes its task, then leaves).
    func isRetired(_ agent: Agent) -> Bool { retired.contains(agent.id) }

    /// Replaces a hung agent: the old one is retired, a new one takes its place.
    /// An agent already retired (its type removed or its count lowered by a reload, or replaced
    /// before) gets no replacement: `nil`.
    mutating func replace(_ agent: Agent) -> Agent? {
        guard retired.insert(agent.id).inserted else { return nil }
        live[agent.type, default: 0] -= 1
        return spawn(type: agent.type, role: agent.role)
    }

    /// The waiters of types that no longer exist, to be failed.
    mutating func dropWaiters(notIn types: Set<String>) -> [Waiter] {
        var dropped: [Waiter] = []
        for (type, queue) in waiters where !types.contains(type) {
            dropped.append(contentsOf: queue)
            waiters[type] = nil
        }
        return dropped
    }
}
