import NIOCore

/// Writes server-sent events for fleetd's own output.
///
/// Multi-line data becomes several `data:` lines (a client joins them back with LF);
/// CR, LF and CRLF in the data all count as line breaks. Line breaks are removed from
/// `event` and `id` (they cannot hold one), and NUL is removed from `id`.
public enum SSEEncoder {
    /// The text of one event, ending with the blank line that dispatches it.
    public static func encode(event: String? = nil, data: String, id: String? = nil, retry: Int? = nil) -> String {
        var out = ""
        out.reserveCapacity(data.utf8.count + 32)
        if let event, !event.isEmpty { out += "event: " + singleLine(event) + "\n" }
        if let id { out += "id: " + singleLine(id).replacingNUL() + "\n" }
        if let retry, retry >= 0 { out += "retry: \(retry)\n" }
        for line in lines(of: data) {
            out += "data: "
            out += line
            out += "\n"
        }
        out += "\n"
        return out
    }

    /// The bytes of one event, written into a `ByteBuffer`.
    public static func encodeBuffer(
        event: String? = nil, data: String, id: String? = nil, retry: Int? = nil,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) -> ByteBuffer {
        let text = encode(event: event, data: data, id: id, retry: retry)
        var buffer = allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        return buffer
    }

    /// Appends one event to `buffer`: the hot path of fleetd's SSE output (no intermediate
    /// string; lines split on the bytes CR, LF and CRLF, which never occur inside a UTF-8 sequence).
    public static func write(event: String, data: [UInt8], into buffer: inout ByteBuffer) {
        if !event.isEmpty {
            buffer.writeStaticString("event: ")
            buffer.writeString(event.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }) ? singleLine(event) : event)
            buffer.writeStaticString("\n")
        }
        var start = 0
        var index = 0
        while index < data.count {
            let byte = data[index]
            if byte == 0x0A || byte == 0x0D {
                buffer.writeStaticString("data: ")
                buffer.writeBytes(data[start..<index])
                buffer.writeStaticString("\n")
                if byte == 0x0D, index + 1 < data.count, data[index + 1] == 0x0A { index += 1 }
                start = index + 1
            }
            index += 1
        }
        buffer.writeStaticString("data: ")
        buffer.writeBytes(data[start..<data.count])
        buffer.writeStaticString("\n\n")
    }

    /// A comment line (ignored by clients), e.g. a keep-alive.
    public static func comment(_ text: String = "") -> String {
        lines(of: text).map { ":" + ($0.isEmpty ? "" : " " + $0) + "\n" }.joined()
    }

    /// Splits on CR, LF and CRLF. An empty string is one empty line.
    static func lines(of text: String) -> [Substring] {
        var result: [Substring] = []
        var start = text.startIndex
        var index = start
        while index < text.endIndex {
            let c = text[index]
            if c == "\n" || c == "\r" || c == "\r\n" {
                result.append(text[start..<index])
                index = text.index(after: index)
                start = index
            } else {
                index = text.index(after: index)
            }
        }
        result.append(text[start..<text.endIndex])
        return result
    }

    private static func singleLine(_ text: String) -> String {
        String(text.unicodeScalars.filter { $0 != "\n" && $0 != "\r" })
    }
}

extension String {
    fileprivate func replacingNUL() -> String {
        String(unicodeScalars.filter { $0 != "\0" })
    }
}
