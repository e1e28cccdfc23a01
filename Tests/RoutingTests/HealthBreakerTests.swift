import FleetSupport
import Foundation
import Routing
import Testing

@Suite("Circuit breaker")
struct HealthBreakerTests {
    let t0 = Date(timeIntervalSince1970: 1_767_225_600)
    let policy = CircuitBreaker.Policy(failureThreshold: 3, cooldown: 30, halfOpenProbes: 1, maxRetryAfter: 600)

    @Test("closed → open after N consecutive failures; a success in between resets the count")
    func opensAfterThreshold() {
        var b = CircuitBreaker(policy: policy)
        b.recordFailure("e1", at: t0)
        b.recordFailure("e2", at: t0)
        b.recordSuccess(at: t0)
        #expect(b.consecutiveFailures == 0)
        b.recordFailure("e1", at: t0)
        b.recordFailure("e2", at: t0)
        #expect(b.state == .closed && b.availability(at: t0) == .available)
        b.recordFailure("e3", at: t0)
        #expect(b.state == .open)
        #expect(b.availability(at: t0.addingTimeInterval(29)) == .blocked(until: t0.addingTimeInterval(30)))
        #expect(b.lastError == "e3")
    }

    @Test("a success of a call begun before the breaker opened does not close it; one begun since does")
    func anOlderSuccessDoesNotCloseIt() {
        var b = CircuitBreaker(policy: policy)
        b.recordFailure("429", at: t0.addingTimeInterval(10), openFor: 60)
        // A stream that began at t0 ends a second after the 429.
        b.recordSuccess(at: t0.addingTimeInterval(11), startedAt: t0)
        #expect(b.state == .open && b.lastSuccessAt == t0.addingTimeInterval(11))
        #expect(b.availability(at: t0.addingTimeInterval(12)) == .blocked(until: t0.addingTimeInterval(70)))
        // A probe after the Retry-After closes it.
        let probe = b.acquire(at: t0.addingTimeInterval(70))
        #expect(probe)
        b.recordSuccess(at: t0.addingTimeInterval(71), startedAt: t0.addingTimeInterval(70))
        #expect(b.state == .closed)
    }

    @Test("open → half-open after the cooldown: one probe passes, a second waits; success closes")
    func halfOpenProbe() {
        var b = CircuitBreaker(policy: policy)
        b.recordFailure("x", at: t0, openFor: 30)
        let ok1 = b.acquire(at: t0.addingTimeInterval(10))
        #expect(!ok1)
        let later = t0.addingTimeInterval(30)
        #expect(b.availability(at: later) == .probe)
        let ok2 = b.acquire(at: later)
        #expect(ok2)
        #expect(b.state == .halfOpen)
        let second = b.acquire(at: later)
        #expect(!second)  // the one probe slot is taken
        b.recordSuccess(at: later.addingTimeInterval(1))
        #expect(b.state == .closed)
        let ok3a = b.acquire(at: later.addingTimeInterval(1)), ok3b = b.acquire(at: later.addingTimeInterval(1))
        let ok3 = ok3a && ok3b
        #expect(ok3)
    }

    @Test("a failed probe opens the breaker again for a full cooldown")
    func failedProbeReopens() {
        var b = CircuitBreaker(policy: policy)
        b.recordFailure("x", at: t0, openFor: 30)
        let later = t0.addingTimeInterval(31)
        let ok4 = b.acquire(at: later)
        #expect(ok4)
        b.recordFailure("still down", at: later)
        #expect(b.state == .open)
        #expect(b.availability(at: later.addingTimeInterval(29)) == .blocked(until: later.addingTimeInterval(30)))
        #expect(b.availability(at: later.addingTimeInterval(30)) == .probe)
    }

