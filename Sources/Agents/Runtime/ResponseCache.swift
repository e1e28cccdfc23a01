import Crypto
import FleetSupport
import Foundation
import Logging
import Providers
import Routing
import Store
import Synchronization

/// `advancedCaching`: an exact-match cache of answers, in the memory store's `cache/responses`
/// partition (its TTL is `memory.ttl["cache/responses"]`, one hour by default; on a shared store
/// every instance sees it).
///
/// The key is a SHA-256 over everything that decides the answer: the tenant (one tenant never
/// gets another's answer), the model that will answer, the agent type, the task type, and the
/// whole model call (system prompt, every message, token limit, sampling, stop sequences, response
/// format). Not cached: calls that offer tools (a tool call may act on the world), calls that ask
/// for a temperature above ``maxTemperature``, and tasks that opt out with `cache-control: no-cache`
/// (do not read, do store) or `no-store` (neither).
///
/// An unset temperature is not a temperature of 0: the provider samples at its own default (1 for
/// most), so such a call is cached as that exact call, under a key of its own: it never answers a
/// call that asked for 0, nor the other way round. It is admitted as an exact-match cache (LiteLLM's,
/// Portkey's) admits every call: the client asked for no particular sampling, and repeated tasks
/// (`POST /v1/tasks` carries no temperature) are what the cache is for. A client that wants a fresh
/// sample sends `cache-control: no-cache`; one that wants variety asks for it by temperature.
public struct ResponseCache: Sendable {
    /// The memory partition.
    public static let partition = "cache/responses"

    /// What is kept of an answer.
    public struct Answer: Sendable, Codable, Hashable {
        public var text: String
        public var model: String
        public var provider: ProviderKind
        public var usage: CostUsage
        /// What the original call cost, so a hit can say what it saved.
        public var cost: Double
        public var finishReason: String?
        public var storedAt: Date

        public init(text: String, model: String, provider: ProviderKind, usage: CostUsage, cost: Double, finishReason: String?, storedAt: Date) {
            self.text = text
            self.model = model
            self.provider = provider
            self.usage = usage
            self.cost = cost
            self.finishReason = finishReason
            self.storedAt = storedAt
        }
    }

    public let store: MemoryStore
    /// The most entries kept; the oldest go first.
    public let maxEntries: Int
    /// Calls that ask for a hotter temperature than this are not cached (their answers are meant to
    /// vary); a call that asks for none is (see the type's notes).
    public let maxTemperature: Double
    let logger: Logger
    /// Saves so far: the bound is enforced every ``boundCheckInterval`` saves, not on each one
    /// (counting the partition is the costly part of a save).
    private let saves = SaveCounter()
    /// 1% of the bound (at least 1): the partition may hold that many more entries for a moment.
    var boundCheckInterval: Int { max(1, maxEntries / 100) }

    private final class SaveCounter: Sendable {
        let value = Atomic<Int>(0)
    }

    public init(store: MemoryStore, maxEntries: Int = 10_000, maxTemperature: Double = 0.5, logger: Logger = Logger(label: "fleetd.cache")) {
        self.store = store
        self.maxEntries = max(1, maxEntries)
        self.maxTemperature = maxTemperature
        self.logger = logger
    }

    /// Whether a model call's answer may be cached at all.
    public func admits(_ request: ProviderRequest) -> Bool {
        Self.admits(request, maxTemperature: maxTemperature)
    }

    /// Whether a call's answer may be cached: it offers no tools, and it asks for no temperature
    /// (the provider's default, keyed apart from every explicit value) or for at most `maxTemperature`.
    public static func admits(_ request: ProviderRequest, maxTemperature: Double) -> Bool {
        guard request.tools.isEmpty else { return false }
        // A thinking answer's signed blocks are not kept, and a replay without them is not the answer.
        if let thinking = request.thinking, thinking.kind != .disabled { return false }
        guard let temperature = request.temperature else { return true }
        return temperature <= maxTemperature
    }

    /// The key of a task's answer from a model: `<tenant>/<sha256 hex>`; `nil` when the call
    /// cannot be encoded (then it is not cached). The call is encoded whole, its unset fields left
    /// out: an unset temperature (or top-p, seed…) makes other bytes, so another key, than any
    /// value given for it, 0 included.
    public static func key(task: AgentTask, model: String, request: ProviderRequest) -> String? {
        // Keys in declaration order, maps sorted, JSON objects in their order; prompt-cache breakpoints change no answer.
        guard let call = try? FastJSONEncoder().encode(request.withoutCacheMarks) else { return nil }
        // Length-prefixed fields: no two different tasks make the same bytes.
        var bytes: [UInt8] = []
        for field in [Array((task.tenantId ?? "").utf8), Array(model.utf8), Array((task.type?.rawValue ?? "").utf8),
                      Array((task.agentType ?? "").utf8), call] {
            bytes += Array(String(field.count).utf8) + [0x3A] + field
        }
        let hex = Array("0123456789abcdef".utf8)
        var digits: [UInt8] = []
        digits.reserveCapacity(64)
        for byte in SHA256.hash(data: bytes) {
            digits.append(hex[Int(byte >> 4)])
            digits.append(hex[Int(byte & 0x0F)])
        }
        let digest = String(decoding: digits, as: UTF8.self)
        return "\(Self.tenantSegment(task.tenantId))/\(digest)"
    }

    /// The tenant part of a key (the memory store's keys take no `/` inside a segment we name).
    static func tenantSegment(_ tenant: String?) -> String {
        guard let tenant, !tenant.isEmpty else { return "_" }
        return tenant.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_" ? String($0) : "%\(String($0.value, radix: 16))" }.joined()
    }

    /// The answer stored under `key`, if any and not expired. A failing store is a miss.
    public func lookup(_ key: String) async -> Answer? {
        do {
            return try await store.retrieve(Answer.self, partition: Self.partition, key: key)
        } catch {
            logger.warning("response cache read failed; treated as a miss", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Keeps an answer (in a task of its own: a client that leaves does not stop it) and, every
    /// ``boundCheckInterval`` saves, evicts the oldest beyond ``maxEntries``.
    public func save(_ answer: Answer, key: String) async {
        let store = self.store, limit = maxEntries, logger = self.logger
        let checkBound = saves.value.wrappingAdd(1, ordering: .relaxed).newValue % boundCheckInterval == 0
        await ExecutorAffinity.task {
            do {
                try await store.store(answer, partition: Self.partition, key: key, accessLevel: .system)
                if checkBound { try await store.evictOldest(partition: Self.partition, keeping: limit) }
            } catch {
                logger.warning("response cache write failed", metadata: ["error": "\(error)"])
            }
        }.value
    }
}

/// How a task may use the response cache (the request's `cache-control`).
public enum CachePolicy: String, Sendable, Codable, Hashable {
    /// Read and store.
    case use
    /// `no-cache`: always ask the model, then store its answer.
    case refresh
    /// `no-store`: neither read nor store.
    case bypass
}
