import Foundation

/// One scripted answer of the ``FakeProviderServer``.
public struct FakeResponse: Sendable {
    /// Where the body bytes come from.
    public enum Body: Sendable {
        case bytes([UInt8])
        /// `unit` written `times` times (large streams without holding them in memory).
        case repeated([UInt8], times: Int)
        /// `before`, then nothing until `gate` opens, then `after` (a stream held open).
        case held([UInt8], gate: FakeGate, then: [UInt8])

        var count: Int {
            switch self {
            case .bytes(let bytes): bytes.count
            case .held(let before, _, let after): before.count + after.count
            case .repeated(let unit, let times): unit.count * times
            }
        }
    }

    /// A fault injected while writing.
    public enum Fault: Sendable, Equatable {
        /// Close the connection once this many bytes (of everything written, head included) went out.
        case cutAfter(bytes: Int)
        /// Stop writing once this many bytes went out, but keep the socket open.
        case stallAfter(bytes: Int)
    }

    public var status: Int
    public var reason: String
    /// Headers in order; `content-length` is added unless present.
    public var headers: [(String, String)]
    public var body: Body
    /// When true, `body` is a complete raw HTTP response (status line and headers included)
    /// written exactly as is (a `.http` fixture).
    public var raw: Bool
    /// Bytes per write; `nil` writes in pieces of 64 KiB.
    public var chunkSize: Int?
    /// Pause before each write after the first (a slow drip).
    public var delay: Duration
    public var fault: Fault?

    public init(
        status: Int = 200, reason: String = "OK", headers: [(String, String)] = [], body: Body = .bytes([]),
        raw: Bool = false, chunkSize: Int? = nil, delay: Duration = .zero, fault: Fault? = nil
    ) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.raw = raw
        self.chunkSize = chunkSize
        self.delay = delay
        self.fault = fault
    }

    /// A fixture file from `Tests/Fixtures/<relativePath>`, with a content type from its extension:
    /// `.sse` → `text/event-stream`, `.ndjson` → `application/x-ndjson`, `.json` → `application/json`,
    /// `.http` → written raw (its own status line and headers are used as is).
    public static func fixture(_ relativePath: String, status: Int = 200) throws -> FakeResponse {
        let bytes = [UInt8](try FixturePaths.data(relativePath))
        if relativePath.hasSuffix(".http") {
            return FakeResponse(body: .bytes(bytes), raw: true)
        }
        let type: String
        if relativePath.hasSuffix(".sse") {
            type = "text/event-stream"
        } else if relativePath.hasSuffix(".ndjson") {
            type = "application/x-ndjson"
        } else if relativePath.hasSuffix(".json") {
            type = "application/json"
        } else {
            type = "application/octet-stream"
        }
        return FakeResponse(status: status, reason: status == 200 ? "OK" : "Error", headers: [("content-type", type)], body: .bytes(bytes))
    }

    /// A JSON error answer, e.g. `status(429, retryAfter: "2")`.
    public static func status(
        _ code: Int, body: String = "{\"error\":{\"message\":\"scripted\"}}", headers: [(String, String)] = []
    ) -> FakeResponse {
        FakeResponse(status: code, reason: "Scripted", headers: [("content-type", "application/json")] + headers, body: .bytes(Array(body.utf8)))
    }

    /// An event stream made of these `data:` payloads (each one event).
    public static func sse(_ payloads: [String], eventType: String? = nil) -> FakeResponse {
        let text = payloads.map { (eventType.map { "event: \($0)\n" } ?? "") + "data: \($0)\n\n" }.joined()
        return FakeResponse(headers: [("content-type", "text/event-stream")], body: .bytes(Array(text.utf8)))
    }

    /// Writes in pieces of `size` bytes with `delay` between them.
    public func dripped(size: Int, delay: Duration = .zero) -> FakeResponse {
        var copy = self
        copy.chunkSize = size
        copy.delay = delay
        return copy
    }

    /// The same answer with a fault.
    public func with(_ fault: Fault) -> FakeResponse {
        var copy = self
        copy.fault = fault
        return copy
    }
}

/// One request the fake received.
public struct RecordedRequest: Sendable {
    public var method: String
    /// The request target, e.g. `/v1/messages` or `/v1beta/models/m:generateContent?alt=sse`.
    public var uri: String
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// 1 for HTTP/1.1, 2 for a request on an HTTP/2 stream.
    public var httpVersion = 1

    /// The first value of a header (case-insensitive name).
    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// The body decoded as a JSON object, if it is one.
    public var jsonBody: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }

    /// The path without the query.
    public var path: String { String(uri.split(separator: "?", maxSplits: 1).first ?? "") }
}

/// What the fake answers: a function of the request and its index (0 for the first request).
public struct FakeScript: Sendable {
    public let respond: @Sendable (RecordedRequest, Int) -> FakeResponse

    public init(_ respond: @escaping @Sendable (RecordedRequest, Int) -> FakeResponse) {
        self.respond = respond
    }

    /// The same answer to every request.
    public static func always(_ response: FakeResponse) -> FakeScript {
        FakeScript { _, _ in response }
    }

    /// Answers in order; the last one repeats.
    public static func sequence(_ responses: [FakeResponse]) -> FakeScript {
        FakeScript { _, index in
            guard let last = responses.last else { return .status(500, body: "{\"error\":\"empty fake script\"}") }
            return index < responses.count ? responses[index] : last
        }
    }
}
