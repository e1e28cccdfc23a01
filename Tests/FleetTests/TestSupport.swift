import Foundation
@testable import Fleet

/// `Tests/Fixtures`, found from this file so tests run on any clone.
let fixturesRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

/// The repository root (for `config/` and `migrations/`).
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Loads YAML text and returns the diagnostics it produced (errors thrown, or warnings).
func diagnostics(_ yaml: String, environment: [String: String] = [:]) -> [ConfigDiagnostic] {
    do {
        return try ConfigLoader.load(text: yaml, file: "fleet.yaml", environment: environment).warnings
    } catch let error as ConfigError {
        return error.diagnostics
    } catch {
        return [ConfigDiagnostic(file: "?", line: 0, column: 0, path: "", message: "unexpected \(error)")]
    }
}

/// The rendered diagnostics, one string each.
func rendered(_ yaml: String, environment: [String: String] = [:]) -> [String] {
    diagnostics(yaml, environment: environment).map(\.description)
}
