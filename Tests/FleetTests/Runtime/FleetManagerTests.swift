import Agents
import FakeProvider
import Foundation
import Providers
import Testing
@testable import Fleet

/// The fleet manager: dispatch to idle agents, the bounded queue, the task timeout, reloads,
/// cancellation while waiting.
@Suite("FleetManager", .timeLimit(.minutes(1)))
struct FleetManagerTests {
    @Test("a task goes to an idle agent of its type; a task naming no type goes to the first type")
    func dispatchToAnIdleAgent() async throws {
        let fleet = try await FleetHarness.start(RuntimeConfig.builtin([("general", 1), ("coder", 2)]))
        defer { fleet.stop() }
        let manager = fleet.manager

        let first = try #require(await manager.dispatchOutcome(AgentTask(prompt: "hi", agentType: "coder")).value)
        #expect(first.agent.type == "coder")
        #expect(first.settings == TaskSettings(useRouter: true, useStreaming: false))
        let second = try #require(await manager.dispatchOutcome(AgentTask(prompt: "hi", agentType: "coder")).value)
        #expect(second.agent.type == "coder")
        #expect(second.agent.id != first.agent.id, "the busy coder is not handed a second task")
        #expect(await manager.waitingTasks == 0)

        let result = try await first.run.result()
        #expect(result.agentId == first.agent.id)
        #expect(result.output.hasPrefix(BuiltinProvider.label))
        await first.finish()
        await second.finish()

        let untyped = try #require(await manager.dispatchOutcome(AgentTask(prompt: "hi")).value)
        #expect(untyped.agent.type == "general")
        await untyped.finish()

        let unknown = await manager.dispatchOutcome(AgentTask(prompt: "hi", agentType: "poet")).failure
        #expect(unknown?.code == .unknownAgentType)

        let statuses = await manager.agentStatuses()
        #expect(statuses.first { $0.id == first.agent.id }?.completed == 1)
        #expect(statuses.allSatisfy { $0.currentTask == nil })

        // The JSON path: execute runs the task to its result and remembers it.
        let executed = try #require(await manager.executeOutcome(AgentTask(id: "fm-exec-1", prompt: "hello", agentType: "coder")).value)
        #expect(executed.localDefault)
        #expect(await manager.taskRecord("fm-exec-1")?.status == "completed")
    }

    @Test("when every agent is busy and the queue is full, a task is refused at once: QUEUE_FULL, retry after 1 s")
    func fullQueueRefuses() async throws {
        let fleet = try await FleetHarness.start(RuntimeConfig.builtin([("general", 1)], maxQueuedTasks: 1))
        defer { fleet.stop() }
        let manager = fleet.manager

        let busy = try #require(await manager.dispatchOutcome(AgentTask(prompt: "first")).value)
        let waiting = manager.dispatchInBackground(AgentTask(prompt: "second"))
        #expect(await waitUntil { await manager.waitingTasks == 1 }, "the second task waits in the queue")

        let refused = try #require(await manager.dispatchOutcome(AgentTask(prompt: "third")).failure)
        #expect(refused.code == .queueFull)
        #expect(refused.retryAfterSeconds == 1)
        #expect(refused.message.contains("busy"), "\(refused.message)")
        #expect(await manager.executeOutcome(AgentTask(prompt: "fourth")).failure?.code == .queueFull)

        // The queue is served in order when the agent comes back.
        await busy.finish()
        let second = try #require(await waiting.value.value)
        #expect(second.agent.id == busy.agent.id)
        #expect(await manager.waitingTasks == 0)
        await second.finish()
    }

