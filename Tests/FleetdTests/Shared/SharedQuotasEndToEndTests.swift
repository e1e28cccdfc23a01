import FakeProvider
import Foundation
import Testing

/// Three fleetd binaries on one PostgreSQL database respect one provider quota together.
@Suite(.serialized, SharedCluster.trait) struct SharedQuotasEndToEndTests {
    @Test func threeInstancesTogetherMakeNoMoreRequestsThanTheProvidersDailyQuota() async throws {
        let database = try await SharedCluster.freshDatabase()
        let fake = try await SharedStoreEndToEndTests.billingFake()
        let quota = 12
        let text = SharedStoreEndToEndTests.config(database: database, fakeURL: fake.baseURL, daily: 1_000)
            .replacingOccurrences(of: "quotas: {anthropic: {requestsPerDay: 1000}}", with: "quotas: {anthropic: {requestsPerDay: \(quota)}}")
        #expect(text.contains("requestsPerDay: \(quota)}"))
        var instances: [FleetdProcess] = []
        for _ in 0..<3 { instances.append(try await SharedStoreEndToEndTests.start(text)) }
        let urls = instances.map(\.baseURL)
        // 45 tasks at once, spread over the three: each instance alone would let 12 through.
        let responses = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for index in 0..<45 {
                group.addTask {
                    let response = try await http(.POST, urls[index % 3] + "/v1/tasks", body: #"{"prompt": "Task \#(index): say ok"}"#)
                    return (response.status, response.body)
                }
            }
            return try await group.reduce(into: [(Int, String)]()) { $0.append($1) }
        }
        let answered = responses.filter { $0.0 == 200 }
        #expect(fake.requests.count <= quota, "the provider saw \(fake.requests.count) requests against a quota of \(quota)")
        #expect(answered.count == fake.requests.count, "every call the provider took was answered")
        #expect(answered.count >= quota - 3, "the quota is used, not refused early: \(answered.count) answered")
        let refused = responses.filter { $0.0 != 200 }
        #expect(!refused.isEmpty)
        for (status, body) in refused {
            #expect(body.contains("limit reached for anthropic"), "\(status): \(body)")
        }
        #expect(try await SharedCluster.number(database, "SELECT day_requests FROM provider_quotas WHERE provider = 'anthropic'") == Double(quota))
        // Every instance's model list reports the same shared use.
        for url in urls {
            let models = try await http(.GET, url + "/v1/models").json["models"] as? [[String: Any]]
            let used = (models?.first?["quota"] as? [String: Any])?["allowed"] as? Bool
            #expect(used == false, "\(String(describing: models?.first?["quota"]))")
        }
        for instance in instances {
            instance.signal(SIGTERM)
            #expect(await instance.waitForExit() == 0)
        }
        await fake.shutdown()
    }
}
