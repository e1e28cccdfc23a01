import Agents
import FleetSupport
import Foundation
import Providers
import Store
import Testing

/// The response cache's keys, isolation, TTL and size bound.
@Suite("Response cache")
struct ResponseCacheTests {
    static let base = AgentTask(id: "t1", prompt: "What is 2+2?", context: "maths", type: .math, agentType: "general", tenantId: "acme")

    @Test("the key changes with every field that changes the answer, and not with the task id")
    func keysDifferPerOutputField() {
        func key(_ task: AgentTask, model: String = "m", system: String? = "be brief", maxTokens: Int = 100) -> String {
            ResponseCache.key(task: task, model: model, system: system, maxTokens: maxTokens)
        }
        let original = key(Self.base)
        var other = Self.base
        other.id = "t2"
        #expect(key(other) == original, "the task id does not change the answer")
        var variants: [String] = [key(Self.base, model: "n"), key(Self.base, system: nil), key(Self.base, system: "be long"),
                                  key(Self.base, maxTokens: 101)]
        for change in [{ (t: inout AgentTask) in t.prompt += " " }, { $0.context = nil }, { $0.type = .reasoning },
                       { $0.agentType = "coder" }, { $0.tenantId = "globex" }, { $0.tenantId = nil }] {
            var task = Self.base
            change(&task)
            variants.append(key(task))
        }
        #expect(!variants.contains(original))
        #expect(Set(variants).count == variants.count, "every variant has its own key")
        // Fields are length-prefixed: moving text from one field to the next gives another key.
        var shifted = Self.base
        shifted.context = "math"
        shifted.prompt = "sWhat is 2+2?"
        #expect(key(shifted) != original)
    }

    @Test("a tenant's answers live under its own prefix; expired answers are gone; the oldest go first")
    func isolationTTLAndEviction() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let clock = ManualWallClock(Date(timeIntervalSince1970: 1_800_000_000))
        let database = try await StoreDatabase(path: directory.appendingPathComponent("s.sqlite").path)
        let cache = ResponseCache(store: MemoryStore(database: database, clock: clock), maxEntries: 2)
        func answer(_ text: String) -> ResponseCache.Answer {
            ResponseCache.Answer(text: text, model: "m", provider: .anthropic, usage: CostUsage(inputTokens: 1, outputTokens: 1),
                                 cost: 0.01, finishReason: "end_turn", storedAt: clock.now)
        }
        var acme = Self.base
        var globex = Self.base
        globex.tenantId = "globex"
        let acmeKey = ResponseCache.key(task: acme, model: "m", system: nil, maxTokens: 10)
        let globexKey = ResponseCache.key(task: globex, model: "m", system: nil, maxTokens: 10)
        #expect(acmeKey.hasPrefix("acme/") && globexKey.hasPrefix("globex/"))
        await cache.save(answer("four"), key: acmeKey)
        #expect(await cache.lookup(acmeKey)?.text == "four")
        #expect(await cache.lookup(globexKey) == nil, "one tenant never gets another's answer")

        clock.advance(by: 3_601) // past the partition's default TTL of one hour
        #expect(await cache.lookup(acmeKey) == nil)

        for (index, text) in ["a", "b", "c"].enumerated() {
            acme.prompt = "prompt \(index)"
            await cache.save(answer(text), key: ResponseCache.key(task: acme, model: "m", system: nil, maxTokens: 10))
            clock.advance(by: 1)
        }
        #expect(try await cache.store.count(partition: ResponseCache.partition) == 2, "bounded at maxEntries")
        acme.prompt = "prompt 0"
        #expect(await cache.lookup(ResponseCache.key(task: acme, model: "m", system: nil, maxTokens: 10)) == nil, "the oldest went first")
        acme.prompt = "prompt 2"
        #expect(await cache.lookup(ResponseCache.key(task: acme, model: "m", system: nil, maxTokens: 10))?.text == "c")
    }
}
