import FakeProvider
import Foundation
import Testing

/// The memory store on one PostgreSQL database: what one fleetd records (a cached answer, a
/// routing selection, a task's outcome for feedback) every fleetd reads.
@Suite(.serialized, SharedCluster.trait) struct SharedMemoryEndToEndTests {
    @Test func anAnswerCachedByOneInstanceIsAHitOnAnother() async throws {
        let database = try await SharedCluster.freshDatabase()
        let fake = try await FakeProviderServer.start(script: FakeScript { _, _ in
            (try? .fixture("providers/anthropic-nonstream-docs-example.json")) ?? .status(500)
        })
        let text = ResponseCacheEndToEndTests.config(baseURL: fake.baseURL) + "\n" + SharedCluster.databaseSection(database)
        let first = try await ResponseCacheEndToEndTests.start(text), second = try await ResponseCacheEndToEndTests.start(text)
        let body = #"{"prompt": "What is the capital of France?", "tenantId": "acme", "stream": false}"#
        let miss = try await ResponseCacheEndToEndTests.task(first, body)
        #expect(miss.status == 200 && miss.headers.first(name: "x-fleetd-cache") == "miss", "\(miss.body)")
        let hit = try await ResponseCacheEndToEndTests.task(second, body)
        #expect(hit.headers.first(name: "x-fleetd-cache") == "hit", "\(hit.body)")
        #expect(hit.json["output"] as? String == miss.json["output"] as? String)
        #expect(fake.requests.count == 1, "the second instance answered from the first one's cache")
        // Both selections are in the shared partition (written behind, so within a moment).
        let recorded = try await eventually(timeout: .seconds(3)) {
            try await SharedCluster.number(database, "SELECT count(*) FROM memory_entries WHERE partition = 'routing/selections'") >= 2
        }
        #expect(recorded)
        #expect(try await SharedCluster.number(database, "SELECT count(*) FROM memory_entries WHERE partition = 'cache/responses'") == 1)
        for instance in [first, second] {
            instance.signal(SIGTERM)
            #expect(await instance.waitForExit() == 0)
        }
        await fake.shutdown()
    }

