import Foundation
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

    func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?,
             source: String, file: String, function: String, line: UInt) {
        let merged = mergedMetadata(metadata, metadataProvider, explicit)
        var object: [String: Any] = [
            "ts": logTimestampStyle.format(Date()),
            "level": level.rawValue,
            "label": label,
            "msg": message.description,
        ]
        for (key, value) in merged { object[key] = value.jsonValue }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        sink.write(data + Data("\n".utf8))
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

    func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?,
             source: String, file: String, function: String, line: UInt) {
        let merged = mergedMetadata(metadata, metadataProvider, explicit)
        let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let line = "\(logTimestampStyle.format(Date())) \(level.rawValue) \(label): \(message)\(fields.isEmpty ? "" : " " + fields)\n"
        sink.write(Data(line.utf8))
    }
}

/// The handler's metadata, then the provider's, then the call's: later ones win.
private func mergedMetadata(_ own: Logger.Metadata, _ provider: Logger.MetadataProvider?, _ explicit: Logger.Metadata?) -> Logger.Metadata {
    var merged = own
    if let provided = provider?.get() { merged.merge(provided) { $1 } }
    if let explicit { merged.merge(explicit) { $1 } }
    return merged
}

/// Where log lines go: standard error and/or a file, written whole under a lock so lines from
/// concurrent tasks never interleave.
final class LogSink: Sendable {
    private let handles: Mutex<[FileHandle]>

    init(handles: [FileHandle]) {
        self.handles = Mutex(handles)
    }

    func write(_ data: Data) {
        handles.withLock { handles in
            for handle in handles { handle.write(data) }
        }
    }
}

extension Logger.MetadataValue {
    var jsonValue: Any {
        switch self {
        case .string(let value): return value
        case .stringConvertible(let value): return value.description
        case .array(let values): return values.map(\.jsonValue)
        case .dictionary(let values): return values.mapValues(\.jsonValue)
        }
    }
}

/// Timestamps for log lines: a Sendable value type, so one shared instance is safe.
let logTimestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
