import FakeProvider
import Foundation
import Testing

/// Several real fleetd binaries on one PostgreSQL database (issue 14): one budget, one ledger.
@Suite(.serialized, SharedCluster.trait) struct SharedStoreEndToEndTests {
    /// The billing tests' config (a realistic fake bills what it was sent) on the shared store.
    static func config(database: String, fakeURL: String, daily: Double, leaseSeconds: Int = 60, agents: Int = 16) -> String {
        BillingTests.config(models: [("solo", fakeURL)], daily: daily, agents: agents) + "\n" + SharedCluster.databaseSection(database, leaseSeconds: leaseSeconds)
    }

    static func start(_ text: String) async throws -> FleetdProcess {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return try await FleetdProcess(config: file, dataDirectory: directory.appendingPathComponent("data"),
                                       environment: ["ANTHROPIC_API_KEY": "sk-ant-shared"])
    }

    static func billingFake() async throws -> FakeProviderServer {
        try await FakeProviderServer.start(script: FakeScript { request, _ in
            let input = max(1, request.body.count / 4)
            let output = min(request.jsonBody?["max_tokens"] as? Int ?? 64, 300)
            let json = #"{"id":"m","type":"message","role":"assistant","model":"x","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":\#(input),"output_tokens":\#(output)}}"#
            return FakeResponse(headers: [("content-type", "application/json")], body: .bytes(Array(json.utf8)))
        })
    }