    @Test("a task running past fleet.taskTimeout fails with TASK_TIMEOUT and frees its agent, upstream call and reservation")
    func taskTimeout() async throws {
        let gate = FakeGate()
        try await withServer(.always(.openAIHeld(gate: gate))) { fake in
            let fleet = try await FleetHarness.start(RuntimeConfig.held(baseURL: fake.baseURL, taskTimeout: 400))
            defer { fleet.stop() }
            let manager = fleet.manager

            let started = ContinuousClock.now
            let running = Task { await manager.executeOutcome(AgentTask(id: "fm-timeout-1", prompt: "hold on", stream: true)) }
            #expect(await waitUntil { await fleet.reserved() > 0 }, "the call holds a reservation while it runs")
            let failure = try #require(await running.value.failure)
            let elapsed = ContinuousClock.now - started
            #expect(failure.code == .taskTimeout, "\(failure)")
            #expect(elapsed >= .milliseconds(400) && elapsed < .seconds(10), "\(elapsed)")

            let record = await manager.taskRecord("fm-timeout-1")
            #expect(record?.status == "failed")
            #expect(record?.error?.code == .taskTimeout)
            #expect(await waitUntil { await fleet.reserved() == 0 }, "the reservation is released")
            // Under load the timeout can come while AsyncHTTPClient is still connecting: the call
            // is given up before its request is written, and the connection, once made, waits idle
            // in the pool (seen: 1 open, 1 accepted, 0 requests). So what must be closed is a
            // connection that carried the call, not every connection.
            #expect(await waitUntil { fake.openConnectionsThatCarriedARequest == 0 },
                    "the upstream call is cancelled: \(fake.openConnectionsThatCarriedARequest) connection(s) with a request still open, \(fake.connectionsAccepted) accepted, \(fake.requestCount) request(s) received")
            let status = try #require(await manager.agentStatuses().first)
            #expect(status.currentTask == nil && status.failed == 1, "\(status)")

            // The agent is back in the pool: the next task gets it without waiting.
            let next = try #require(await manager.dispatchWithin(.seconds(5), AgentTask(prompt: "next")).value,
                                    "the agent was not returned to the pool after the timeout")
            #expect(next.agent.id == status.id)
            await next.finish()
            gate.open()
        }
    }

    @Test("a reload that leaves a type with no agents fails its waiters at once, instead of leaving them queued forever")
    func aTypeLeftWithNoAgentsFailsItsWaiters() async throws {
        let fleet = try await FleetHarness.start(RuntimeConfig.builtin([("general", 1), ("writer", 1)], maxQueuedTasks: 4))
        defer { fleet.stop() }
        let manager = fleet.manager
        let busy = try #require(await manager.dispatchOutcome(AgentTask(prompt: "w1", agentType: "writer")).value)
        let waiting = manager.dispatchInBackground(AgentTask(prompt: "w2", agentType: "writer"))
        #expect(await waitUntil { await manager.waitingTasks == 1 })
        try await fleet.reload(RuntimeConfig.builtin([("general", 1), ("writer", 0)], maxQueuedTasks: 4))
        let failed = await waitUntil { await manager.waitingTasks == 0 }
        #expect(failed, "the waiter is still queued for a type with no agents")
        if !failed { waiting.cancel() }
        #expect(await waiting.value.failure?.code == .unknownAgentType)
        await busy.finish()
    }

    @Test("a queued task runs with the flags in force when an agent takes it, not those of when it queued")
    func aQueuedTaskTakesTheFlagsOfWhenItRuns() async throws {
        let fleet = try await FleetHarness.start(RuntimeConfig.builtin([("general", 1)], maxQueuedTasks: 4))
        defer { fleet.stop() }
        let manager = fleet.manager
        let busy = try #require(await manager.dispatchOutcome(AgentTask(prompt: "first")).value)
        #expect(busy.settings.useRouter)
        let waiting = manager.dispatchInBackground(AgentTask(prompt: "second"))
        #expect(await waitUntil { await manager.waitingTasks == 1 })
        try await fleet.reload(RuntimeConfig.builtin([("general", 1)], maxQueuedTasks: 4)
            .replacingOccurrences(of: "multiModelRouter: true", with: "multiModelRouter: false"))
        await busy.finish()
        let second = try #require(await waiting.value.value)
        #expect(second.settings.useRouter == false, "the router was turned off while the task waited")
        await second.finish()
    }

    @Test("a reload reconciles the agents: counts and types follow the config, waiters of a removed type fail")
    func reloadReconcilesAgents() async throws {
        let fleet = try await FleetHarness.start(RuntimeConfig.builtin([("general", 2), ("writer", 1)], maxQueuedTasks: 4))
        defer { fleet.stop() }
        let manager = fleet.manager
        #expect(await manager.agentStatuses().map(\.type).sorted() == ["general", "general", "writer"])

        let busyWriter = try #require(await manager.dispatchOutcome(AgentTask(prompt: "w1", agentType: "writer")).value)
        let waitingWriter = manager.dispatchInBackground(AgentTask(prompt: "w2", agentType: "writer"))
        #expect(await waitUntil { await manager.waitingTasks == 1 })

        try await fleet.reload(RuntimeConfig.builtin([("general", 1), ("reviewer", 2)], maxQueuedTasks: 4))
        #expect(await waitingWriter.value.failure?.code == .unknownAgentType, "a waiter of a removed type fails")
        #expect(await manager.waitingTasks == 0)
        // The busy writer finishes its task, then goes.
        #expect(await manager.agentStatuses().map(\.type).sorted() == ["general", "reviewer", "reviewer", "writer"])
        await busyWriter.finish()
        #expect(await manager.agentStatuses().map(\.type).sorted() == ["general", "reviewer", "reviewer"])
        #expect(await manager.dispatchOutcome(AgentTask(prompt: "w3", agentType: "writer")).failure?.code == .unknownAgentType)

        let reviewers = [
            try #require(await manager.dispatchOutcome(AgentTask(prompt: "r1", agentType: "reviewer")).value),
            try #require(await manager.dispatchOutcome(AgentTask(prompt: "r2", agentType: "reviewer")).value),
        ]
        #expect(Set(reviewers.map(\.agent.id)).count == 2)
        for reviewer in reviewers { await reviewer.finish() }
        // Tasks naming no type now go to the new config's first type.
        let untyped = try #require(await manager.dispatchOutcome(AgentTask(prompt: "u")).value)
        #expect(untyped.agent.type == "general")
        await untyped.finish()

        // fleet.maxAgents caps the counts, in config order.
        try await fleet.reload(RuntimeConfig.builtin([("general", 3), ("reviewer", 2)], maxAgents: 4, maxQueuedTasks: 4))
        #expect(await manager.agentStatuses().map(\.type).sorted() == ["general", "general", "general", "reviewer"])
        #expect(await manager.config.agents.map(\.type) == ["general", "reviewer"])
    }

    @Test("counts over fleet.maxAgents starve no type: general 12 and reviewer 2 under 8 run 7 general and 1 reviewer")
    func countsOverMaxAgentsStarveNoType() async throws {
        let fleet = try await FleetHarness.start(RuntimeConfig.builtin([("general", 12), ("reviewer", 2)], maxAgents: 8))
        defer { fleet.stop() }
        let manager = fleet.manager
        let types = await manager.agentStatuses().map(\.type)
        #expect(types.filter { $0 == "general" }.count == 7)
        #expect(types.filter { $0 == "reviewer" }.count == 1)
        let reviewer = try #require(await manager.dispatchOutcome(AgentTask(prompt: "r", agentType: "reviewer")).value)
        #expect(reviewer.agent.type == "reviewer")
        await reviewer.finish()
    }

    @Test("cancelling a task that waits for an agent gives its queue slot back, and the agent goes to the next task")
    func cancelWhileWaiting() async throws {
        let fleet = try await FleetHarness.start(RuntimeConfig.builtin([("general", 1)], maxQueuedTasks: 1))
        defer { fleet.stop() }
        let manager = fleet.manager

        let busy = try #require(await manager.dispatchOutcome(AgentTask(prompt: "first")).value)
        let cancelled = manager.dispatchInBackground(AgentTask(prompt: "gives up"))
        #expect(await waitUntil { await manager.waitingTasks == 1 })
        cancelled.cancel()
        #expect(await cancelled.value.failure?.code == .taskCancelled)
        #expect(await waitUntil { await manager.waitingTasks == 0 }, "the slot is free again")

        // With the only slot taken back, the next task may wait (a full queue would refuse it at once).
        let next = manager.dispatchInBackground(AgentTask(prompt: "next"))
        #expect(await waitUntil { await manager.waitingTasks == 1 })
        await busy.finish()
        let served = try #require(await next.value.value, "the agent goes to the waiting task, not to the one that gave up")
        #expect(served.agent.id == busy.agent.id)
        await served.finish()
        #expect(await manager.agentStatuses().count == 1)
    }

    @Test("the heartbeat does not bring back an agent type a reload removed when its last busy agent hangs")
    func hungAgentOfARemovedTypeIsNotReplaced() async throws {
        let gate = FakeGate()
        try await withServer(.always(.openAIHeld(gate: gate))) { fake in
            let fleet = try await FleetHarness.start(RuntimeConfig.held(baseURL: fake.baseURL, taskTimeout: 20_000,
                                                                         agents: [("general", 1), ("writer", 1)]))
            defer { fleet.stop() }
            let manager = fleet.manager
            let writer = try #require(await manager.dispatchOutcome(AgentTask(prompt: "hold on", agentType: "writer", stream: true)).value)
            let running = Task { for await _ in writer.run {} }
            #expect(await waitUntil { await manager.agentStatuses().contains { $0.id == writer.agent.id && $0.busySince != nil } })

            try await fleet.reload(RuntimeConfig.held(baseURL: fake.baseURL, taskTimeout: 20_000, agents: [("general", 1)]))
            // An hour on, the retired writer still has not answered: the heartbeat takes it as hung.
            await manager.checkAgents(now: Date().addingTimeInterval(3_600))
            let others = await manager.agentStatuses().filter { $0.id != writer.agent.id }.map(\.type)
            let outcome = await manager.dispatchOutcome(AgentTask(prompt: "write", agentType: "writer"))
            // The retired writer is not replaced: its type stays removed.
            #expect(others == ["general"])
            #expect(outcome.failure?.code == .unknownAgentType)
            if let extra = outcome.value { await extra.finish() }
            writer.cancel()
            await running.value
            await writer.finish()
            gate.open()
        }
    }
}
