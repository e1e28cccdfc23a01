import Foundation
import Testing
@testable import Fleet

/// Unleash's own client-specification cases, read as they are, through fleetd's evaluator.
@Suite struct UnleashSpecTests {
    struct SpecFile: Decodable {
        struct State: Decodable { var features: [UnleashFeature] }
        struct Context: Decodable {
            var userId: String?
            var sessionId: String?
            var remoteAddress: String?
            var properties: [String: String]?

            var flattened: [String: String] {
                var result = properties ?? [:]
                if let userId { result["userId"] = userId }
                if let sessionId { result["sessionId"] = sessionId }
                if let remoteAddress { result["remoteAddress"] = remoteAddress }
                return result
            }
        }
        struct ToggleCase: Decodable {
            var description: String
            var context: Context
            var toggleName: String
            var expectedResult: Bool
        }
        struct VariantExpectation: Decodable {
            var name: String
            var enabled: Bool
            var feature_enabled: Bool?
            var payload: UnleashFeature.Payload?
        }
        struct VariantCase: Decodable {
            var description: String
            var context: Context
            var toggleName: String
            var expectedResult: VariantExpectation
        }
        var name: String
        var state: State
        var tests: [ToggleCase]?
        var variantTests: [VariantCase]?
    }

    static let files = [
        "03-gradual-rollout-user-id-strategy.json",
        "04-gradual-rollout-session-id-strategy.json",
        "10-flexible-rollout-strategy.json",
        "12-custom-stickiness.json",
    ]

    func load(_ file: String) throws -> SpecFile {
        let data = try Data(contentsOf: fixturesRoot.appendingPathComponent("unleash-spec/\(file)"))
        return try JSONDecoder().decode(SpecFile.self, from: data)
    }

    @Test(arguments: files)
    func toggleCases(file: String) throws {
        let spec = try load(file)
        let cases = spec.tests ?? []
        #expect(!cases.isEmpty)
        for testCase in cases {
            let feature = try #require(spec.state.features.first { $0.name == testCase.toggleName })
            #expect(feature.isEnabled(testCase.context.flattened) == testCase.expectedResult, "\(file): \(testCase.description)")
        }
    }

    @Test func variantCases() throws {
        let spec = try load("12-custom-stickiness.json")
        let cases = try #require(spec.variantTests)
        #expect(cases.count == 4)
        for testCase in cases {
            let feature = try #require(spec.state.features.first { $0.name == testCase.toggleName })
            let variant = feature.variant(testCase.context.flattened)
            #expect(variant.name == testCase.expectedResult.name, "\(testCase.description)")
            #expect(variant.enabled == testCase.expectedResult.enabled)
            #expect(variant.payload == testCase.expectedResult.payload)
            if let featureEnabled = testCase.expectedResult.feature_enabled {
                #expect(variant.featureEnabled == featureEnabled)
            }
        }
    }

    /// fleetd's own rollout is Unleash's flexibleRollout: the same buckets for the same ids.
    @Test func fleetRolloutMatchesFlexibleRollout() throws {
        let spec = try load("10-flexible-rollout-strategy.json")
        let unleash = try #require(spec.state.features.first { $0.name == "Feature.flexibleRollout.userId.55" })
        let flags = FeatureFlags(global: ["streaming": FlagSetting(enabled: true, rollout:
            Rollout(percentage: 55, stickiness: "userId", groupId: "Feature.flexibleRollout.userId.55"))])
        for id in 0..<500 {
            let properties = ["userId": String(id)]
            #expect(flags.isEnabled("streaming", in: FlagContext(properties: properties)) == unleash.isEnabled(properties))
        }
    }

    @Test func murmurKnownVectors() {
        // Reference values of MurmurHash3_x86_32 (seed 0 unless stated).
        #expect(Murmur3.hash32("".utf8) == 0)
        #expect(Murmur3.hash32("".utf8, seed: 1) == 0x514E_28B7)
        #expect(Murmur3.hash32("hello".utf8) == 0x248B_FA47)
        #expect(Murmur3.hash32("The quick brown fox jumps over the lazy dog".utf8) == 0x2E4F_F723)
    }
}
