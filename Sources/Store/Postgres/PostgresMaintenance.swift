import FleetSupport
import ServiceLifecycle

/// Runs ``PostgresCostTracker/maintain()`` every third of the reservation lease: leases renewed,
/// refused settlements written when the store is back, expired reservations of dead instances
/// billed (by one instance at a time).
public struct PostgresMaintenance: Service {
    let costs: PostgresCostTracker

    public init(costs: PostgresCostTracker) {
        self.costs = costs
    }

    public func run() async throws {
        let interval = costs.store.configuration.reservationLease / 3
        let costs = self.costs
        await runPeriodically(every: interval, tickFirst: false) { await costs.maintain() }
    }
}
