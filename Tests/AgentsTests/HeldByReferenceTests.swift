import Foundation
import Providers
import Testing
@testable import Agents
@testable import FleetSupport

/// Members held by reference (``Indirect``) to keep long-lived values small must read, compare and
/// code exactly as the values they hold.
@Suite("Held by reference")
struct HeldByReferenceTests {
    @Test func anIndirectValueComparesHashesAndCodesAsItsValue() throws {
        let a = Indirect(ProviderRequest(model: "m", prompt: "hi", maxTokens: 10))
        let b = Indirect(ProviderRequest(model: "m", prompt: "hi", maxTokens: 10))
        let c = Indirect(ProviderRequest(model: "m", prompt: "bye", maxTokens: 10))
        #expect(a == b && a != c)
        #expect(a.hashValue == b.hashValue)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let encoded = try encoder.encode(a)
        #expect(encoded == (try encoder.encode(a.value)))
        #expect(try JSONDecoder().decode(Indirect<ProviderRequest>.self, from: encoded) == a)
    }

    @Test func aTasksConversationIsSetReadAndCodedUnderItsOwnName() throws {
        var task = AgentTask(id: "t-1", prompt: "hi")
        #expect(task.conversation == nil)
        let plain = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(task)) as? [String: Any]
        #expect(plain?["conversation"] == nil && plain?["conversationBox"] == nil)

        task.conversation = ProviderRequest(model: "m", prompt: "hi")
        task.conversation?.maxTokens = 77
        #expect(task.conversation?.maxTokens == 77)
        let copy = task
        task.conversation?.maxTokens = 5 // a copy is not changed through the shared box
        #expect(copy.conversation?.maxTokens == 77 && task.conversation?.maxTokens == 5)

        let data = try JSONEncoder().encode(copy)
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        #expect((object?["conversation"] as? [String: Any])?["model"] as? String == "m")
        #expect(object?["conversationBox"] == nil)
        let decoded = try JSONDecoder().decode(AgentTask.self, from: data)
        #expect(decoded == copy)
    }
}