    /// A Responses API answer kept by one instance is continued through another
    /// (`previous_response_id`): the second instance sends the first one's conversation.
    @Test func aResponseKeptByOneInstanceIsContinuedThroughAnother() async throws {
        let database = try await SharedCluster.freshDatabase()
        let fake = try await FakeProviderServer.start(script: FakeScript { _, _ in
            (try? .fixture("providers/anthropic-nonstream-docs-example.json")) ?? .status(500)
        })
        let text = ResponseCacheEndToEndTests.config(baseURL: fake.baseURL, caching: "false") + "\n" + SharedCluster.databaseSection(database)
        let first = try await ResponseCacheEndToEndTests.start(text), second = try await ResponseCacheEndToEndTests.start(text)
        let made = try await http(.POST, first.baseURL + "/v1/responses", body: #"{"model": "auto", "input": "Name a colour."}"#)
        #expect(made.status == 200, "\(made.body)")
        let id = try #require(made.json["id"] as? String)
        let continued = try await http(.POST, second.baseURL + "/v1/responses",
                                       body: #"{"model": "auto", "input": "Another one?", "previous_response_id": "\#(id)"}"#)
        #expect(continued.status == 200 && continued.json["previous_response_id"] as? String == id, "\(continued.body)")
        let turns = try #require(fake.requests.last?.jsonBody?["messages"] as? [[String: Any]])
        #expect(turns.map { $0["role"] as? String } == ["user", "assistant", "user"])
        #expect(turns.first?["content"] as? String == "Name a colour." && turns.last?["content"] as? String == "Another one?")
        #expect(try await SharedCluster.number(database, "SELECT count(*) FROM memory_entries WHERE partition = 'responses/conversations'") == 2)
        for instance in [first, second] {
            instance.signal(SIGTERM)
            #expect(await instance.waitForExit() == 0)
        }
        await fake.shutdown()
    }

    @Test func feedbackOnATaskRunByOneInstanceIsTakenByAnotherOnceFleetWide() async throws {
        let database = try await SharedCluster.freshDatabase()
        let fake = try await FakeProviderServer.start(script: FakeScript { _, _ in
            (try? .fixture("providers/anthropic-nonstream-docs-example.json")) ?? .status(500)
        })
        let text = ResponseCacheEndToEndTests.config(baseURL: fake.baseURL, caching: "false, predictiveRouting: true")
            + "\n" + SharedCluster.databaseSection(database)
        let instances = [try await ResponseCacheEndToEndTests.start(text), try await ResponseCacheEndToEndTests.start(text),
                         try await ResponseCacheEndToEndTests.start(text)]
        let ran = try await ResponseCacheEndToEndTests.task(instances[0], #"{"prompt": "Summarise this", "id": "fb-shared", "stream": false}"#)
        #expect(ran.status == 200, "\(ran.body)")
        // The outcome record is written behind: the second instance finds it within a moment.
        var given: HTTPResult?
        let taken = try await eventually(timeout: .seconds(3)) {
            given = try await http(.POST, instances[1].baseURL + "/v1/tasks/fb-shared/feedback", body: #"{"thumbs": "up"}"#)
            return given?.status == 200
        }
        #expect(taken, "\(given?.status ?? 0) \(given?.body ?? "")")
        let again = try await http(.POST, instances[2].baseURL + "/v1/tasks/fb-shared/feedback", body: #"{"thumbs": "down"}"#)
        #expect(again.status == 409, "feedback is taken once, whichever instance is asked: \(again.body)")
        #expect(try await SharedCluster.number(database, "SELECT count(*) FROM memory_entries WHERE partition = 'routing/outcomes'") == 1)
        for instance in instances {
            instance.signal(SIGTERM)
            #expect(await instance.waitForExit() == 0)
        }
        await fake.shutdown()
    }

    /// The fleet cells' outcomes (weights, undecayed) of `model`, as stored.
    static func storedOutcomes(_ database: String) async throws -> Double {
        try await SharedCluster.number(database, """
            SELECT sum((convert_from(value, 'UTF8')::jsonb->>'observed')::float8) FROM memory_entries
            WHERE partition = 'routing/learning' AND key NOT LIKE 't/%'
            """)
    }

    @Test func whatEveryInstanceLearnsAndObservesAddsUpInTheSharedStoreAndReachesTheOthers() async throws {
        let database = try await SharedCluster.freshDatabase()
        let fake = try await FakeProviderServer.start(script: FakeScript { _, _ in
            (try? .fixture("providers/anthropic-nonstream-docs-example.json")) ?? .status(500)
        })
        let text = ResponseCacheEndToEndTests.config(baseURL: fake.baseURL, caching: "false, predictiveRouting: true")
            + "\n" + SharedCluster.databaseSection(database)
        let instances = [try await ResponseCacheEndToEndTests.start(text), try await ResponseCacheEndToEndTests.start(text),
                         try await ResponseCacheEndToEndTests.start(text)]
        let urls = instances.map(\.baseURL)
        // 24 tasks at once over two instances: each answer is an automatic outcome of weight 0.5.
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for n in 0..<24 {
                group.addTask {
                    try await http(.POST, urls[n % 2] + "/v1/tasks", body: #"{"prompt": "Say hello to the team", "id": "l-\#(n)", "stream": false}"#).status
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.allSatisfy { $0 == 200 }, "\(statuses)")
        // Every outcome counted in the stored cell, none lost to another instance's write.
        var stored = 0.0
        let added = try await eventually(timeout: .seconds(3)) {
            stored = try await Self.storedOutcomes(database)
            return stored == 12
        }
        #expect(added, "the stored cells hold \(stored) of 12")
        // The third instance ran none of them; it learns them from the shared cells within seconds.
        var seen: Double?
        let reached = try await eventually(timeout: .seconds(8)) {
            let route = try await http(.POST, urls[2] + "/v1/route", body: #"{"prompt": "Say hello to the team"}"#)
            let candidates = ((route.json["trace"] as? [String: Any])?["candidates"] as? [[String: Any]]) ?? []
            seen = (candidates.first { $0["modelName"] as? String == "solo" }?["prediction"] as? [String: Any])?["outcomes"] as? Double
            return seen == 12
        }
        #expect(reached, "instance 3's prediction rests on \(seen ?? -1) outcomes")
        // The router's per-model stats add up the same way.
        var storedSuccesses = 0.0
        let statsAdded = try await eventually(timeout: .seconds(3)) {
            storedSuccesses = try await SharedCluster.number(database, """
                SELECT (convert_from(value, 'UTF8')::jsonb->>'successes')::float8 FROM memory_entries
                WHERE partition = 'routing/stats' AND key = 'solo'
                """)
            return storedSuccesses == 24
        }
        #expect(statsAdded, "the stored stats count \(storedSuccesses) of 24")
        var successes: Int?
        let counted = try await eventually(timeout: .seconds(8)) {
            let models = try await http(.GET, urls[2] + "/v1/models").json["models"] as? [[String: Any]]
            let status = models?.compactMap { $0["status"] as? [String: Any] }.first { $0["name"] as? String == "solo" }
            successes = (status?["stats"] as? [String: Any])?["successes"] as? Int
            return successes == 24
        }
        #expect(counted, "instance 3's stats count \(successes ?? -1) successes")
        for instance in instances {
            instance.signal(SIGTERM)
            #expect(await instance.waitForExit() == 0)
        }
        await fake.shutdown()
    }
}
