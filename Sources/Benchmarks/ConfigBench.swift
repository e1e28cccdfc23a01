import Fleet
import Foundation

/// Config load + validate time for `config/fleet.yaml`, and flag evaluations per second with a
/// percentage rollout.
struct ConfigBench: BenchSuite {
    let name = "config"
    let summary = "load+validate config/fleet.yaml; flag evaluations/s with rollout"

    func run(scale: Double) async throws {
        let path = "config/fleet.yaml"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw BenchError(description: "run from the repository root: \(path) not found")
        }
        let loads = max(20, Int(500 * scale))
        var times: [Double] = []
        for _ in 0..<loads {
            let start = ContinuousClock.now
            _ = try ConfigLoader.load(text: text, file: path)
            times.append(Self.milliseconds(ContinuousClock.now - start))
        }
        times.sort()
        print("config load+validate (\(text.utf8.count) bytes, \(loads) runs): p50 \(Self.format(times[times.count / 2])) ms, p99 \(Self.format(times[times.count * 99 / 100])) ms, mean \(Self.format(times.reduce(0, +) / Double(times.count))) ms")

        let flags = FeatureFlags(
            global: ["streaming": FlagSetting(enabled: true, rollout: Rollout(percentage: 25, stickiness: "tenantId")),
                     "multiModelRouter": .on],
            agentTypes: ["coder": ["multiModelRouter": .off]],
            environments: ["production": ["multiRegion": .on]]
        )
        let tenants = (0..<10_000).map { "tenant-\($0)" }
        let evaluations = max(100_000, Int(5_000_000 * scale))
        var on = 0
        let start = ContinuousClock.now
        for index in 0..<evaluations {
            let context = FlagContext(agentType: "coder", environment: "production", properties: ["tenantId": tenants[index % tenants.count]])
            if flags.isEnabled("streaming", in: context) { on += 1 }
        }
        let seconds = Self.milliseconds(ContinuousClock.now - start) / 1_000
        print("flag evaluations with a 25% tenantId rollout: \(evaluations) in \(Self.format(seconds)) s = \(Int(Double(evaluations) / seconds)) evaluations/s (\(Self.format(Double(on) * 100 / Double(evaluations)))% on)")
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1_000 + Double(duration.components.attoseconds) / 1e15
    }

    static func format(_ value: Double) -> String {
        String(Double(Int(value * 1_000)) / 1_000)
    }
}
