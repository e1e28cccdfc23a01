import Agents
import FleetSupport
import Foundation
import Logging
import Providers
import Routing
import Store
import Streaming

/// `fleetd-bench cache`: the response cache (`advancedCaching`): what a key costs, lookups (hit and
/// miss) and saves on a full cache, and a cached task's whole hit path (select, key, lookup,
/// zero-cost ledger row, replay) beside the same task answered by the built-in responder. In
/// process, on a temporary SQLite file.
struct CacheBench: BenchSuite {
    let name = "cache"
    let summary = "response cache: key cost, lookup hit/miss and save on 10k entries, a cached task's hit path vs a miss"

    func run(scale: Double) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fleetd-cache-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var logger = Logger(label: "cache-bench")
        logger.logLevel = .error
        let database = try await StoreDatabase(path: directory.appendingPathComponent("bench.sqlite").path)
        let memory = MemoryStore(database: database)
        let entries = max(500, Int(10_000 * scale))
        let cache = ResponseCache(store: memory, maxEntries: entries, logger: logger)
        let clock = ContinuousClock()
        print("file: \(directory.path)/bench.sqlite, cache bound \(entries) entries")

        // Keys: a 2 KB prompt, as a task's provider request.
        let prompt = String(repeating: "Summarise the release notes and list the breaking changes. ", count: 35)
        func request(_ i: Int) -> ProviderRequest {
            ProviderRequest(model: "m", system: "You are terse.", messages: [.init(role: .user, content: "\(prompt) #\(i)")], maxTokens: 512)
        }
        func task(_ i: Int) -> AgentTask {
            var t = AgentTask(id: "t\(i)", prompt: "\(prompt) #\(i)")
            t.tenantId = "acme"
            return t
        }
        let keyRuns = max(1_000, Int(20_000 * scale))
        var start = clock.now
        for i in 0..<keyRuns { _ = ResponseCache.key(task: task(i), model: "m", request: request(i)) }
        print(String(format: "key (SHA-256 over the request, 2 KB prompt): %.1f µs", (clock.now - start).microseconds / Double(keyRuns)))

        // Fill the cache to its bound: each save also enforces the bound.
        let answer = ResponseCache.Answer(text: String(repeating: "word ", count: 200), model: "m", provider: .builtin,
                                          usage: CostUsage(inputTokens: 500, outputTokens: 200), cost: 0.001, finishReason: "stop", storedAt: Date())
        var keys: [String] = []
        keys.reserveCapacity(entries)
        start = clock.now
        for i in 0..<entries {
            let key = ResponseCache.key(task: task(i), model: "m", request: request(i))!
            keys.append(key)
            await cache.save(answer, key: key)
        }
        print(String(format: "save (store + bound check), filling %d entries: %.1f µs each", entries, (clock.now - start).microseconds / Double(entries)))

        let lookups = max(1_000, Int(20_000 * scale))
        var hits: [Duration] = [], misses: [Duration] = []
        hits.reserveCapacity(lookups)
        misses.reserveCapacity(lookups)
        for i in 0..<lookups {
            let t0 = clock.now
            let found = await cache.lookup(keys[(i * 7_919) % keys.count])
            hits.append(clock.now - t0)
            precondition(found != nil, "a stored answer must be found")
            let t1 = clock.now
            _ = await cache.lookup("acme/missing-\(i)")
            misses.append(clock.now - t1)
        }
        print("lookup, \(entries) entries: hit \(Self.percentiles(hits)), miss \(Self.percentiles(misses))")

        // The hit path of a whole task, against the same task answered by the built-in responder.
        let model = ModelConfiguration(name: "local", provider: .builtin, model: "fleetd-builtin")
        let router = ModelRouter(configuration: RoutingConfiguration(defaultModel: "local", models: [model]), scorer: ComplexityAnalyzer(), logger: logger)
        let costs = try CostTracker(database: database, configuration: CostConfiguration(), logger: logger)
        let tool = StreamingTool(configuration: StreamingConfiguration(enabled: true), logger: logger)
        let runtime = TaskRuntime(generation: 1, router: router, tool: tool, clients: ProviderClientFactory(logger: logger), costs: costs,
                                  quotas: nil, cache: cache, logger: logger)
        let agent = Agent(id: "bench-1", type: "general", role: AgentRole())
        let cached = TaskSettings(useRouter: true, useStreaming: false, useCache: true)
        let plain = TaskSettings(useRouter: true, useStreaming: false, useCache: false)
        var warm = AgentTask(id: "warm", prompt: "Name three primary colours.")
        warm.tenantId = "acme"
        _ = try await agent.run(warm, settings: cached, runtime: runtime).result()
        let runs = max(200, Int(2_000 * scale))
        var hitPath: [Duration] = [], missPath: [Duration] = []
        for i in 0..<runs {
            var t = warm
            t.id = "hit-\(i)"
            let t0 = clock.now
            let result = try await agent.run(t, settings: cached, runtime: runtime).result()
            hitPath.append(clock.now - t0)
            precondition(result.cache == "hit", "the warm task must be answered from the cache")
            t.id = "miss-\(i)"
            let t1 = clock.now
            _ = try await agent.run(t, settings: plain, runtime: runtime).result()
            missPath.append(clock.now - t1)
        }
        print("task, in process: cache hit \(Self.percentiles(hitPath)); the built-in responder without the cache \(Self.percentiles(missPath))")
    }

    static func percentiles(_ samples: [Duration]) -> String {
        let sorted = samples.sorted()
        func at(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))].microseconds }
        return String(format: "p50 %.1f µs, p99 %.1f µs", at(0.5), at(0.99))
    }
}

extension Duration {
    var microseconds: Double { Double(components.seconds) * 1e6 + Double(components.attoseconds) / 1e12 }
}
