/// One problem found in a config file, with where it is.
///
/// Printed as `PATH:LINE:COLUMN: error: MESSAGE`, the shape compilers use, so editors can jump to it.
public struct ConfigDiagnostic: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable {
        case error, warning
    }

    /// The file (or `<env>` for an environment variable, `<input>` for text without a file).
    public var file: String
    /// 1-based line; 0 when the problem has no place in the file (an environment variable).
    public var line: Int
    /// 1-based column, counted in Unicode scalars as libyaml does.
    public var column: Int
    public var severity: Severity
    /// The config path, e.g. `routing.models[2].complexityRange.min`, or the variable name.
    public var path: String
    public var message: String

    public init(file: String, line: Int, column: Int, severity: Severity = .error, path: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.severity = severity
        self.path = path
        self.message = message
    }

    public var description: String {
        let place = line > 0 ? "\(file):\(line):\(column)" : file
        let subject = path.isEmpty ? "" : "\(path): "
        return "\(place): \(severity.rawValue): \(subject)\(message)"
    }
}

/// A config that could not be loaded: every error found, in file order.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    /// Stable code for logs and metrics.
    public static let code = "CONFIG_001"

    public var diagnostics: [ConfigDiagnostic]

    public init(diagnostics: [ConfigDiagnostic]) {
        self.diagnostics = diagnostics
    }

    /// Only the errors (warnings do not stop a load).
    public var errors: [ConfigDiagnostic] { diagnostics.filter { $0.severity == .error } }

    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }

    /// Suitable for a metric label.
    public var shortDescription: String { "invalid_config" }
}
