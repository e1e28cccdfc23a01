import NIOCore

/// An incremental parser for `text/event-stream`, following the WHATWG HTML
/// "event stream interpretation" rules exactly.
///
/// Feed it the bytes as they arrive, in pieces of any size; it hands back every event
/// dispatched by those bytes. It works on bytes, not strings: line ends (LF, CR, CRLF, also a
/// CR at the end of one read and its LF at the start of the next), a leading UTF-8 BOM,
/// comments, fields without a colon, one optional space after the colon, multi-line `data`,
/// `event`, `id` (ignored when it contains NUL; persists across events) and `retry` (ASCII
/// digits only). An event is dispatched on a blank line; an event with empty data is not
/// dispatched (but its type is reset); an unterminated last event is never dispatched.
///
/// ```swift
/// var parser = SSEParser()
/// for event in parser.parse(buffer) { print(event.type, event.data) }
/// ```
public struct SSEParser: Sendable {
    /// The reconnection time (milliseconds) from the last valid `retry:` field, if any.
    public private(set) var retry: Int?
    /// The last event ID string in force (set by `id:` fields, kept across events).
    public var lastEventID: String { lastEventIDStorage }

    /// Lines whose field name is not one of `event`, `data`, `id`, `retry`, when
    /// `captureUnknownLines` is on (the spec ignores them; Gemini sends a bare JSON error this way).
    public private(set) var unknownLines: [String] = []

    private let captureUnknownLines: Bool
    private var lineCarry: [UInt8] = []
    private var data: [UInt8] = []
    private var eventType: [UInt8] = []
    private var lastEventIDStorage: String = ""
    private var skipLeadingLF = false
    /// Bytes held at the very start of the stream until we know whether they are a BOM.
    private var startBytes: [UInt8]? = []

    /// - Parameter captureUnknownLines: keep lines with unknown field names in ``unknownLines``
    ///   (at most 256 lines of at most 64 KiB are kept).
    public init(captureUnknownLines: Bool = false) {
        self.captureUnknownLines = captureUnknownLines
    }

    /// Parses the next piece of the stream and returns the events it dispatched.
    public mutating func parse(_ buffer: ByteBuffer) -> [SSEEvent] {
        var events: [SSEEvent] = []
        buffer.withUnsafeReadableBytes { parse($0) { events.append($0) } }
        return events
    }

    /// Parses the next piece of the stream and returns the events it dispatched.
    public mutating func parse(_ bytes: some Collection<UInt8>) -> [SSEEvent] {
        var events: [SSEEvent] = []
        let handled: Void? = bytes.withContiguousStorageIfAvailable { raw in
            parse(UnsafeRawBufferPointer(raw)) { events.append($0) }
        }
        if handled == nil {
            let copy = Array(bytes)
            copy.withUnsafeBytes { parse($0) { events.append($0) } }
        }
        return events
    }

    /// Parses the next piece of the stream, calling `onEvent` for each dispatched event
    /// (no intermediate array).
    public mutating func parse(_ buffer: ByteBuffer, onEvent: (SSEEvent) throws -> Void) rethrows {
        try buffer.withUnsafeReadableBytes { try parse($0, onEvent: onEvent) }
    }

