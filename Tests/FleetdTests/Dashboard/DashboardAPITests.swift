import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import fleetd

/// What the dashboard adds to the API, in process: its pages, `GET /v1/stats/live`,
/// `GET /v1/routing/recent`, `GET /v1/flags/history`, `GET /v1/costs?format=csv` and the models'
/// `trafficShare`.
@Suite("HTTP API: the dashboard's pages and figures", .timeLimit(.minutes(1)))
struct DashboardAPITests {
    @Test("/ and /ui/<page> serve the dashboard from the binary's resources, this origin only")
    func pages() async throws {
        try await withFleetd(APIConfig.builtin()) { client, _ in
            for path in ["/", "/ui", "/ui/overview", "/ui/flags", "/ui/agents"] {
                let page = try await client.send(.get, path)
                #expect(page.status == .ok, "\(path)")
                #expect(page.headers[.contentType] == "text/html; charset=utf-8", "\(path)")
                #expect(page.text.contains(#"<script src="/ui/assets/dashboard.js" defer></script>"#), "\(path)")
                #expect(page.headers[.contentSecurityPolicy]?.contains("default-src 'self'") == true)
            }
            let script = try await client.send(.get, "/ui/assets/dashboard.js")
            #expect(script.status == .ok && script.headers[.contentType] == "text/javascript; charset=utf-8")
            #expect(script.text.contains("/v1/stats/live"))
            #expect(try await client.send(.get, "/ui/assets/dashboard.css").headers[.contentType] == "text/css; charset=utf-8")
            #expect(try await client.send(.get, "/ui/nothing").status == .notFound)
            #expect(try await client.send(.get, "/ui/assets/../Package.swift").status == .notFound)
            // Nothing in the pages may come from another host.
            #expect(try await client.send(.get, "/ui/assets/favicon.svg").headers[.contentType] == "image/svg+xml")
            for asset in ["/", "/ui/assets/dashboard.js", "/ui/assets/dashboard.css"] {
                // The SVG namespace is a name, not an address anything is loaded from.
                let text = try await client.send(.get, asset).text.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "")
                #expect(!text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"), "\(asset) names an outside host")
            }
        }
    }

    @Test("with authentication on, the pages load without a credential; their figures need one that sees every tenant")
    func authentication() async throws {
        try await withFleetd(APIConfig.builtin(), environment: ["API_KEY": "shared-key", "FLEETD_ADMIN_TOKEN": "admin-token"]) { client, _ in
            let page = try await client.send(.get, "/ui/overview")
            let script = try await client.send(.get, "/ui/assets/dashboard.js")
            #expect(page.status == .ok && script.status == .ok)
            for path in ["/v1/stats/live", "/v1/routing/recent", "/v1/flags/history"] {
                let without = try await client.send(.get, path)
                let admin = try await client.send(.get, path, headers: [.authorization: "Bearer admin-token"])
                let shared = try await client.send(.get, path, headers: [.authorization: "Bearer shared-key"])
                #expect(without.status == .unauthorized, "\(path)")
                #expect(admin.status == .ok && shared.status == .ok, "\(path)")
            }
        }
    }

    @Test("GET /v1/stats/live counts tasks in time buckets with latency quantiles")
    func liveStats() async throws {
        try await withFleetd(APIConfig.builtin()) { client, _ in
            let empty = try await client.send(.get, "/v1/stats/live")
            #expect(empty.status == .ok, "\(empty.text)")
            #expect(empty.object["totalTasks"] as? Int == 0)
            let buckets = empty.object["buckets"] as? [[String: Any]] ?? []
            #expect(buckets.count == 60 && empty.object["bucketSeconds"] as? Int == 5, "\(empty.text.prefix(300))")
            for _ in 0..<3 {
                #expect(try await client.send(.post, "/v1/tasks", json: #"{"prompt": "hello"}"#).status == .ok)
            }
            let after = try await client.send(.get, "/v1/stats/live")
            // Failures are counted by the series' own test and the browser test (a failing upstream).
            #expect(after.object["totalTasks"] as? Int == 3, "\(after.text.prefix(400))")
            #expect(after.object["totalErrors"] as? Int == 0)
            let recent = (after.object["buckets"] as? [[String: Any]] ?? []).suffix(2)
            #expect(recent.reduce(0) { $0 + ($1["tasks"] as? Int ?? 0) } == 3)
            #expect(recent.contains { $0["latencyP50Ms"] as? Double != nil })
        }
    }

    @Test("GET /v1/routing/recent lists the newest selections with reasons and complexity factors")
    func recentSelections() async throws {
        try await withFleetd(APIConfig.builtin()) { client, _ in
            let first = try await client.send(.post, "/v1/tasks", json: #"{"prompt": "hello"}"#)
            let second = try await client.send(.post, "/v1/tasks", json: #"{"prompt": "Prove that there are infinitely many primes, step by step, and explain each step."}"#)
            let recent = try await client.send(.get, "/v1/routing/recent")
            #expect(recent.status == .ok, "\(recent.text)")
            let selections = recent.object["selections"] as? [[String: Any]] ?? []
            #expect(selections.map { $0["taskId"] as? String } == [second.object["taskId"] as? String, first.object["taskId"] as? String])
            #expect(selections.first?["selected"] as? String == jsonValue(second.object, "selection.modelName") as? String)
            #expect(selections.allSatisfy { ($0["reason"] as? String)?.isEmpty == false && jsonValue($0, "factors.tokenCount") is Double })
            let one = try await client.send(.get, "/v1/routing/recent?limit=1")
            #expect((one.object["selections"] as? [Any])?.count == 1)
        }
    }

    @Test("GET /v1/flags/history says what changed, when, from what to what, and by whom")
    func flagHistory() async throws {
        try await withFleetd(APIConfig.builtin(), environment: ["FLEETD_ADMIN_TOKEN": "tok"]) { client, _ in
            #expect((try await client.send(.get, "/v1/flags/history").object["changes"] as? [Any])?.isEmpty == true)
            let refused = try await client.send(.put, "/v1/flags/streaming", json: #"{"enabled": false}"#)
            #expect(refused.status == .unauthorized)
            let body = #"{"enabled": true, "rollout": {"percentage": 25, "stickiness": "userId"}, "agentType": "coder"}"#
            let accepted = try await client.send(.put, "/v1/flags/streaming", json: body,
                                                 headers: [.authorization: "Bearer tok", HTTPField.Name("x-fleetd-operator")!: "Ada <script>"])
            #expect(accepted.status == .ok, "\(accepted.text)")
            let changes = try await client.send(.get, "/v1/flags/history").object["changes"] as? [[String: Any]] ?? []
            #expect(changes.count == 1, "the refused change is not in the log")
            let change = try #require(changes.first)
            #expect(change["flag"] as? String == "streaming" && change["scope"] as? String == "agentType:coder")
            #expect(jsonValue(change, "before.enabled") as? Bool == false, "the file set streaming off for coder")
            #expect(jsonValue(change, "after.rollout.percentage") as? Int == 25)
            #expect(change["by"] as? String == "admin (Ada script)")
            #expect(change["generation"] as? Int == accepted.object["configGeneration"] as? Int)
        }
    }

    @Test("GET /v1/costs?format=csv is the CLI's CSV report; the models say their share of routed calls")
    func costsCSVAndTrafficShare() async throws {
        try await withFleetd(APIConfig.builtin()) { client, _ in
            let none = try await client.send(.get, "/v1/models")
            #expect((none.object["models"] as? [[String: Any]] ?? []).allSatisfy { $0["trafficShare"] == nil })
            for _ in 0..<3 { _ = try await client.send(.post, "/v1/tasks", json: #"{"prompt": "hello"}"#) }
            let csv = try await client.send(.get, "/v1/costs?period=day&format=csv")
            #expect(csv.status == .ok && csv.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(csv.headers[.contentDisposition]?.hasPrefix("attachment; filename=\"fleetd-costs-") == true)
            #expect(csv.text.hasPrefix("period,period_key,section,name,cost_usd,entries,"), "\(csv.text)")
            #expect(csv.text.contains(",model,quick,0.000000,3,"), "three tasks on `quick`, at no cost: \(csv.text)")
            #expect(try await client.send(.get, "/v1/costs?format=xml").status == .badRequest)
            let costs = try await client.send(.get, "/v1/costs").object
            let byType = costs["byAgentType"] as? [[String: Any]] ?? []
            #expect(byType.map { $0["name"] as? String } == ["general"] && byType.first?["entries"] as? Int == 3, "\(costs)")
            let models = try await client.send(.get, "/v1/models").object["models"] as? [[String: Any]] ?? []
            let shares = Dictionary(uniqueKeysWithValues: models.map { (jsonValue($0, "status.name") as? String ?? "", $0["trafficShare"] as? Double) })
            #expect(shares["quick"] == 1.0, "\(models)")
        }
    }

    @Test("a model off for want of its API key says so, apart from one the file switched off; the Models page shows which")
    func whyAModelIsOff() async throws {
        let deep = "- {name: deep, provider: builtin, model: fleetd-builtin, complexityRange: {min: 0.45, max: 1.0}}"
        let yaml = APIConfig.builtin().replacingOccurrences(of: deep, with: deep
            + "\n    - {name: keyless, provider: openai, model: keyless-id, credentials: {apiKeyEnv: WHY_OFF_TEST_KEY}}"
            + "\n    - {name: parked, provider: builtin, model: fleetd-builtin, enabled: false}")
        try await withFleetd(yaml) { client, _ in
            let models = try await client.send(.get, "/v1/models").object["models"] as? [[String: Any]] ?? []
            let statuses = models.compactMap { $0["status"] as? [String: Any] }
            let keyless = statuses.first { $0["name"] as? String == "keyless" } ?? [:]
            let parked = statuses.first { $0["name"] as? String == "parked" } ?? [:]
            let quick = statuses.first { $0["name"] as? String == "quick" } ?? [:]
            #expect(keyless["enabled"] as? Bool == false && keyless["missingAPIKey"] as? String == "WHY_OFF_TEST_KEY", "\(keyless)")
            #expect(keyless["disabledReason"] as? String == "no API key (WHY_OFF_TEST_KEY not set)", "\(keyless)")
            #expect(parked["enabled"] as? Bool == false && parked["missingAPIKey"] == nil, "\(parked)")
            #expect(parked["disabledReason"] as? String == "disabled in the configuration", "\(parked)")
            #expect(quick["enabled"] as? Bool == true && quick["disabledReason"] == nil, "\(quick)")
            // The page: the key's variable for the one, "disabled" for the other (the browser test looks).
            let script = try await client.send(.get, "/ui/assets/dashboard.js").text
            #expect(script.contains("pill(`no key (${status.missingAPIKey})`"))
        }
    }
}

@Suite("Spend per agent type") struct AgentTypeSpendTests {
    @Test("an agent's id names its type when the agent is gone")
    func typeFromId() {
        #expect(AgentTypeSpend.typeFromId("coder-3") == "coder")
        #expect(AgentTypeSpend.typeFromId("code-review-12") == "code-review")
        #expect(AgentTypeSpend.typeFromId("-") == "-")
        #expect(AgentTypeSpend.typeFromId("solo") == "solo")
        #expect(AgentTypeSpend.typeFromId("x-") == "x-")
    }
}

@Suite("Dashboard site") struct DashboardSiteTests {
    @Test("the binary's resource folder is found beside it; without it the pages say so with a 503")
    func folder() throws {
        let folder = try #require(DashboardSite.bundledFolder())
        #expect(folder.path.hasSuffix("fleetd_fleetd.resources/Site"))
        let site = try DashboardSite(folder: folder)
        #expect(Set(site.files.keys) == ["index.html", "dashboard.js", "dashboard.css", "favicon.svg"])
        let missing = DashboardSite(files: [:], missing: "no files here")
        #expect(try missing.response(for: "index.html").status == .serviceUnavailable)
    }
}

@Suite("Flag change log") struct FlagChangeLogTests {
    @Test("keeps the newest entries up to its capacity, newest first")
    func bounded() {
        let log = FlagChangeLog(capacity: 3)
        for index in 0..<5 {
            log.append(.init(at: Date(timeIntervalSince1970: Double(index)), flag: "f\(index)", scope: "global", before: nil,
                             after: .on, by: "admin", from: nil, generation: index))
        }
        #expect(log.newestFirst(limit: 10).map(\.flag) == ["f4", "f3", "f2"])
        #expect(log.newestFirst(limit: 1).map(\.flag) == ["f4"])
        #expect(FlagChangeLog.actor(operatorName: nil) == "admin")
        #expect(FlagChangeLog.actor(operatorName: "  ") == "admin")
        #expect(FlagChangeLog.actor(operatorName: String(repeating: "a", count: 100)) == "admin (\(String(repeating: "a", count: 64)))")
    }
}

@Suite("Live series") struct LiveSeriesTests {
    @Test("buckets by time, drops what leaves the window, quantiles by nearest rank")
    func buckets() {
        var series = LiveSeries(width: 5, capacity: 3)
        let t0 = Date(timeIntervalSince1970: 1_000)
        for (offset, latency) in [(0.0, 10.0), (1, 20), (4.9, 30), (5, 100)] {
            series.taskFinished(latencyMs: latency, at: t0 + offset)
        }
        series.taskFailed(at: t0 + 6)
        series.sample(queueDepth: 7, at: t0 + 6)
        series.streamOpened(at: t0 + 11)
        series.streamOpened(at: t0 + 11)
        series.streamClosed(at: t0 + 12)
        var window = series.window(at: t0 + 12)
        #expect(window.map(\.start) == [1_000, 1_005, 1_010])
        #expect(window.map(\.tasks) == [3, 2, 0])
        #expect(window[0].latencyMs.quantile(0.5) == 20 && window[0].latencyMs.quantile(0.99) == 30)
        #expect(window[1].errors == 1 && window[1].peakQueue == 7)
        #expect(window[2].peakStreams == 2 && series.activeStreams == 1)
        window = series.window(at: t0 + 20)
        #expect(window.map(\.start) == [1_010, 1_015, 1_020], "older buckets leave the window")
        #expect(series.totalTasks == 5 && series.totalErrors == 1)
        #expect(LiveSeries.Samples().quantile(0.5) == nil)
    }
}
