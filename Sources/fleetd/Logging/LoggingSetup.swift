import Fleet
import FleetSupport
import Foundation
import Logging

/// Installs fleetd's log handler once per process, from the `logging` section.
enum LoggingSetup {
    /// The level every handler logs at; a reload's `logging.level` replaces it.
    static let level = LiveSetting<Logger.Level>(.info)

    static func bootstrap(_ logging: LoggingSection, dataDirectory: URL) throws {
        var handles: [FileHandle] = []
        if logging.outputs.contains(.console) { handles.append(.standardError) }
        if logging.outputs.contains(.file) {
            let url = logging.file.hasPrefix("/") ? URL(fileURLWithPath: logging.file) : dataDirectory.appendingPathComponent(logging.file)
            if !FileManager.default.fileExists(atPath: url.path) {
                _ = FileManager.default.createFile(atPath: url.path, contents: nil) // checked below, by opening it
            }
            guard let handle = FileHandle(forWritingAtPath: url.path) else {
                throw UserError("cannot open the log file \(url.path) for writing")
            }
            handle.seekToEndOfFile()
            handles.append(handle)
        }
        let sink = LogSink(handles: handles)
        level.set(logging.level.swiftLogLevel)
        let json = logging.format == .json
        LoggingSystem.bootstrap({ label, provider -> any LogHandler in
            json
                ? JSONLogHandler(label: label, sink: sink, metadataProvider: provider)
                : TextLogHandler(metadataProvider: provider, label: label, sink: sink)
        }, metadataProvider: nil)
    }
}

extension LoggingSection.Level {
    var swiftLogLevel: Logger.Level {
        switch self {
        case .trace: .trace
        case .debug: .debug
        case .info: .info
        case .notice: .notice
        case .warning, .warn: .warning
        case .error: .error
        case .critical: .critical
        }
    }
}
