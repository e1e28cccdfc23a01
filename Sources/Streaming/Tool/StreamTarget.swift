import Providers

/// One model to try: where it is and the client that speaks its protocol. The router supplies an
/// ordered list of these (choice first, then fallbacks); ``StreamingTool`` tries them in order.
public struct StreamTarget: Sendable {
    public var endpoint: ModelEndpoint
    public var client: any ProviderClient

    public init(endpoint: ModelEndpoint, client: any ProviderClient) {
        self.endpoint = endpoint
        self.client = client
    }

    /// A target whose client is built by `factory` (throws when its key is missing).
    public init(endpoint: ModelEndpoint, factory: ProviderClientFactory) throws {
        self.init(endpoint: endpoint, client: try factory.makeClient(for: endpoint))
    }
}
