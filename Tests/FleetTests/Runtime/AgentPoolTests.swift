import Agents
import Foundation
import Synchronization
import Testing
@testable import Fleet

/// An ``AgentPool`` shared between a test and the tasks that wait on it (the manager keeps it
/// actor-isolated; here a lock does).
final class PoolBox: Sendable {
    let pool = Mutex(AgentPool())

    /// Waits for an agent of `type` as ``FleetManager/dispatch(_:)`` does: a continuation in the queue.
    func wait(for type: String, id: UInt64) async throws -> Agent {
        try await withCheckedThrowingContinuation { continuation in
            pool.withLock { $0.enqueue(type, AgentPool.Waiter(id: id, continuation: continuation)) }
        }
    }

    var waitingCount: Int { pool.withLock { $0.waitingCount } }
}

@Suite("AgentPool", .timeLimit(.minutes(1)))
struct AgentPoolTests {
    @Test("a spawned agent is busy until released; released, it is idle for its type only")
    func idleAgents() {
        var pool = AgentPool()
        let agent = pool.spawn(type: "general", role: AgentRole())
        #expect(pool.count(of: "general") == 1)
        #expect(pool.types == ["general"])
        #expect(pool.takeIdle("general") == nil, "a new agent is not idle until released")
        #expect(pool.release(agent) == nil, "nobody waits: it goes idle")
        #expect(pool.takeIdle("coder") == nil)
        #expect(pool.takeIdle("general") === agent)
        #expect(pool.takeIdle("general") == nil, "taken: no longer idle")
    }

    @Test("a released agent goes to the first task waiting for its type, in order")
    func waitersAreServedInOrder() async throws {
        let box = PoolBox()
        let agent = box.pool.withLock { $0.spawn(type: "general", role: AgentRole()) }
        let first = Task { try await box.wait(for: "general", id: box.pool.withLock { $0.newWaiterID() }) }
        #expect(await waitUntil { box.waitingCount == 1 })
        let second = Task { try await box.wait(for: "general", id: box.pool.withLock { $0.newWaiterID() }) }
        #expect(await waitUntil { box.waitingCount == 2 })

        let waiter = try #require(box.pool.withLock { $0.release(agent) })
        waiter.continuation.resume(returning: agent)
        #expect(try await first.value === agent)
        #expect(box.waitingCount == 1)
        #expect(box.pool.withLock { $0.takeIdle("general") } == nil, "handed over, not idle")

        let next = try #require(box.pool.withLock { $0.release(agent) })
        next.continuation.resume(returning: agent)
        #expect(try await second.value === agent)
    }

    @Test("a waiter that gives up is removed; the agent then goes idle instead of to it")
    func removedWaiter() async throws {
        let box = PoolBox()
        let agent = box.pool.withLock { $0.spawn(type: "general", role: AgentRole()) }
        let id = box.pool.withLock { $0.newWaiterID() }
        let waiting = Task { try await box.wait(for: "general", id: id) }
        #expect(await waitUntil { box.waitingCount == 1 })
        let removed = try #require(box.pool.withLock { $0.removeWaiter(id) })
        removed.continuation.resume(throwing: CancellationError())
        await #expect(throws: CancellationError.self) { try await waiting.value }
        #expect(box.waitingCount == 0)
        #expect(box.pool.withLock { $0.removeWaiter(id) } == nil, "removing twice finds nothing")
        #expect(box.pool.withLock { $0.release(agent) } == nil)
        #expect(box.pool.withLock { $0.takeIdle("general") } === agent)
    }

    @Test("retiring removes idle agents at once and busy ones when they come back")
    func retire() {
        var pool = AgentPool()
        let agents = (0..<3).map { _ in pool.spawn(type: "general", role: AgentRole()) }
        _ = pool.release(agents[0])
        _ = pool.release(agents[1])
        pool.retire(type: "general", keep: 1)
        #expect(pool.count(of: "general") == 1)
        #expect(pool.agents.keys.sorted() == [agents[2].id], "both idle agents went at once")
        #expect(pool.takeIdle("general") == nil)

        pool.retire(type: "general", keep: 0)
        #expect(pool.count(of: "general") == 0)
        #expect(pool.types.isEmpty)
        #expect(pool.agents.count == 1, "the busy agent stays until it comes back")
        #expect(pool.release(agents[2]) == nil)
        #expect(pool.agents.isEmpty)
        #expect(pool.takeIdle("general") == nil, "a retired agent is never idle again")
    }

    @Test("a hung agent is replaced by a fresh one of its type; the old one is dropped when it returns")
    func replaceHungAgent() throws {
        var pool = AgentPool()
        let hung = pool.spawn(type: "coder", role: AgentRole(maxTokens: 99))
        let replacement = pool.replace(hung)
        let fresh = try #require(replacement)
        #expect(fresh.id != hung.id)
        #expect(fresh.type == "coder" && fresh.role.maxTokens == 99)
        #expect(pool.count(of: "coder") == 1)
        #expect(pool.release(hung) == nil)
        #expect(pool.agents.keys.sorted() == [fresh.id])
    }

    @Test("replacing an agent that a reload already retired brings back no agent")
    func replaceRetiredAgent() {
        var pool = AgentPool()
        let busy = pool.spawn(type: "writer", role: AgentRole())
        pool.retire(type: "writer", keep: 0)
        #expect(pool.types.isEmpty)
        // A type removed by a reload (or a count lowered by one) must not come back when its
        // busy agent hangs.
        let replacement = pool.replace(busy)
        #expect(replacement == nil)
        #expect(pool.count(of: "writer") == 0)
        #expect(pool.types.isEmpty)
    }

    @Test("waiters of types that no longer exist are handed back to be failed; the others stay")
    func dropWaitersOfRemovedTypes() async throws {
        let box = PoolBox()
        let gone = Task { try await box.wait(for: "writer", id: box.pool.withLock { $0.newWaiterID() }) }
        let kept = Task { try await box.wait(for: "general", id: box.pool.withLock { $0.newWaiterID() }) }
        #expect(await waitUntil { box.waitingCount == 2 })
        let dropped = box.pool.withLock { $0.dropWaiters(notIn: ["general"]) }
        #expect(dropped.count == 1)
        for waiter in dropped { waiter.continuation.resume(throwing: CancellationError()) }
        await #expect(throws: CancellationError.self) { try await gone.value }
        #expect(box.waitingCount == 1)
        let agent = box.pool.withLock { $0.spawn(type: "general", role: AgentRole()) }
        let waiter = try #require(box.pool.withLock { $0.release(agent) })
        waiter.continuation.resume(returning: agent)
        #expect(try await kept.value === agent)
    }
}