    @Test("an unanswered probe frees its slot after the cooldown")
    func probeLeaseExpires() {
        var b = CircuitBreaker(policy: policy)
        b.recordFailure("x", at: t0, openFor: 1)
        let later = t0.addingTimeInterval(1)
        let ok5 = b.acquire(at: later)
        #expect(ok5)
        let ok6 = b.acquire(at: later.addingTimeInterval(29))
        #expect(!ok6)
        let ok7 = b.acquire(at: later.addingTimeInterval(30))
        #expect(ok7)
    }

    @Test("Retry-After is capped by maxRetryAfter; a later open-until is not shortened")
    func retryAfterCap() {
        var b = CircuitBreaker(policy: policy)
        b.recordFailure("429", at: t0, openFor: 86_400)
        #expect(b.openUntil == t0.addingTimeInterval(600))
        b.recordFailure("429 again", at: t0, openFor: 5)
        #expect(b.openUntil == t0.addingTimeInterval(600))
    }

    @Test("monitor: 429 opens the model for Retry-After; 529 opens the whole provider; 400 counts against neither")
    func monitorFailureKinds() {
        let clock = ManualWallClock()
        let monitor = HealthMonitor(configuration: HealthConfiguration(failureThreshold: 3, cooldownSeconds: 30), clock: clock)
        monitor.recordFailure(model: "a", provider: .anthropic, failure: .rateLimited(retryAfter: 12))
        guard case .blocked(let until, let detail) = monitor.availability(model: "a", provider: .anthropic) else {
            Issue.record("model a should be blocked"); return
        }
        #expect(until == clock.now.addingTimeInterval(12))
        #expect(detail.contains("model breaker open until") && detail.contains("rate limited (429), retry after 12s"))
        #expect(monitor.availability(model: "b", provider: .anthropic) == .available)

        monitor.recordFailure(model: "c", provider: .openai, failure: .overloaded(retryAfter: nil))
        guard case .blocked(_, let providerDetail) = monitor.availability(model: "d", provider: .openai) else {
            Issue.record("provider openai should be blocked"); return
        }
        #expect(providerDetail.hasPrefix("provider openai breaker open until"))

        for _ in 0..<5 { monitor.recordFailure(model: "e", provider: .google, failure: .badRequest(status: 400)) }
        #expect(monitor.availability(model: "e", provider: .google) == .available)
        #expect(monitor.snapshot().model("e")?.lastError == "bad request 400")

        clock.advance(by: 12)
        #expect(monitor.availability(model: "a", provider: .anthropic) == .probe(detail: "model breaker half-open: this call is the probe"))
        let snap = monitor.snapshot()
        #expect(snap.model("a")?.state == .open && snap.model("a")?.acceptingCalls == true)
        #expect(snap.provider("openai")?.state == .open && snap.provider("openai")?.acceptingCalls == false)
    }

    @Test("router: a single-model chain is guarded too; open → ROUTER_001, half-open lets one task probe, success closes")
    func singleModelChain() async throws {
        let clock = ManualWallClock()
        let only = ModelConfiguration(name: "only", provider: .openai, model: "gpt")
        let router = ModelRouter(configuration: Seed.configuration([only], health: HealthConfiguration(failureThreshold: 2, cooldownSeconds: 30)),
                                 scorer: FixedScorer(), clock: clock)
        _ = try await router.select(Seed.task(id: "1"))
        await router.recordOutcome(model: "only", success: false, latency: .seconds(1), error: .timeout)
        await router.recordOutcome(model: "only", success: false, latency: .seconds(1), error: .timeout)

        let error = await #expect(throws: RouterError.self) { try await router.select(Seed.task(id: "2")) }
        #expect(error?.code == .modelSelectionFailed)
        #expect(error?.message.contains("only: model breaker open until 2026-01-01T00:00:30Z after timed out") == true)

        clock.advance(by: 30)
        let probe = try await router.select(Seed.task(id: "3"))
        #expect(probe.modelName == "only")
        #expect(probe.reason.contains("half-open"))
        #expect(router.health.snapshot().model("only")?.state == .halfOpen)
        // The probe is in flight: a second task finds no slot, and explain shows the same.
        await #expect(throws: RouterError.self) { try await router.select(Seed.task(id: "4")) }
        await #expect(throws: RouterError.self) { try await router.explain(Seed.task(id: "4")) }

        await router.recordOutcome(model: "only", success: true, latency: .milliseconds(200))
        #expect(router.health.snapshot().model("only")?.state == .closed)
        #expect(try await router.select(Seed.task(id: "5")).modelName == "only")
    }

