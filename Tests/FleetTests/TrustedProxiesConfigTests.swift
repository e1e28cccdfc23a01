import Testing
@testable import Fleet

/// `api.trustedProxies`: read, checked with line and column, and applied by a reload.
@Suite struct TrustedProxiesConfigTests {
    @Test func addressesAndBlocksAreReadInCanonicalForm() throws {
        let loaded = try ConfigLoader.load(text: """
            api:
              trustedProxies: [127.0.0.1, 10.1.2.3/8, "FD00::/8", "::1"]
            """, file: "fleet.yaml")
        #expect(loaded.config.api.trustedProxies.map(\.description) == ["127.0.0.1/32", "10.0.0.0/8", "fd00::/8", "::1/128"])
        #expect(loaded.warnings.isEmpty)
    }

    @Test func oneStringIsAListOfOneAndTheDefaultIsEmpty() throws {
        let one = try ConfigLoader.load(text: "api: {trustedProxies: 192.168.0.0/16}\n", file: "fleet.yaml")
        #expect(one.config.api.trustedProxies.map(\.description) == ["192.168.0.0/16"])
        #expect(try ConfigLoader.load(text: "fleet: {id: a}\n", file: "fleet.yaml").config.api.trustedProxies.isEmpty)
        #expect(try ConfigLoader.load(text: "api: {trustedProxies: []}\n", file: "fleet.yaml").config.api.trustedProxies.isEmpty)
    }

    @Test func badEntriesAreErrorsAtTheirOwnPosition() {
        let out = rendered("""
            api:
              trustedProxies:
                - 127.0.0.1/32
                - 10.0.0.0/33
                - proxy.internal
                - [10.0.0.1]
                - 010.0.0.1
            """)
        let hint = "is not an IP address or CIDR block (such as 10.0.0.0/8, 192.0.2.7 or fd00::/8); names are not resolved, give the proxy's address"
        #expect(out == [
            "fleet.yaml:4:7: error: api.trustedProxies[1]: '10.0.0.0/33' \(hint)",
            "fleet.yaml:5:7: error: api.trustedProxies[2]: 'proxy.internal' \(hint)",
            "fleet.yaml:6:7: error: api.trustedProxies[3]: expected an IP address or CIDR block, got a list",
            "fleet.yaml:7:7: error: api.trustedProxies[4]: '010.0.0.1' \(hint)",
        ])
    }

    @Test func aMappingIsAnError() {
        let out = rendered("api:\n  trustedProxies: {a: 1}\n")
        #expect(out == ["fleet.yaml:2:19: error: api.trustedProxies: expected a list of IP addresses or CIDR blocks, got a mapping"])
    }

    @Test func trustingEveryPeerIsAWarning() throws {
        let loaded = try ConfigLoader.load(text: "api:\n  trustedProxies:\n    - 0.0.0.0/0\n", file: "fleet.yaml")
        #expect(loaded.warnings.map(\.description).first?.hasPrefix("fleet.yaml:3:7: warning: api.trustedProxies[0]: '0.0.0.0/0' trusts every peer") == true,
                "\(loaded.warnings)")
    }

    @Test func aChangeIsAppliedByAReload() throws {
        let old = try ConfigLoader.load(text: "api: {trustedProxies: [10.0.0.0/8]}\n").config
        let new = try ConfigLoader.load(text: "api: {trustedProxies: [10.0.0.0/8, 127.0.0.1]}\n").config
        #expect(new.changesAppliedAtOnce(from: old) == ["api.trustedProxies"])
        #expect(new.changesNeedingRestart(from: old).isEmpty)
        #expect(FleetConfig.reloadableSettings.contains("api.trustedProxies"))
    }
}
