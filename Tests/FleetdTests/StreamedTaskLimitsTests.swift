import FakeProvider
import Foundation
import Testing

/// Streamed tasks keep the same promises as JSON ones: the task timeout, an agent given back when
/// the client leaves while waiting for one, and subtasks that act for their parent (never less
/// private than it).
@Suite(.serialized) struct StreamedTaskLimitsTests {
    /// The Anthropic transcript dripped 20 bytes every 100 ms: several seconds in all.
    static func slowStream() throws -> FakeScript {
        .always(try FakeResponse.fixture("providers/anthropic-stream-sdkfixture-basic.sse").dripped(size: 20, delay: .milliseconds(100)))
    }

    func start(agents: Int, taskTimeoutMs: Int, script: FakeScript? = nil) async throws -> (FakeProviderServer, FleetdProcess) {
        let fake = try await FakeProviderServer.start(script: try script ?? Self.slowStream())
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        var config = TaskPathTests.config(baseURL: fake.baseURL, router: "true", streaming: "true")
        config = config.replacingOccurrences(of: "  - {type: general, count: 2}", with: "  - {type: general, count: \(agents)}")
        config = config.replacingOccurrences(of: "taskTimeout: 20000", with: "taskTimeout: \(taskTimeoutMs)")
        try config.write(to: file, atomically: true, encoding: .utf8)
        return (fake, try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data")))
    }

    @Test func aStreamedTaskEndsAtTheTaskTimeoutWithAnErrorEvent() async throws {
        let (fake, fleetd) = try await start(agents: 1, taskTimeoutMs: 700)
        let events = try await TaskPathTests().streamedEvents(fleetd, #"{"prompt": "hello", "stream": true}"#)
        #expect(events.last?.0 == "error", "\(events.map(\.0))")
        #expect(events.last?.1["code"] as? String == "TASK_TIMEOUT")
        // The agent came back: the next task runs (and times out the same way) instead of queueing
        // forever. It is the one timed: the first task of a fresh process also pays for its
        // first use of every path (a fresh-clone CI run, its machine busy with the parallel
        // suites, measured 3.47 s for the first, where the timeout and a normal start take ~1 s).
        let clock = ContinuousClock()
        let start = clock.now
        let again = try await TaskPathTests().streamedEvents(fleetd, #"{"prompt": "again", "stream": true}"#)
        let elapsed = clock.now - start
        #expect(again.last?.1["code"] as? String == "TASK_TIMEOUT")
        #expect(elapsed < .seconds(3), "ended by the 0.7 s task timeout, not the stream's end (5.2 s): \(elapsed)")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    /// The compatible endpoints keep the task timeout too. Before the first text the status is
    /// not sent yet, so a timeout is the dialect's 504 error; after it, the dialect's error event.
    /// Either way the task is recorded as timed out. The provider stalls (its socket open) inside
    /// `message_start`, or in the second text delta, just after "Hello" (the head is 74 bytes). The
    /// timeout is long enough for the first text to come on a machine busy with the parallel suites.
    @Test(arguments: [
        ("/v1/chat/completions", "data: {\"error\""),
        ("/v1/messages", "event: error"),
    ])
    func aCompatibleStreamEndsAtTheTaskTimeoutWithTheDialectsError(path: String, errorEvent: String) async throws {
        let body = #"{"model": "auto", "max_tokens": 64, "stream": true, "messages": [{"role": "user", "content": "hello"}]}"#
        for (stall, status) in [(74 + 100, 504), (74 + 600, 200)] {
            let script = FakeScript.always(try FakeResponse.fixture("providers/anthropic-stream-sdkfixture-basic.sse").with(.stallAfter(bytes: stall)))
            let (fake, fleetd) = try await start(agents: 1, taskTimeoutMs: 4_000, script: script)
            let streamed = try await http(.POST, fleetd.baseURL + path, body: body)
            #expect(streamed.status == status, "stalled after \(stall) bytes: \(streamed.body)")
            #expect(streamed.body.contains("ran longer than fleet.taskTimeout"), "\(streamed.body)")
            if status == 200 {
                #expect(streamed.body.contains("Hello") && streamed.body.contains(errorEvent), "\(streamed.body)")
            }
            let id = try #require(streamed.headers["x-fleetd-task-id"].first)
            let record = try await http(.GET, fleetd.baseURL + "/v1/tasks/\(id)")
            #expect(record.json["status"] as? String == "failed" && jsonValue(record.json, "error.code") as? String == "TASK_TIMEOUT",
                    "\(record.body)")
            fleetd.signal(SIGTERM)
            #expect(await fleetd.waitForExit() == 0)
            await fake.shutdown()
        }
    }

    /// A compatible stream's run has the task's time limit, as `/v1/tasks`' runs do: a provider's
    /// 429 whose Retry-After ends past `fleet.taskTimeout` is not waited out (to end in a 504),
    /// it is the answer at once, the dialect's 429 with the wait.
    @Test func aCompatibleStreamDoesNotWaitOutARetryAfterPastTheTaskTimeout() async throws {
        let limited = FakeResponse.status(429, body: #"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#,
                                          headers: [("retry-after", "4")])
        let fake = try await FakeProviderServer.start(script: .always(limited))
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        let config = TaskPathTests.config(baseURL: fake.baseURL, router: "true", streaming: "true", retries: 3)
            .replacingOccurrences(of: "taskTimeout: 20000", with: "taskTimeout: 2500")
        try config.write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"))
        let body = #"{"model": "cheap", "stream": true, "messages": [{"role": "user", "content": "hello"}]}"#
        let clock = ContinuousClock()
        let start = clock.now
        let answer = try await http(.POST, fleetd.baseURL + "/v1/chat/completions", body: body)
        let elapsed = clock.now - start
        #expect(answer.status == 429, "\(answer.status): \(answer.body)")
        #expect(answer.headers.first(name: "retry-after") != nil, "\(answer.headers)")
        #expect(elapsed < .seconds(2), "answered at once, not at the 2.5 s task timeout: \(elapsed)")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func aClientThatLeavesWhileWaitingForAnAgentGivesItsPlaceBack() async throws {
        let (fake, fleetd) = try await start(agents: 1, taskTimeoutMs: 20_000)
        // The only agent is busy with a slow stream.
        let busy = Task { try await TaskPathTests().streamedEvents(fleetd, #"{"prompt": "first", "stream": true}"#).map(\.0) }
        #expect(await eventually(timeout: .seconds(10)) { fake.bytesWritten > 0 })
        // A second streamed task waits for the agent, and its client resets the connection.
        let waiting = try RawConnection(port: fleetd.port)
        let body = #"{"prompt": "second", "stream": true}"#
        try waiting.send("POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        #expect(try await eventually(timeout: .seconds(5)) {
            try await http(.GET, fleetd.baseURL + "/metrics").body.contains("fleetd_tasks_waiting 1")
        })
        waiting.close()
        #expect(try await eventually(timeout: .seconds(5)) {
            try await http(.GET, fleetd.baseURL + "/metrics").body.contains("fleetd_tasks_waiting 0")
        }, "the waiting task left the queue when its client reset the connection")
        let first = try await busy.value
        #expect(first.last == "complete")
        // The agent is free again: a third task runs at once rather than waiting behind a ghost.
        let third = try await http(.POST, fleetd.baseURL + "/v1/route", body: #"{"prompt": "x"}"#)
        #expect(third.status == 200)
        let clock = ContinuousClock()
        let start = clock.now
        let result = try await TaskPathTests().streamedEvents(fleetd, #"{"prompt": "third", "stream": true}"#)
        #expect(result.last?.0 == "complete", "\(result.map(\.0))")
        #expect(clock.now - start < .seconds(15))
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func subtasksOfALocalOnlyTaskNeverReachACloudProvider() async throws {
        let cloud = try await FakeProviderServer.start(script: .always(try .fixture("providers/anthropic-nonstream-docs-example.json")))
        let local = try await FakeProviderServer.start(script: .always(try .fixture("providers/ollama-chat-nonstream-docs.json")))
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try """
        fleet: {id: privacy, maxAgents: 4}
        agents: [{type: general, count: 4}]
        api: {host: 127.0.0.1}
        features: {multiModelRouter: true, streaming: false}
        routing:
          enabled: true
          defaultModel: cloud
          models:
            - {name: cloud, provider: anthropic, model: cloud-model, credentials: {endpoint: "\(cloud.baseURL)"}}
            - {name: local, provider: ollama, model: llama3, credentials: {endpoint: "\(local.baseURL)"}}
        """.write(to: file, atomically: true, encoding: .utf8)
        let fleetd = try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"),
                                             environment: ["ANTHROPIC_API_KEY": "sk-ant-privacy"])
        let body = #"{"prompt": "parent", "privacy": "local-only", "tenantId": "acme", "subtasks": [{"prompt": "a"}, {"prompt": "b", "preferredModel": "cloud"}]}"#
        let result = try await http(.POST, fleetd.baseURL + "/v1/tasks", body: body)
        #expect(result.status == 200, "\(result.body)")
        let subtasks = result.json["subtasks"] as? [[String: Any]] ?? []
        #expect(subtasks.count == 2)
        for subtask in subtasks {
            let model = (subtask["result"] as? [String: Any])?["model"] as? String
            #expect(model == "local" || subtask["succeeded"] as? Bool == false, "\(subtask)")
        }
        #expect(cloud.requests.isEmpty, "a local-only task's subtasks went to the cloud: \(cloud.requests.map(\.path))")
        #expect(local.requests.count == 3)
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await cloud.shutdown()
        await local.shutdown()
    }
}

/// A JSON (unstreamed) task whose client leaves stops, as a streamed one does: Hummingbird does
/// not cancel a handler when its connection closes, and the task ran on, holding its agent and
/// its provider call, for a client that would never read the answer (SDK retries made it worse).
@Suite(.serialized) struct JSONClientLeavesTests {
    @Test(arguments: [
        ("/v1/tasks", #"{"prompt": "HOLDME and wait", "id": "json-held"}"#),
        ("/v1/chat/completions", #"{"model": "auto", "messages": [{"role": "user", "content": "HOLDME and wait"}]}"#),
    ])
    func aJSONTaskWhoseClientLeavesIsCancelled(path: String, body: String) async throws {
        let (gate, fake, fleetd) = try await MCPSDKTests.startHeldFleet()
        let client = try RawConnection(port: fleetd.port)
        try client.send("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        #expect(await eventually(timeout: .seconds(10)) { fake.openConnections == 1 }, "the provider call started")
        client.close()
        #expect(await eventually(timeout: .seconds(5)) { fake.openConnections == 0 }, "the provider call was closed: \(fake.openConnections)")
        if path == "/v1/tasks" {
            #expect(try await eventually(timeout: .seconds(5)) {
                try await http(.GET, fleetd.baseURL + "/v1/tasks/json-held").body.contains("TASK_CANCELLED")
            })
        }
        // The one general agent is free again: the next task runs at once, not after the task timeout.
        let clock = ContinuousClock()
        let start = clock.now
        let next = try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "Say ten tokens.", "stream": true}"#)
        #expect(next.status == 200 && next.body.contains("event: complete"), "\(next.body)")
        #expect(clock.now - start < .seconds(10))
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        gate.open()
        await fake.shutdown()
    }
}
