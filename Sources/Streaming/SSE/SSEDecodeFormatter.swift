import Foundation

/// Turns an event stream into JSON lines, one per dispatched event: the output of
/// `fleetd sse decode`, a debugging aid to see what a provider really sent.
///
/// Each event prints as `{"event":…,"data":…,"id":…}` with the last event ID in force;
/// ``finish()`` adds `{"retry":N}` when a valid `retry` field was seen.
public struct SSEDecodeFormatter: Sendable {
    private var parser = SSEParser()

    public init() {}

    private struct Line: Encodable {
        let event: String
        let data: String
        let id: String
    }

    private struct Retry: Encodable {
        let retry: Int
    }

    private static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }

    /// The JSON lines (each without its line end) for the events these bytes dispatch.
    public mutating func feed(_ bytes: some Collection<UInt8>) -> [String] {
        let encoder = Self.encoder()
        return parser.parse(bytes).map { event in
            let json = (try? encoder.encode(Line(event: event.type, data: event.data, id: event.lastEventID))) ?? Data()
            return String(decoding: json, as: UTF8.self)
        }
    }

    /// The closing line: `{"retry":N}` if a valid retry was seen, otherwise nothing.
    /// An unterminated last event is not dispatched, so it prints nothing.
    public func finish() -> [String] {
        guard let retry = parser.retry,
              let json = try? Self.encoder().encode(Retry(retry: retry)) else { return [] }
        return [String(decoding: json, as: UTF8.self)]
    }
}
