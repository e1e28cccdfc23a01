import Testing
@testable import Fleet

@Suite struct FlagConfigValidationTests {
    /// An empty stickiness names no context field: the rollout would be off for everyone.
    @Test func anEmptyStickinessIsAnErrorWithItsPlace() {
        let out = rendered("""
        agents: [{type: general}]
        features:
          streaming: {enabled: true, rollout: {percentage: 50, stickiness: ""}}
        """)
        #expect(out.contains { $0.hasPrefix("fleet.yaml:3:") && $0.contains("error: features.streaming.rollout.stickiness: 'stickiness' must not be empty") },
                "\(out)")
    }

    @Test func anOverrideForAnAgentTypeNobodyRunsIsAWarningWithASuggestion() {
        let out = rendered("""
        agents:
          - {type: reviewer}
        featureOverrides:
          agentType:
            revewer: {streaming: true}
        """)
        #expect(out.contains("fleet.yaml:5:5: warning: featureOverrides.agentType.revewer: 'revewer' names no agent type in agents, "
                + "so its overrides apply to no task (did you mean 'reviewer'?)"), "\(out)")
    }
}
