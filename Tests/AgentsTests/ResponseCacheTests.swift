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

    static let call = ProviderRequest(model: "m-id", prompt: "What is 2+2?", system: "be brief", maxTokens: 100)

    static func key(_ task: AgentTask = base, model: String = "m", _ change: (inout ProviderRequest) -> Void = { _ in }) -> String {
        var request = call
        change(&request)
        return ResponseCache.key(task: task, model: model, request: request) ?? ""
    }

    @Test("the key changes with every field that changes the answer, and not with the task id")
    func keysDifferPerOutputField() {
        let original = Self.key()
        var other = Self.base
        other.id = "t2"
        #expect(Self.key(other) == original, "the task id does not change the answer")
        var variants: [String] = [
            Self.key(model: "n"),
            Self.key { $0.system = nil }, Self.key { $0.system = "be long" }, Self.key { $0.maxTokens = 101 },
            Self.key { $0.temperature = 0.2 }, Self.key { $0.temperature = 0 }, Self.key { $0.topP = 0.9 }, Self.key { $0.stopSequences = ["\n"] },
            Self.key { $0.seed = 7 }, Self.key { $0.messages[0] = ProviderMessage(role: .user, content: "What is 2+3?") },
            Self.key { $0.messages.append(ProviderMessage(role: .assistant, content: "4")) },
        ]
        for change in [{ (t: inout AgentTask) in t.type = .reasoning }, { $0.agentType = "coder" }, { $0.tenantId = "globex" },
                       { $0.tenantId = nil }] {
            var task = Self.base
            change(&task)
            variants.append(Self.key(task))
        }
        #expect(!variants.contains(original))
        #expect(Set(variants).count == variants.count, "every variant has its own key")
    }

    @Test("prompt-cache breakpoints change no answer: the same key with them as without, in every process")
    func cacheMarksAreNotInTheKey() {
        let plain = Self.key()
        let marked = Self.key {
            $0.cacheMark = CacheMark()
            $0.systemCacheBreak = SystemCacheBreak(mark: CacheMark(ttl: "1h"))
            $0.messages[0] = ProviderMessage(role: .user, blocks: [.text("What is"), .text("2+2?")])
            $0.messages[0].cacheMarks = [0: CacheMark(), 1: CacheMark(ttl: "5m")]
        }
        let unmarked = Self.key { $0.messages[0] = ProviderMessage(role: .user, blocks: [.text("What is"), .text("2+2?")]) }
        #expect(marked == unmarked && plain != unmarked)
    }

    @Test("an unset temperature is not 0: its own key, never an explicit 0's, and cached as the call it is")
    func unsetTemperatureIsNotZero() {
        #expect(Self.call.temperature == nil)
        let unset = Self.key()
        let zero = Self.key { $0.temperature = 0 }
        let one = Self.key { $0.temperature = 1 }
        #expect(unset != zero, "a client that asks for 0 never gets a sample drawn at the provider's default, nor the other way round")
        #expect(unset != one, "the provider's default is not assumed to be any value")
        #expect(zero != one)
        #expect(Self.key { $0.temperature = 0 } == zero, "the same explicit value is the same call")
        // The bound is on the temperature a call asks for; a call that asks for none is admitted.
        var request = Self.call
        #expect(ResponseCache.admits(request, maxTemperature: 0.5))
        #expect(ResponseCache.admits(request, maxTemperature: 0))
        request.temperature = 0
        #expect(ResponseCache.admits(request, maxTemperature: 0))
        request.temperature = 0.1
        #expect(!ResponseCache.admits(request, maxTemperature: 0))
        request.temperature = 0.5
        #expect(ResponseCache.admits(request, maxTemperature: 0.5))
    }

    @Test("calls that offer tools or ask for a hot temperature are not cached")
    func admission() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cache-adm-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var request = Self.call
        #expect(ResponseCache.admits(request, maxTemperature: 0.5))
        request.temperature = 0.9
        #expect(!ResponseCache.admits(request, maxTemperature: 0.5))
        request.temperature = 0
        request.tools = [ToolDefinition(name: "delete_file", description: "deletes")]
        #expect(!ResponseCache.admits(request, maxTemperature: 0.5))
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
        let acme = Self.base
        var globex = Self.base
        globex.tenantId = "globex"
        let acmeKey = Self.key(acme)
        let globexKey = Self.key(globex)
        #expect(acmeKey.hasPrefix("acme/") && globexKey.hasPrefix("globex/"))
        await cache.save(answer("four"), key: acmeKey)
        #expect(await cache.lookup(acmeKey)?.text == "four")
        #expect(await cache.lookup(globexKey) == nil, "one tenant never gets another's answer")

        clock.advance(by: 3_601) // past the partition's default TTL of one hour
        #expect(await cache.lookup(acmeKey) == nil)

        func prompt(_ index: Int) -> String {
            Self.key(acme) { $0.messages = [ProviderMessage(role: .user, content: "prompt \(index)")] }
        }
        for (index, text) in ["a", "b", "c"].enumerated() {
            await cache.save(answer(text), key: prompt(index))
            clock.advance(by: 1)
        }
        #expect(try await cache.store.count(partition: ResponseCache.partition) == 2, "bounded at maxEntries")
        #expect(await cache.lookup(prompt(0)) == nil, "the oldest went first")
        #expect(await cache.lookup(prompt(2))?.text == "c")
    }
}