    @Test("explain does not take the probe slot; select does")
    func explainHasNoSideEffects() async throws {
        let clock = ManualWallClock()
        let only = ModelConfiguration(name: "only", provider: .openai, model: "gpt")
        let router = ModelRouter(configuration: Seed.configuration([only], health: HealthConfiguration(failureThreshold: 1, cooldownSeconds: 10)),
                                 scorer: FixedScorer(), clock: clock)
        await router.recordOutcome(model: "only", success: false, latency: .seconds(1), error: .network)
        clock.advance(by: 10)
        _ = try await router.explain(Seed.task())
        _ = try await router.explain(Seed.task())
        _ = try await router.select(Seed.task())
        await #expect(throws: RouterError.self) { try await router.select(Seed.task()) }
    }

    @Test("a healthy model ranks before a half-open one; beginAttempt guards fallbacks")
    func halfOpenRanksLast() async throws {
        let clock = ManualWallClock()
        let a = ModelConfiguration(name: "a", provider: .openai, model: "a")
        let b = ModelConfiguration(name: "b", provider: .google, model: "b")
        let router = ModelRouter(configuration: Seed.configuration([a, b], strategy: .cost, health: HealthConfiguration(failureThreshold: 1, cooldownSeconds: 10)),
                                 scorer: FixedScorer(), clock: clock)
        await router.recordOutcome(model: "a", success: false, latency: .seconds(1), error: .network)
        #expect(!router.beginAttempt(model: "a"))
        clock.advance(by: 10)
        let s = try await router.select(Seed.task())
        #expect(s.modelName == "b")
        #expect(s.fallbackModels == ["a"])
        #expect(router.beginAttempt(model: "a"))   // the fallback takes the probe
        #expect(!router.beginAttempt(model: "a"))  // and only one
        #expect(!router.beginAttempt(model: "nope"))
    }

    @Test("router off: an open breaker is reported but does not refuse the default model")
    func routerOffBreaker() async throws {
        let clock = ManualWallClock()
        let router = ModelRouter(configuration: Seed.configuration(defaultModel: "claude-haiku-4", health: HealthConfiguration(failureThreshold: 1)),
                                 scorer: FixedScorer(), clock: clock)
        await router.recordOutcome(model: "claude-haiku-4", success: false, latency: .seconds(1), error: .rateLimited(retryAfter: 60))
        let s = try await router.select(Seed.task(), useRouter: false)
        #expect(s.modelName == "claude-haiku-4")
        #expect(s.reason.contains("model breaker open until"))
        #expect(s.trace.candidates[0].notes[0].hasSuffix("not enforced with the router off"))
    }

    @Test("models status for GET /v1/models carries breaker and stats")
    func modelStatuses() async throws {
        let router = ModelRouter(configuration: Seed.configuration(), scorer: FixedScorer(), clock: ManualWallClock())
        await router.recordOutcome(model: "claude-opus-4", success: false, latency: .seconds(2), error: .authentication)
        let statuses = router.modelStatuses()
        #expect(statuses.map(\.name) == ["claude-opus-4", "claude-sonnet-4.5", "claude-haiku-4"])
        #expect(statuses[0].breaker?.consecutiveFailures == 1)
        #expect(statuses[0].breaker?.lastError == "authentication failed")
        #expect(statuses[0].providerBreaker?.name == "anthropic")
        #expect(statuses[0].stats?.failures == 1)
        #expect(statuses[1].breaker == nil && statuses[1].stats == nil)
    }
}