    @Test func threeInstancesWith300ConcurrentTasksStayWithinOneBudget() async throws {
        let database = try await SharedCluster.freshDatabase()
        let fake = try await Self.billingFake()
        // A task costs about $0.0045 at these prices: the budget is worth about 30 of them.
        let limit = 0.135
        let text = Self.config(database: database, fakeURL: fake.baseURL, daily: limit)
        var instances: [FleetdProcess] = []
        for _ in 0..<3 { instances.append(try await Self.start(text)) }
        let urls = instances.map(\.baseURL)
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<300 {
                group.addTask {
                    try await http(.POST, urls[index % 3] + "/v1/tasks", body: #"{"prompt": "Task \#(index): say ok"}"#).status
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        let answered = statuses.filter { $0 == 200 }.count
        #expect(answered >= 10, "\(answered) answered")
        #expect(statuses.contains(402), "the shared budget refused some")
        #expect(Set(statuses).isSubset(of: [200, 402]), "\(statuses.filter { $0 != 200 && $0 != 402 })")
        let oneReservation = (Double(40) * 0.003 + 1_024 * 0.015) / 1_000
        // Every instance reports the same fleet-wide total, and it is within the limit plus one estimate.
        var totals: [Double] = []
        for url in urls {
            let report = try await http(.GET, url + "/v1/costs?period=day").json["report"] as? [String: Any]
            totals.append((report?["total"] as? [String: Any])?["cost"] as? Double ?? -1)
        }
        #expect(Set(totals).count == 1, "one ledger: \(totals)")
        #expect(totals[0] <= limit + oneReservation, "spent \(totals[0]) against a limit of \(limit)")
        // One ledger row for every answered task, written by all three instances.
        #expect(try await SharedCluster.number(database, "SELECT count(*) FROM cost_ledger") == Double(answered))
        #expect(try await SharedCluster.number(database, "SELECT count(DISTINCT instance_id) FROM cost_ledger") == 3)
        #expect(try await SharedCluster.number(database, "SELECT count(*) FROM cost_reservations") == 0)
        let reserved = try await http(.GET, urls[2] + "/v1/costs").json["budget"] as? [String: Any]
        let held = (reserved?["periods"] as? [[String: Any]])?.map { $0["reserved"] as? Double ?? -1 }
        #expect(held == [0, 0, 0], "nothing stays reserved: \(String(describing: reserved))")
        for instance in instances {
            instance.signal(SIGTERM)
            #expect(await instance.waitForExit() == 0)
        }
        await fake.shutdown()
    }

    @Test func aKilledInstancesReservationIsBilledByAnotherAfterTheLease() async throws {
        let database = try await SharedCluster.freshDatabase()
        let gate = FakeGate()
        let fake = try await FakeProviderServer.start(script: .always(.openAIHeld(gate: gate)))
        let text = Self.config(database: database, fakeURL: fake.baseURL, daily: 1000, leaseSeconds: 2)
            .replacingOccurrences(of: "provider: anthropic", with: "provider: openai")
        let doomed = try await Self.start(text)
        let survivor = try await Self.start(text)
        let task = Task { try? await http(.POST, doomed.baseURL + "/v1/tasks", body: #"{"prompt": "hold", "stream": true, "id": "crashed"}"#) }
        #expect(await eventually(timeout: .seconds(10)) { fake.bytesWritten > 0 }, "the call is in flight")
        #expect(try await SharedCluster.number(database, "SELECT count(*) FROM cost_reservations") == 1)
        doomed.signal(SIGKILL)
        _ = await doomed.waitForExit()
        _ = await task.value
        // The survivor renews only its own leases; once the dead one's ran out, it bills it.
        let billed = try await eventually(timeout: .seconds(10)) {
            try await SharedCluster.number(database, "SELECT count(*) FROM cost_ledger WHERE basis = 'estimated'") == 1
        }
        #expect(billed, "the dead instance's reservation is billed at its estimate")
        #expect(try await SharedCluster.number(database, "SELECT count(*) FROM cost_reservations") == 0)
        let budget = try await http(.GET, survivor.baseURL + "/v1/costs").json["budget"] as? [String: Any]
        let held = (budget?["periods"] as? [[String: Any]])?.map { $0["reserved"] as? Double ?? -1 }
        #expect(held == [0, 0, 0], "the budget is not blocked past the lease: \(String(describing: budget))")
        gate.open()
        survivor.signal(SIGTERM)
        #expect(await survivor.waitForExit() == 0)
        await fake.shutdown()
    }

    @Test func anUnreachableDatabaseStopsServeWithOneErrorNamingHostAndPort() async throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("fleet.yaml")
        // Port 1 on loopback: nothing listens there.
        try "fleet: {id: pg}\ndatabase: {type: postgres, host: 127.0.0.1, port: 1, tls: disable, timeoutSeconds: 2}\n"
            .write(to: file, atomically: true, encoding: .utf8)
        let result = try await FleetdProcess.run(["serve", "--config", file.path, "--port", "0", "--data-dir", directory.appendingPathComponent("data").path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("cannot reach PostgreSQL at 127.0.0.1:1"), "\(result.stderr)")
    }

    @Test func fleetdCostsReadsTheSharedLedger() async throws {
        let database = try await SharedCluster.freshDatabase()
        let fake = try await Self.billingFake()
        let text = Self.config(database: database, fakeURL: fake.baseURL, daily: 1000)
        let fleetd = try await Self.start(text)
        #expect(try await http(.POST, fleetd.baseURL + "/v1/tasks", body: #"{"prompt": "say ok"}"#).status == 200)
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        // From another directory with no SQLite file at all: the report comes from PostgreSQL.
        let elsewhere = try temporaryDirectory()
        let file = elsewhere.appendingPathComponent("fleet.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let result = try await FleetdProcess.run(["costs", "--config", file.path, "--format", "json", "--data-dir", elsewhere.appendingPathComponent("none").path])
        #expect(result.status == 0, "\(result.stderr)")
        let json = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any]
        #expect((json?["total"] as? [String: Any])?["entries"] as? Int == 1, "\(result.stdout)")
        await fake.shutdown()
    }
}

extension SharedStoreEndToEndTests {
    @Test func sigkillOfOneInstanceUnderLoadLosesNoAnsweredTasksLedgerRow() async throws {
        let database = try await SharedCluster.freshDatabase()
        let fake = try await Self.billingFake()
        let text = Self.config(database: database, fakeURL: fake.baseURL, daily: 1000, leaseSeconds: 2)
        var instances: [FleetdProcess] = []
        for _ in 0..<3 { instances.append(try await Self.start(text)) }
        let urls = instances.map(\.baseURL)
        let victim = instances[0]
        // 150 tasks over the three; the first instance is killed while they run.
        let answered = try await withThrowingTaskGroup(of: String?.self) { group in
            for index in 0..<150 {
                group.addTask {
                    let response = try? await http(.POST, urls[index % 3] + "/v1/tasks", body: #"{"prompt": "Task \#(index): say ok", "id": "load-\#(index)"}"#)
                    return response?.status == 200 ? "load-\(index)" : nil
                }
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(300))
                victim.signal(SIGKILL)
                return nil
            }
            return try await group.reduce(into: [String]()) { if let id = $1 { $0.append(id) } }
        }
        _ = await victim.waitForExit()
        #expect(answered.count >= 50, "\(answered.count) answered")
        // After the lease, whatever the dead instance held is billed by a survivor: every answered
        // task has its row (reported, or at its estimate), and nothing stays reserved.
        let settled = try await eventually(timeout: .seconds(15)) {
            try await SharedCluster.number(database, "SELECT count(*) FROM cost_reservations") == 0
        }
        #expect(settled, "the dead instance's reservations are billed or released after the lease")
        for id in answered {
            let rows = try await SharedCluster.number(database, "SELECT count(*) FROM cost_ledger WHERE task_id = '\(id)'")
            #expect(rows >= 1, "answered task \(id) has no ledger row")
        }
        for instance in instances.dropFirst() {
            instance.signal(SIGTERM)
            #expect(await instance.waitForExit() == 0)
        }
        await fake.shutdown()
    }
}
