import FleetSupport
import Foundation

/// Turns an event stream into JSON lines, one per dispatched event: the output of
/// `fleetd sse decode`, a debugging aid to see what a provider really sent.
///
/// Each event prints as `{"event":…,"data":…,"id":…}` with the last event ID in force;
/// ``finish()`` adds `{"retry":N}` when a valid `retry` field was seen.
public struct SSEDecodeFormatter: Sendable {
    private var parser = SSEParser()

    public init() {}

    /// A JSON string literal for `text` (JSONEncoder's escaping, keys written in a fixed order by hand).
    private static func quoted(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return (try? encoder.encode(text)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
    }

    /// The JSON lines (each without its line end) for the events these bytes dispatch,
    /// keys in the order `event`, `data`, `id`.
    public mutating func feed(_ bytes: some Collection<UInt8>) -> [String] {
        parser.parse(bytes).map { event in
            "{\"event\":\(Self.quoted(event.type)),\"data\":\(Self.quoted(event.data)),\"id\":\(Self.quoted(event.lastEventID))}"
        }
    }

    /// The closing line: `{"retry":N}` if a valid retry was seen, otherwise nothing.
    /// An unterminated last event is not dispatched, so it prints nothing.
    public func finish() -> [String] {
        guard let retry = parser.retry else { return [] }
        return ["{\"retry\":\(retry)}"]
    }
}
