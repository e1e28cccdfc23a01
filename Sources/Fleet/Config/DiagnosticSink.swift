import Yams

/// Collects diagnostics while one config document is read.
///
/// Reading is synchronous and single-threaded, so a plain class shared by the readers of one
/// document is enough; it never crosses a concurrency boundary (it is deliberately not Sendable).
final class DiagnosticSink {
    let file: String
    private(set) var diagnostics: [ConfigDiagnostic] = []

    init(file: String) {
        self.file = file
    }

    func error(_ path: String, at mark: Mark?, _ message: String) {
        add(.error, path, mark, message)
    }

    func warning(_ path: String, at mark: Mark?, _ message: String) {
        add(.warning, path, mark, message)
    }

    /// A problem with an environment variable: it has no place in the file.
    func environmentError(_ variable: String, _ message: String) {
        diagnostics.append(ConfigDiagnostic(file: "environment", line: 0, column: 0, severity: .error, path: variable, message: message))
    }

    private func add(_ severity: ConfigDiagnostic.Severity, _ path: String, _ mark: Mark?, _ message: String) {
        diagnostics.append(ConfigDiagnostic(
            file: file, line: mark?.line ?? 0, column: mark?.column ?? 0,
            severity: severity, path: path, message: message
        ))
    }

    var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    /// Diagnostics sorted by position, environment problems last.
    var sorted: [ConfigDiagnostic] {
        diagnostics.enumerated().sorted { a, b in
            let la = a.element.line == 0 ? Int.max : a.element.line
            let lb = b.element.line == 0 ? Int.max : b.element.line
            if la != lb { return la < lb }
            if a.element.column != b.element.column { return a.element.column < b.element.column }
            return a.offset < b.offset
        }.map(\.element)
    }
}
