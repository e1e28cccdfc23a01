import FleetSupport

extension ProviderRequest {
    /// The messages with empty ones left out and consecutive messages of one role joined into
    /// one, for formats that want strict user/assistant alternation (Anthropic, Gemini). Tool
    /// results stay first in a joined user turn, as they came first.
    var alternatingTurns: [ProviderMessage] {
        var turns: [ProviderMessage] = []
        for message in messages where !message.blocks.isEmpty {
            if let last = turns.last, last.role == message.role {
                let offset = last.blocks.count
                turns[turns.count - 1].blocks += message.blocks
                if let marks = message.cacheMarks {
                    var merged = last.cacheMarks ?? [:]
                    for (index, mark) in marks { merged[offset + index] = mark }
                    turns[turns.count - 1].cacheMarks = merged
                }
            } else {
                turns.append(message)
            }
        }
        return turns
    }
}

extension JSONValue {
    /// The JSON text (object members in their order), for formats that carry tool arguments as a string.
    var jsonText: String {
        (try? FastJSONEncoder().encodeToString(self)) ?? "{}"
    }
}
