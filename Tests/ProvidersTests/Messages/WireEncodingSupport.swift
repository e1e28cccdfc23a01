import FleetSupport
import Foundation
@testable import Providers

/// An encoder's output as plain JSON values, to check field by field.
func wireJSON(_ value: some Encodable) throws -> [String: Any] {
    let bytes = try FastJSONEncoder().encode(value)
    return try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] ?? [:]
}

extension Dictionary where Key == String, Value == Any {
    subscript(object key: String) -> [String: Any]? { self[key] as? [String: Any] }
    subscript(objects key: String) -> [[String: Any]] { self[key] as? [[String: Any]] ?? [] }
}

/// One conversation with every kind of block, used by each format's tests.
enum SampleConversation {
    static let weather = ToolDefinition(
        name: "get_weather", description: "The weather in a city",
        parameters: .object(["type": .string("object"), "properties": .object(["city": .object(["type": .string("string")])]),
                             "required": .array([.string("city")])]))
    static let clock = ToolDefinition(name: "get_time", parameters: .object(["type": .string("object")]))

    /// user (text + Base64 image) → assistant (text + two tool calls) → user (two results, one an
    /// error, then text).
    static var request: ProviderRequest {
        var request = ProviderRequest(model: "m", system: "be brief", messages: [
            ProviderMessage(role: .user, blocks: [.text("Weather and time in Paris?"), .image(.base64(mediaType: "image/png", data: "AAAA"))]),
            ProviderMessage(role: .assistant, blocks: [
                .text("Checking."),
                .toolUse(ToolUse(id: "call_1", name: "get_weather", input: .object(["city": .string("Paris")]))),
                .toolUse(ToolUse(id: "call_2", name: "get_time", input: .object([:]))),
            ]),
            ProviderMessage(role: .user, blocks: [
                .toolResult(ToolResult(toolUseId: "call_1", name: "get_weather", content: [.text("18 C")])),
                .toolResult(ToolResult(toolUseId: "call_2", name: "get_time", content: [.text("clock offline")], isError: true)),
            ]),
            ProviderMessage(role: .user, content: "Thanks; and tomorrow?"),
        ], maxTokens: 300)
        request.tools = [weather, clock]
        request.temperature = 0.5
        request.topP = 0.9
        request.stopSequences = ["END"]
        return request
    }
}
