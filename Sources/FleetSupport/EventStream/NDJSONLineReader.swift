import NIOCore

/// Splits a newline-delimited JSON stream (Ollama's native `/api/chat`) into lines, incrementally.
///
/// Lines end with LF (a CR before it is dropped); blank lines are skipped. A line longer than
/// `maximumLineLength` is an error rather than unbounded memory.
public struct NDJSONLineReader: Sendable {
    /// The longest line accepted, in bytes.
    public let maximumLineLength: Int
    private var carry: [UInt8] = []

    /// Thrown when a line grows beyond ``maximumLineLength``.
    public struct LineTooLong: Error, Sendable, CustomStringConvertible {
        public let limit: Int
        public var description: String { "NDJSON line longer than \(limit) bytes" }
    }

    public init(maximumLineLength: Int = 16 * 1024 * 1024) {
        self.maximumLineLength = maximumLineLength
    }

    /// Feeds the next bytes; returns every line they complete (without the line end).
    public mutating func read(_ buffer: ByteBuffer) throws -> [[UInt8]] {
        try buffer.withUnsafeReadableBytes { try read($0) }
    }

    /// Feeds the next bytes; returns every line they complete (without the line end).
    public mutating func read(_ bytes: UnsafeRawBufferPointer) throws -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var start = 0
        for index in 0..<bytes.count where bytes[index] == UInt8(ascii: "\n") {
            carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
            if let line = takeLine() { lines.append(line) }
            start = index + 1
        }
        carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start...]))
        if carry.count > maximumLineLength { throw LineTooLong(limit: maximumLineLength) }
        return lines
    }

    /// The unterminated last line, if any (NDJSON writers usually end every line, but not all do).
    public mutating func finish() -> [UInt8]? {
        takeLine()
    }

    private mutating func takeLine() -> [UInt8]? {
        var line = carry
        carry.removeAll(keepingCapacity: true)
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return nil }
        return line
    }
}
