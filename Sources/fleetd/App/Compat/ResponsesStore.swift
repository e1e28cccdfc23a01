import Agents
import FleetSupport
import Foundation
import Logging
import Providers
import Store
import Synchronization

/// The Responses API's kept conversations: a response made with `store` (the API's default) is
/// kept in the memory store's `responses/conversations` partition under its id, as the whole
/// conversation it ended (the system text its input items gave, the turns it was sent and its own
/// answer), so a later request's `previous_response_id` continues it. Kept for the partition's
/// TTL (`memory.ttl`, 24 hours by default), at most ``maxEntries`` (the oldest go first), none
/// larger than ``maxBytes``; on a shared store every instance sees them. A response belongs to
/// the caller that made it (``owner(_:tenantHeader:)``): another caller asking for it is told
/// there is no such response, as OpenAI answers.
struct ResponsesStore {
    static let partition = "responses/conversations"
    static let maxEntries = 10_000
    /// The largest conversation kept (its JSON): 16 MiB, the default request body limit. A larger
    /// one is not kept (logged), as keeping it would grow every continuation past what a client
    /// could send.
    static let maxBytes = 16 << 20

    let memory: MemoryStore

    /// What is kept of one response.
    struct Kept: Codable {
        /// Who made it (``owner(_:tenantHeader:)``).
        var owner: String
        /// The system text of the conversation's input items (system and developer messages);
        /// `instructions` are not carried over, as OpenAI has it.
        var system: String?
        /// The conversation up to and including the response's own answer.
        var messages: [ProviderMessage]
    }

    /// Whose a response is: the caller as authenticated (its kind and identity: an API key, a
    /// token's user, the shared key, or nobody when authentication is off), its tenant (its
    /// own, else `x-fleetd-tenant`) and user. One tenant's token users do not share conversations.
    static func owner(_ caller: TaskCaller?, tenantHeader: String?) -> String {
        [caller?.label ?? "open", caller?.keyId ?? "-", caller?.tenantId ?? tenantHeader ?? "-", caller?.userId ?? "-"].joined(separator: "\u{1F}")
    }

    /// The conversation `id` ended, for `owner`; a 400 naming `previous_response_id` when there
    /// is none (never made, expired, or another caller's). A store that cannot be read is a 503.
    func conversation(_ id: String, owner: String, logger: Logger) async throws -> Kept {
        let kept: Kept?
        do {
            kept = try await memory.retrieve(Kept.self, partition: Self.partition, key: id)
        } catch {
            logger.error("a kept Responses API conversation could not be read", metadata: ["response": "\(id)", "error": "\(error)"])
            throw CompatError(.responses, status: 503, openAIType: "server_error", anthropicType: "api_error",
                              message: "the conversation of '\(id)' could not be read from fleetd's store; try again", code: "store_unavailable")
        }
        guard let kept, kept.owner == owner else {
            throw CompatRequestError(param: "previous_response_id",
                                     message: "'previous_response_id' is '\(id)': no such response is kept (it was made with store: false, "
                                         + "by another caller, or longer ago than the responses/conversations partition's TTL)")
        }
        return kept
    }

    /// Saves so far: the bound is enforced every 1% of ``maxEntries`` saves, not on each one
    /// (counting the partition is the costly part), as the response cache does.
    private static let saves = Atomic<Int>(0)

    /// Keeps the conversation `request` was, with `result`'s answer after it, under the response's id.
    func keep(_ result: TaskResult, request: ProviderRequest, system: String?, owner: String, logger: Logger) async {
        let answer = CompatAnswer(result)
        var blocks: [ContentBlock] = answer.text.isEmpty ? [] : [.text(answer.text)]
        blocks += answer.toolCalls.map { ContentBlock.toolUse($0) }
        var messages = request.messages
        if !blocks.isEmpty { messages.append(ProviderMessage(role: .assistant, blocks: blocks)) }
        let kept = Kept(owner: owner, system: system, messages: messages)
        let id = ResponsesResponse.id(result.taskId)
        let checkBound = Self.saves.wrappingAdd(1, ordering: .relaxed).newValue % max(1, Self.maxEntries / 100) == 0
        do {
            let json = try FastJSONEncoder().encodeToData(kept) // once: its size decides, then it is stored as it is
            guard json.count <= Self.maxBytes else {
                logger.warning("a Responses API conversation is too large to keep for previous_response_id",
                               metadata: ["response": "\(id)", "bytes": "\(json.count)", "limit": "\(Self.maxBytes)"])
                return
            }
            try await memory.store(json: json, partition: Self.partition, key: id, accessLevel: .system)
            if checkBound { _ = try await memory.evictOldest(partition: Self.partition, keeping: Self.maxEntries) }
        } catch {
            // The answer stands; only a later continuation of it will be refused.
            logger.warning("a Responses API answer could not be kept for previous_response_id",
                           metadata: ["response": "\(id)", "error": "\(error)"])
        }
    }
}
