import FleetSupport
import Fleet
import Foundation
import Logging
import ServiceLifecycle

/// Applies every new config to the fleet manager.
struct ConfigFollowerService: Service {
    let manager: FleetManager

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            await manager.followConfigChanges()
        }
    }
}

/// Every `fleet.heartbeatInterval`, checks every agent and replaces hung ones.
struct HeartbeatService: Service {
    let manager: FleetManager

    func run() async throws {
        let manager = self.manager
        await runPeriodically(every: { .milliseconds(await manager.config.fleet.heartbeatInterval) }) {
            await manager.checkAgents()
        }
    }
}