    /// Parses raw bytes, calling `onEvent` for each dispatched event.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer, onEvent: (SSEEvent) throws -> Void) rethrows {
        defer { releaseIdleBuffers() }
        if var start = startBytes {
            // Still deciding whether the stream starts with a BOM (EF BB BF).
            let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
            start.append(contentsOf: bytes.prefix(3 - min(3, start.count)))
            let consumed = start.count - (startBytes?.count ?? 0)
            let isPrefix = zip(start, bom).allSatisfy { $0 == $1 }
            if isPrefix && start.count < 3 {
                startBytes = start
                return
            }
            startBytes = nil
            let head = isPrefix ? [] : start
            try head.withUnsafeBytes { try scan($0, onEvent: onEvent) }
            try scan(UnsafeRawBufferPointer(rebasing: bytes[consumed...]), onEvent: onEvent)
            return
        }
        try scan(bytes, onEvent: onEvent)
    }

    /// Splits bytes into lines and processes each complete one; keeps the incomplete tail.
    private mutating func scan(_ bytes: UnsafeRawBufferPointer, onEvent: (SSEEvent) throws -> Void) rethrows {
        var index = 0
        let count = bytes.count
        if skipLeadingLF, count > 0 {
            skipLeadingLF = false
            if bytes[0] == UInt8(ascii: "\n") { index = 1 }
        }
        var lineStart = index
        while index < count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                let line = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<index])
                if lineCarry.isEmpty {
                    try processLine(line, onEvent: onEvent)
                } else {
                    lineCarry.append(contentsOf: line)
                    var carried: [UInt8] = []
                    swap(&carried, &lineCarry) // no copy: the carry buffer is reused below
                    defer {
                        carried.removeAll(keepingCapacity: true)
                        lineCarry = carried
                    }
                    try carried.withUnsafeBytes { try processLine($0, onEvent: onEvent) }
                }
                index += 1
                if byte == UInt8(ascii: "\r") {
                    if index < count {
                        if bytes[index] == UInt8(ascii: "\n") { index += 1 }
                    } else {
                        skipLeadingLF = true
                    }
                }
                lineStart = index
            } else {
                index += 1
            }
        }
        if lineStart < count {
            lineCarry.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[lineStart..<count]))
        }
    }

    private mutating func processLine(_ line: UnsafeRawBufferPointer, onEvent: (SSEEvent) throws -> Void) rethrows {
        if line.isEmpty {
            if let event = dispatch() { try onEvent(event) }
            return
        }
        if line[0] == UInt8(ascii: ":") { return } // comment
        let colon = line.firstIndex(of: UInt8(ascii: ":"))
        let name = UnsafeRawBufferPointer(rebasing: line[..<(colon ?? line.count)])
        var value = UnsafeRawBufferPointer(start: nil, count: 0)
        if let colon {
            var valueStart = colon + 1
            if valueStart < line.count, line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
            value = UnsafeRawBufferPointer(rebasing: line[valueStart...])
        }
        switch Field(name) {
        case .data:
            data.append(contentsOf: value)
            data.append(UInt8(ascii: "\n"))
        case .event:
            eventType.removeAll(keepingCapacity: true)
            eventType.append(contentsOf: value)
        case .id:
            if !value.contains(0) { lastEventIDStorage = String(decoding: value, as: UTF8.self) }
        case .retry:
            if !value.isEmpty, value.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
                var number = 0
                for digit in value {
                    let (times, o1) = number.multipliedReportingOverflow(by: 10)
                    let (sum, o2) = times.addingReportingOverflow(Int(digit - UInt8(ascii: "0")))
                    if o1 || o2 { number = Int.max; break }
                    number = sum
                }
                retry = number
            }
        case .unknown:
            if captureUnknownLines, unknownLines.count < 256, line.count <= 65_536 {
                unknownLines.append(String(decoding: line, as: UTF8.self))
            }
        }
    }

    private mutating func dispatch() -> SSEEvent? {
        defer { eventType.removeAll(keepingCapacity: true) }
        if data.isEmpty { return nil }
        data.removeLast() // the trailing LF
        let type = eventType.isEmpty ? "message" : String(decoding: eventType, as: UTF8.self)
        let event = SSEEvent(type: type, data: String(decoding: data, as: UTF8.self), lastEventID: lastEventIDStorage)
        data.removeAll(keepingCapacity: true)
        return event
    }

    /// Between events a parser keeps no space for an event's data or a split line: a stream that
    /// waits (an SSE stream held open for minutes) kept the capacity its largest event had needed
    /// for as long as it lasted. The next piece of the stream allocates again, once per read
    /// rather than once per event. (An event type's few bytes are kept.)
    private mutating func releaseIdleBuffers() {
        if data.isEmpty, data.capacity > 0 { data = [] }
        if lineCarry.isEmpty, lineCarry.capacity > 0 { lineCarry = [] }
    }

    /// Forgets the per-connection state (buffers, pending line, BOM check), keeping the
    /// last event ID and retry, as a reconnecting client does.
    public mutating func resetConnection() {
        lineCarry.removeAll()
        data.removeAll()
        eventType.removeAll()
        skipLeadingLF = false
        startBytes = []
    }

    private enum Field {
        case data, event, id, retry, unknown

        init(_ name: UnsafeRawBufferPointer) {
            switch name.count {
            case 4 where name.elementsEqual("data".utf8): self = .data
            case 5 where name.elementsEqual("event".utf8): self = .event
            case 2 where name.elementsEqual("id".utf8): self = .id
            case 5 where name.elementsEqual("retry".utf8): self = .retry
            default: self = .unknown
            }
        }
    }
}
