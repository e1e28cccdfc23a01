import Agents
import FleetSupport
import Foundation
import Logging
import Providers
import Store

/// The Responses API's kept conversations: a response made with `store` (the API's default) is
/// kept in the memory store's `responses/conversations` partition under its id, as the whole conversation it
/// ended (the turns it was sent and its own answer), so a later request's `previous_response_id`
/// continues it. Kept for the partition's TTL (`memory.ttl`, 24 hours by default), at most
/// ``maxEntries`` (the oldest go first); on a shared store every instance sees them. A response
/// belongs to the caller that made it (its API key and tenant): another caller asking for it is
/// told there is no such response, as OpenAI answers.
struct ResponsesStore {
    static let partition = "responses/conversations"
    static let maxEntries = 10_000

    let memory: MemoryStore

    /// What is kept of one response.
    struct Kept: Codable {
        /// Who made it (``owner(keyId:tenantId:)``).
        var owner: String
        /// The conversation up to and including the response's own answer.
        var messages: [ProviderMessage]
    }

    static func owner(keyId: String?, tenantId: String?) -> String {
        "key:\(keyId ?? "-") tenant:\(tenantId ?? "-")"
    }

    /// The conversation `id` ended, for `owner`; a 400 naming `previous_response_id` when there
    /// is none (never made, expired, or another caller's).
    func conversation(_ id: String, owner: String) async throws -> [ProviderMessage] {
        let kept = try? await memory.retrieve(Kept.self, partition: Self.partition, key: id)
        guard let kept, kept.owner == owner else {
            throw CompatRequestError(param: "previous_response_id",
                                     message: "'previous_response_id' is '\(id)': no such response is kept (it was made with store: false, "
                                         + "by another caller, or longer ago than the responses partition's TTL)")
        }
        return kept.messages
    }

    /// Keeps the conversation `request` was, with `result`'s answer after it, under the response's id.
    func keep(_ result: TaskResult, request: ProviderRequest, owner: String, logger: Logger) async {
        let answer = CompatAnswer(result)
        var blocks: [ContentBlock] = answer.text.isEmpty ? [] : [.text(answer.text)]
        blocks += answer.toolCalls.map { ContentBlock.toolUse($0) }
        var messages = request.messages
        if !blocks.isEmpty { messages.append(ProviderMessage(role: .assistant, blocks: blocks)) }
        do {
            try await memory.store(Kept(owner: owner, messages: messages), partition: Self.partition,
                                   key: ResponsesResponse.id(result.taskId))
            _ = try await memory.evictOldest(partition: Self.partition, keeping: Self.maxEntries)
        } catch {
            // The answer stands; only a later continuation of it will be refused.
            logger.warning("a Responses API answer could not be kept for previous_response_id",
                           metadata: ["task": "\(result.taskId)", "error": "\(error)"])
        }
    }
}
