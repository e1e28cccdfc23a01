import AsyncHTTPClient
import Synchronization

/// The HTTP clients provider calls go out on: one, plus lanes opened as concurrent HTTPS calls to a
/// host need them.
///
/// Why by hand: AsyncHTTPClient keeps one HTTP/2 connection per host and queues every request past
/// the server's `MAX_CONCURRENT_STREAMS` until a stream ends (async-http-client issue #567, no
/// setting for it in 1.x). The providers speak HTTP/2 and their edges commonly allow 100 or so
/// streams per connection, so a fleet's 101st concurrent stream to Anthropic or OpenAI waited for
/// one of the first hundred to finish, or timed out. Each client here has its own pool, so it adds
/// at least one HTTP/2 connection per host (AsyncHTTPClient may keep one per event loop): a call to
/// a host takes the first client with fewer than ``streamsPerConnection`` calls to that host in
/// flight, and a client is made when all are full. Clients made in a burst stay until shutdown
/// (their idle connections close on AsyncHTTPClient's idle timeout).
/// Plain-HTTP hosts (Ollama, a local gateway) always use the first client: AsyncHTTPClient's
/// HTTP/1.1 pool already opens as many connections as needed.
public final class ProviderHTTPClients: Sendable {
    /// The first client: every plain-HTTP call, and HTTPS calls until it is full.
    public let primary: HTTPClient
    /// Calls to one host per client before the next client is used. 100: HTTP/2's recommended
    /// minimum for `MAX_CONCURRENT_STREAMS` (RFC 9113 §6.5.2), and NIO's default.
    public let streamsPerConnection: Int
    private let makeClient: (@Sendable () -> HTTPClient)?
    private let state = Mutex(State())

    private struct State {
        /// Clients after the primary, in the order they were made.
        var extras: [HTTPClient] = []
        /// Calls in flight per host (`host:port`), per client (index 0 is the primary).
        var inFlight: [String: [Int]] = [:]
        var shutDown = false
    }

    /// `makeClient`: how to make another client (configured as `primary` is); nil keeps every call
    /// on `primary` (AsyncHTTPClient's own behaviour).
    public init(primary: HTTPClient, streamsPerConnection: Int = 100, makeClient: (@Sendable () -> HTTPClient)? = nil) {
        self.primary = primary
        self.streamsPerConnection = max(1, streamsPerConnection)
        self.makeClient = makeClient
    }

    /// The client for one call to `url`, and the lease that keeps the call counted until it is
    /// dropped (nil when the call is not counted: plain HTTP, or no lanes).
    func lease(url: String) -> (HTTPClient, ProviderHTTPLease?) {
        guard let makeClient, url.utf8.count > 8, url.prefix(8).lowercased() == "https://" else { return (primary, nil) }
        let key = Self.host(of: url)
        let picked: (HTTPClient, Int)? = state.withLock { state in
            guard !state.shutDown else { return nil }
            var counts = state.inFlight[key] ?? []
            var index = counts.firstIndex { $0 < streamsPerConnection } ?? counts.count
            if index > state.extras.count {
                // Every client is full for this host: one more.
                state.extras.append(makeClient())
                index = state.extras.count
            }
            while counts.count <= index { counts.append(0) }
            counts[index] += 1
            state.inFlight[key] = counts
            return (index == 0 ? primary : state.extras[index - 1], index)
        }
        guard let (client, index) = picked else { return (primary, nil) }
        return (client, ProviderHTTPLease(owner: self, host: key, index: index))
    }

    fileprivate func release(host: String, index: Int) {
        state.withLock { state in
            guard var counts = state.inFlight[host], index < counts.count else { return }
            counts[index] -= 1
            while let last = counts.last, last == 0 { counts.removeLast() }
            state.inFlight[host] = counts.isEmpty ? nil : counts
        }
    }

    /// HTTPS calls counted as in flight, over every host and client.
    public var callsInFlight: Int { state.withLock { $0.inFlight.values.reduce(0) { $0 + $1.reduce(0, +) } } }

    /// How many clients exist, the primary included.
    public var clientCount: Int { state.withLock { $0.extras.count + 1 } }

    /// Shuts every client down, the primary included.
    public func shutdown() async throws {
        let extras = state.withLock { state in
            state.shutDown = true
            return state.extras
        }
        for client in extras { try? await client.shutdown() }
        try await primary.shutdown()
    }

    /// `host[:port]` of an absolute HTTPS URL, lowercased, without user info or the default port
    /// (what AsyncHTTPClient pools connections by).
    static func host(of url: String) -> String {
        let afterScheme = url.range(of: "://").map { url[$0.upperBound...] } ?? url[...]
        var authority = afterScheme.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        if authority.hasSuffix(":443") { authority = authority.dropLast(4) }
        return authority.lowercased()
    }
}

/// One call counted against its client's share of a host, until the call's last reference (the
/// response body or the event stream reading it) is gone.
final class ProviderHTTPLease: Sendable {
    private let owner: ProviderHTTPClients
    private let host: String
    private let index: Int

    init(owner: ProviderHTTPClients, host: String, index: Int) {
        self.owner = owner
        self.host = host
        self.index = index
    }

    deinit {
        owner.release(host: host, index: index)
    }
}
