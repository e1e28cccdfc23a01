import Agents
import Testing
@testable import Fleet

@Suite struct FeatureFlagTests {
    let flags = FeatureFlags(
        global: ["streaming": .off, "multiModelRouter": .on],
        agentTypes: ["coder": ["streaming": .on], "reviewer": ["multiModelRouter": .off]],
        environments: ["production": ["streaming": .off], "staging": ["multiModelRouter": .off]]
    )

    @Test func resolutionOrderEnvironmentThenAgentTypeThenGlobal() {
        #expect(flags.evaluate("streaming", in: FlagContext()) == FlagDecision(name: "streaming", enabled: false, rule: "global: off"))
        #expect(flags.evaluate("streaming", in: FlagContext(agentType: "coder")).rule == "agent type 'coder': on")
        #expect(flags.evaluate("streaming", in: FlagContext(agentType: "coder", environment: "production")).rule == "environment 'production': off")
        // An environment without a setting for this flag falls through to the agent type.
        #expect(flags.evaluate("streaming", in: FlagContext(agentType: "coder", environment: "staging")).enabled)
        #expect(!flags.isEnabled("multiModelRouter", in: FlagContext(agentType: "reviewer")))
        #expect(flags.isEnabled("multiModelRouter", in: FlagContext(agentType: "unknown-type")))
    }

    @Test func unknownAndUnsetFlagsAreOff() {
        #expect(flags.evaluate("teleport", in: FlagContext()) == FlagDecision(name: "teleport", enabled: false, rule: "unknown flag: off"))
        #expect(flags.evaluate("multiRegion", in: FlagContext()) == FlagDecision(name: "multiRegion", enabled: false, rule: "not set: off (default)"))
    }

    @Test func rolloutIsStickyAndNearItsPercentage() {
        let flags = FeatureFlags(global: ["streaming": FlagSetting(enabled: true, rollout: Rollout(percentage: 25, stickiness: "tenantId"))])
        var on = 0
        for tenant in 0..<4_000 {
            let context = FlagContext(properties: ["tenantId": "tenant-\(tenant)"])
            let first = flags.isEnabled("streaming", in: context)
            for _ in 0..<3 { #expect(flags.isEnabled("streaming", in: context) == first) }
            if first { on += 1 }
        }
        #expect((850...1_150).contains(on), "25% of 4000 tenants should be about 1000, got \(on)")
    }

    @Test func rolloutExplainsItsBucket() {
        let flags = FeatureFlags(global: ["streaming": FlagSetting(enabled: true, rollout: Rollout(percentage: 50, stickiness: "tenantId", groupId: "g"))])
        let bucket = RolloutBucket.normalized(id: "acme", groupId: "g")
        let decision = flags.evaluate("streaming", in: FlagContext(properties: ["tenantId": "acme"]))
        #expect(decision.enabled == (bucket <= 50))
        #expect(decision.rule == "global: rollout 50% by tenantId: bucket \(bucket) \(bucket <= 50 ? "<=" : ">") 50")
        let missing = flags.evaluate("streaming", in: FlagContext())
        #expect(missing == FlagDecision(name: "streaming", enabled: false, rule: "global: rollout 50% by tenantId: no tenantId in context"))
    }

    @Test func defaultStickinessUsesUserThenSession() {
        let rollout = Rollout(percentage: 50)
        let byUser = rollout.evaluate(flag: "f", properties: ["userId": "u1", "sessionId": "s1"])
        #expect(byUser.explanation.contains("by userId"))
        let bySession = rollout.evaluate(flag: "f", properties: ["sessionId": "s1"])
        #expect(bySession.explanation.contains("by sessionId"))
        #expect(rollout.evaluate(flag: "f", properties: [:]).explanation.contains("at random"))
    }

    /// A task carries custom stickiness fields (`properties`), and an empty id is no id: `default`
    /// stickiness goes on to the session, as Unleash does, instead of bucketing every user whose
    /// client sends `user: ""` together.
    @Test func aTaskCarriesCustomFieldsAndAnEmptyIdIsNone() {
        var task = AgentTask(prompt: "p", tenantId: "", userId: "", sessionId: "s1")
        task.properties = ["region": "eu", "userId": "spoofed", "blank": ""]
        let properties = task.stickinessProperties
        #expect(properties["region"] == "eu" && properties["blank"] == nil)
        #expect(properties["userId"] == nil && properties["tenantId"] == nil, "the task's own (empty) fields win over properties")
        #expect(Rollout(percentage: 50).evaluate(flag: "f", properties: properties).explanation.contains("by sessionId"))
        #expect(Rollout(percentage: 100, stickiness: "region").evaluate(flag: "f", properties: properties).enabled)
    }

    @Test func zeroAndHundredPercent() {
        for id in 0..<200 {
            let props = ["tenantId": "\(id)"]
            #expect(!Rollout(percentage: 0, stickiness: "tenantId").evaluate(flag: "f", properties: props).enabled)
            #expect(Rollout(percentage: 100, stickiness: "tenantId").evaluate(flag: "f", properties: props).enabled)
        }
    }

    @Test func flagsFromYAML() throws {
        let config = try ConfigLoader.load(text: """
        features:
          multiModelRouter: true
          streaming: {enabled: true, rollout: {percentage: 25, stickiness: tenantId, groupId: s}}
        featureOverrides:
          agentType:
            reviewer: {multiModelRouter: false}
          environment:
            production: {streaming: false}
        """).config
        #expect(config.features.global["multiModelRouter"] == .on)
        #expect(config.features.global["streaming"] == FlagSetting(enabled: true, rollout: Rollout(percentage: 25, stickiness: "tenantId", groupId: "s")))
        #expect(config.features.global["multiRegion"] == .off)
        #expect(config.features.agentTypes["reviewer"]?["multiModelRouter"] == .off)
        #expect(config.features.environments["production"]?["streaming"] == .off)
    }
}

@Suite struct AgentTypeFlagTests {
    @Test func anAgentTypesOwnFeaturesOverrideGlobalButNotFeatureOverrides() throws {
        let config = try ConfigLoader.load(text: """
        features: {streaming: true, multiModelRouter: true}
        agents:
          - type: reviewer
            config: {systemPrompt: Review carefully., features: {streaming: false, multiModelRouter: false}}
        featureOverrides:
          agentType: {reviewer: {multiModelRouter: true}}
        """).config
        let reviewer = FlagContext(agentType: "reviewer")
        #expect(config.features.evaluate("streaming", in: reviewer) == FlagDecision(name: "streaming", enabled: false, rule: "agent type 'reviewer': off"))
        #expect(config.features.isEnabled("multiModelRouter", in: reviewer))
        #expect(config.features.isEnabled("streaming", in: FlagContext(agentType: "other")))
    }

    @Test func anAgentTypesFeaturesAreValidated() {
        let out = rendered("agents:\n  - type: coder\n    config: {features: {streamin: true}}\n")
        #expect(out == ["fleet.yaml:3:25: error: agents[0].config.features.streamin: unknown feature flag 'streamin' (did you mean 'streaming'?)"])
    }
}
