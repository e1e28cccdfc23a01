import Providers

/// One model to try: where it is and the client that speaks its protocol. The router supplies an
/// ordered list of these (choice first, then fallbacks); ``StreamingTool`` tries them in order.
///
/// A class, immutable: the producer of an open stream passes its target down every async call
/// of an attempt, and each of those frames, kept for as long as the stream is open, held its own
/// 136-byte copy of the struct this was (docs/performance.md, "Memory per open stream, again").
public final class StreamTarget: Sendable {
    public let endpoint: ModelEndpoint
    public let client: any ProviderClient

    public init(endpoint: ModelEndpoint, client: any ProviderClient) {
        self.endpoint = endpoint
        self.client = client
    }

    /// A target whose client is built by `factory` (throws when its key is missing).
    public convenience init(endpoint: ModelEndpoint, factory: ProviderClientFactory) throws {
        self.init(endpoint: endpoint, client: try factory.makeClient(for: endpoint))
    }
}
