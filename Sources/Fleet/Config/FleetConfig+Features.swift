import Foundation
import Yams

// `features` and `featureOverrides`: the feature flags and where they differ.
//
//   features:
//     multiModelRouter: false
//     streaming: {enabled: true, rollout: {percentage: 25, stickiness: tenantId}}
//   featureOverrides:
//     agentType:   {test-generator: {streaming: false}}
//     environment: {production: {multiModelRouter: true}}

extension FleetConfig {
    static func decodeFeatures(_ top: inout MappingReader) -> FeatureFlags {
        var flags = FeatureFlags.allOff
        if let features = top.mapping("features") {
            flags.global.merge(decodeFlagMap(features), uniquingKeysWith: { $1 })
        }
        if var overrides = top.mapping("featureOverrides") {
            flags.agentTypes = decodeOverrideLevel(&overrides, "agentType")
            flags.environments = decodeOverrideLevel(&overrides, "environment")
            overrides.finish()
        }
        return flags
    }

    private static func decodeOverrideLevel(_ overrides: inout MappingReader, _ key: String) -> [String: [String: FlagSetting]] {
        guard let level = overrides.mapping(key) else { return [:] }
        var result: [String: [String: FlagSetting]] = [:]
        for entry in level.entries {
            guard let flags = MappingReader(entry.value, path: level.child(entry.key), sink: level.sink) else { continue }
            result[entry.key] = decodeFlagMap(flags)
        }
        return result
    }

    /// A mapping of flag name → boolean or `{enabled, rollout}`; unknown flag names are errors.
    static func decodeFlagMap(_ reader: MappingReader) -> [String: FlagSetting] {
        var result: [String: FlagSetting] = [:]
        for entry in reader.entries {
            let path = reader.child(entry.key)
            guard FeatureFlags.known.contains(entry.key) else {
                var message = "unknown feature flag '\(entry.key)'; known flags: \(FeatureFlags.known.joined(separator: ", "))"
                if let near = Suggestion.closest(to: entry.key, in: FeatureFlags.known) {
                    message = "unknown feature flag '\(entry.key)' (did you mean '\(near)'?)"
                }
                reader.sink.error(path, at: entry.keyMark, message)
                continue
            }
            if let setting = decodeFlagSetting(entry.value, path: path, sink: reader.sink) {
                result[entry.key] = setting
            }
        }
        return result
    }

    static func decodeFlagSetting(_ node: Node, path: String, sink: DiagnosticSink) -> FlagSetting? {
        if node.tagName == .bool, let enabled = node.bool {
            return FlagSetting(enabled: enabled)
        }
        guard case .mapping = node, var r = MappingReader(node, path: path, sink: sink) else {
            sink.error(path, at: node.mark, "expected true, false or {enabled, rollout}, got \(node.yamlDescription)")
            return nil
        }
        var setting = FlagSetting(enabled: r.bool("enabled", default: true))
        if var rollout = r.mapping("rollout") {
            let percentage = rollout.int("percentage", in: 0...100)
            if percentage == nil, rollout.keyMark("percentage") == nil {
                sink.error(rollout.path, at: rollout.mark, "a rollout needs a 'percentage' (0 to 100)")
            }
            let stickiness = rollout.string("stickiness", default: Stickiness.defaultName)
            if stickiness.trimmingCharacters(in: .whitespaces).isEmpty {
                // An empty field is in no context: the rollout would be off for everyone.
                sink.error(rollout.child("stickiness"), at: rollout.keyMark("stickiness") ?? rollout.mark,
                           "'stickiness' must not be empty (it would turn the flag off for everyone); "
                               + "give a context field such as userId or tenantId, '\(Stickiness.defaultName)' or '\(Stickiness.randomName)'")
            }
            let groupId = rollout.string("groupId")
            rollout.finish()
            setting.rollout = Rollout(percentage: percentage ?? 0, stickiness: stickiness, groupId: groupId)
        }
        r.finish()
        return setting
    }
}
