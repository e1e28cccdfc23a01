import Foundation
import Glibc
import Logging
import Synchronization

/// One JSON object per line: `{"ts":…,"level":…,"label":…,"msg":…, …metadata}`.
///
/// Written by hand: swift-log ships only a plain-text stream handler, and the structured handlers
/// in other packages pull in whole observability stacks.
struct JSONLogHandler: LogHandler {
    /// ``LoggingSetup/level`` unless this logger set its own.
    var logLevel: Logger.Level {
        get { ownLevel ?? LoggingSetup.level.value }
        set { ownLevel = newValue }
    }
    var ownLevel: Logger.Level?
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    let label: String
    let sink: LogSink

    init(label: String, sink: LogSink, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.sink = sink
        self.metadataProvider = metadataProvider
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields = mergedMetadata(metadata, metadataProvider, event.metadata)
        // The fixed fields, unless the metadata names them too (then the metadata's value stands).
        fields["ts"] = fields["ts"] ?? .string(logTimestamp(Date()))
        fields["level"] = fields["level"] ?? .string(event.level.rawValue)
        fields["label"] = fields["label"] ?? .string(label)
        fields["msg"] = fields["msg"] ?? .string(event.message.description)
        if let error = event.error, fields["error"] == nil { fields["error"] = .string(String(describing: error)) }
        // Written byte by byte with sorted keys: Foundation's JSONSerialization took about 6% of
        // fleetd's CPU per task at info level (one line per request; docs/performance.md).
        var line: [UInt8] = []
        line.reserveCapacity(320)
        LogLineWriter.object(fields, into: &line)
        line.append(UInt8(ascii: "\n"))
        sink.write(line)
    }
}

/// JSON for log lines: objects with sorted keys, strings escaped as JSON requires (quote,
/// backslash, control characters), `/` and non-ASCII written as they are.
enum LogLineWriter {
    /// Where Hummingbird keeps a request's id in its logger's metadata (``RequestLogMiddleware``
    /// puts a client's `X-Request-Id` there); log lines call it `requestId`.
    static let requestIDKey = "hb.request.id"

    static func object(_ fields: Logger.Metadata, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        var first = true
        for key in fields.keys.sorted() {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            string(key, into: &out)
            out.append(UInt8(ascii: ":"))
            value(fields[key]!, into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    static func value(_ value: Logger.MetadataValue, into out: inout [UInt8]) {
        switch value {
        case .string(let text): string(text, into: &out)
        case .stringConvertible(let convertible): string(convertible.description, into: &out)
        case .dictionary(let fields): object(fields, into: &out)
        case .array(let values):
            out.append(UInt8(ascii: "["))
            for (index, element) in values.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                self.value(element, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
    }

    static func string(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\n"): out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case UInt8(ascii: "\t"): out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// A plain-text line per entry: `2026-11-22T10:00:00Z info label: message key=value`.
struct TextLogHandler: LogHandler {
    /// ``LoggingSetup/level`` unless this logger set its own.
    var logLevel: Logger.Level {
        get { ownLevel ?? LoggingSetup.level.value }
        set { ownLevel = newValue }
    }
    var ownLevel: Logger.Level?
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    let label: String
    let sink: LogSink

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = mergedMetadata(metadata, metadataProvider, event.metadata)
        if let error = event.error, merged["error"] == nil { merged["error"] = .string(String(describing: error)) }
        let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let line = "\(logTimestamp(Date())) \(event.level.rawValue) \(label): \(event.message)\(fields.isEmpty ? "" : " " + fields)\n"
        sink.write(Array(line.utf8))
    }
}

/// The handler's metadata, then the provider's, then the call's: later ones win. A request's id,
/// which Hummingbird puts on the request's logger, is written as `requestId`.
private func mergedMetadata(_ own: Logger.Metadata, _ provider: Logger.MetadataProvider?, _ explicit: Logger.Metadata?) -> Logger.Metadata {
    var merged = own
    if let provided = provider?.get() { merged.merge(provided) { $1 } }
    if let explicit { merged.merge(explicit) { $1 } }
    if let id = merged.removeValue(forKey: LogLineWriter.requestIDKey), merged["requestId"] == nil { merged["requestId"] = id }
    return merged
}

/// Where log lines go: standard error and/or a file, written whole under a lock so lines from
/// concurrent tasks never interleave.
final class LogSink: Sendable {
    private let handles: Mutex<[FileHandle]>

    init(handles: [FileHandle]) {
        self.handles = Mutex(handles)
    }

    /// The whole line with `write(2)`, again after a partial write or a signal. A failed write
    /// (a closed standard error, a full disk) loses the line, never the process: Foundation's
    /// `FileHandle.write(_:)` traps on an error, and its `write(contentsOf:)` costs more per line.
    func write(_ bytes: [UInt8]) {
        handles.withLock { handles in
            for handle in handles {
                bytes.withUnsafeBytes { buffer in
                    var offset = 0
                    while offset < buffer.count {
                        let written = Glibc.write(handle.fileDescriptor, buffer.baseAddress! + offset, buffer.count - offset)
                        if written > 0 {
                            offset += written
                        } else if written < 0, errno == EINTR {
                            continue
                        } else {
                            return
                        }
                    }
                }
            }
        }
    }
}

/// A log line's time, `2026-11-30T19:39:05.408Z`: UTC, milliseconds (rounded down), as
/// `Date.ISO8601FormatStyle(includingFractionalSeconds: true)` writes it.
///
/// By hand: that format style was a seventh of the log handler's time, which is on every
/// request's path (one access line each; docs/performance.md, "JSON answers written by hand").
func logTimestamp(_ date: Date) -> String {
    let time = date.timeIntervalSince1970
    let whole = time.rounded(.down)
    var seconds = time_t(whole)
    let fraction = min(999, Int(((time - whole) * 1_000).rounded(.down)))
    var parts = tm()
    gmtime_r(&seconds, &parts)
    var text: [UInt8] = []
    text.reserveCapacity(24)
    func digits(_ value: Int, _ width: Int) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        while divisor > 0 {
            text.append(UInt8(ascii: "0") + UInt8((value / divisor) % 10))
            divisor /= 10
        }
    }
    digits(Int(parts.tm_year) + 1_900, 4)
    text.append(UInt8(ascii: "-"))
    digits(Int(parts.tm_mon) + 1, 2)
    text.append(UInt8(ascii: "-"))
    digits(Int(parts.tm_mday), 2)
    text.append(UInt8(ascii: "T"))
    digits(Int(parts.tm_hour), 2)
    text.append(UInt8(ascii: ":"))
    digits(Int(parts.tm_min), 2)
    text.append(UInt8(ascii: ":"))
    digits(Int(parts.tm_sec), 2)
    text.append(UInt8(ascii: "."))
    digits(fraction, 3)
    text.append(UInt8(ascii: "Z"))
    return String(decoding: text, as: UTF8.self)
}
