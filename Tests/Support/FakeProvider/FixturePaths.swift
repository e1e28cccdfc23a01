import Foundation

/// Locates the recorded transcripts in `Tests/Fixtures`, relative to this source file,
/// so tests find them on any clone without bundling resources.
public enum FixturePaths {
    /// `Tests/Fixtures`.
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent() // FakeProvider
        .deletingLastPathComponent() // Support
        .deletingLastPathComponent() // Tests
        .appendingPathComponent("Fixtures")

    /// The bytes of `Tests/Fixtures/<relativePath>`.
    public static func data(_ relativePath: String) throws -> Data {
        try Data(contentsOf: root.appendingPathComponent(relativePath))
    }
}
