import FakeProvider
import Fleet
import Foundation
import Testing

/// An environment variable that overrides a value the file sets otherwise is said, once per load
/// (start-up, then every reload): before, an operator's edit of such a value was taken at every
/// reload without a word and changed nothing. The variable and the setting are named, never a value.
@Suite struct ConfigReloaderEnvironmentTests {
    static let yaml = """
        fleet: {id: env-test, maxAgents: 3}
        agents: [{type: general, count: 1}]
        api: {host: 127.0.0.1, port: 0, rateLimit: {windowMs: 60000, max: 5}}
        security: {apiKey: file-secret-value}
        """

    /// RATE_LIMIT_MAX and API_KEY override what the file sets; MAX_AGENTS says what the file says;
    /// LOG_LEVEL sets what the file leaves out.
    static let environment = ["RATE_LIMIT_MAX": "9", "API_KEY": "env-secret-value", "MAX_AGENTS": "3", "LOG_LEVEL": "debug"]

    @Test func theLoadNamesEachVariableThatOverridesTheFile() throws {
        let loaded = try ConfigLoader.load(text: Self.yaml, environment: Self.environment)
        #expect(loaded.config.api.rateLimit.max == 9, "the environment still wins")
        #expect(loaded.environmentOverrides == [
            EnvironmentOverride(variable: "RATE_LIMIT_MAX", setting: "api.rateLimit.max"),
            EnvironmentOverride(variable: "API_KEY", setting: "security.apiKey"),
        ])
        let none = try ConfigLoader.load(text: Self.yaml, environment: ["MAX_AGENTS": "3", "RATE_LIMIT_MAX": "5", "LOG_LEVEL": "debug"])
        #expect(none.environmentOverrides.isEmpty, "the same value as the file's, or a setting the file leaves out")
    }

    @Test func startUpAndEveryReloadLogTheOverridesOnceByName() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reloader-env-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("fleet.yaml")
        try Self.yaml.write(to: file, atomically: true, encoding: .utf8)
        let log = LogCapture()
        let reloader = try ConfigReloader(loaded: try ConfigLoader.load(path: file.path, environment: Self.environment),
                                          environment: Self.environment, logger: log.logger)
        func overrideLines() -> [String] { log.all.filter { $0.contains("an environment variable overrides the config file") } }

        let atStart = overrideLines()
        #expect(atStart.count == 2, "\(log.all)")
        #expect(atStart.contains { $0.hasPrefix("notice") && $0.contains("RATE_LIMIT_MAX") && $0.contains("api.rateLimit.max") && $0.contains(file.path) },
                "\(atStart)")
        #expect(atStart.contains { $0.contains("API_KEY") && $0.contains("security.apiKey") }, "\(atStart)")

        // The operator raises the limit in the file: the reload says the environment still wins.
        try Self.yaml.replacingOccurrences(of: "max: 5", with: "max: 50").write(to: file, atomically: true, encoding: .utf8)
        let outcome = try await reloader.reload()
        #expect(outcome.changed)
        #expect(await reloader.snapshot.config.api.rateLimit.max == 9)
        #expect(overrideLines().count == 4, "once more for this load: \(log.all)")
        for line in log.all {
            #expect(!line.contains("env-secret-value") && !line.contains("file-secret-value"), "a secret in the log: \(line)")
        }
    }
}
