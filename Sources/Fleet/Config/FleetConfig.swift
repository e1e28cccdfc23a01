import Agents
import Streaming

/// The whole v1.0.5 configuration, composed from the components' own configurations.
public struct FleetConfig: Sendable {
    public init() {}
}
