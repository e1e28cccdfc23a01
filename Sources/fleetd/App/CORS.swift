import Fleet
import Foundation
import FleetSupport
import HTTPTypes
import Hummingbird

/// `api.cors`, read on every request so a reload applies at once: `true` (or `["*"]`) allows any
/// origin, a list allows those origins (answered with the request's own origin), `false` or an
/// empty list sends no CORS headers. The headers themselves are Hummingbird's `CORSMiddleware`;
/// this only chooses, per request, whether and how it applies.
struct LiveCORSMiddleware<Context: RequestContext>: RouterMiddleware {
    let api: LiveSetting<APISection>

    private static func middleware(_ allowOrigin: CORSMiddleware<Context>.AllowOriginExtended) -> CORSMiddleware<Context> {
        CORSMiddleware(
            allowOrigin: allowOrigin,
            // A browser MCP client must read the session id the initialize answer gives, and
            // send it back; a browser SDK reads fleetd's facts about an answer.
            allowHeaders: [.accept, .authorization, .contentType, .origin, .cacheControl] + corsExtraAllowedHeaders.map { HTTPField.Name($0)! },
            allowMethods: [.get, .post, .put, .delete, .head, .options],
            exposedHeaders: [corsExposedHeaders]
        )
    }

    /// Whether a browser page from `origin` may make a request that changes something (runs a
    /// task, changes a flag). A page's cross-origin POST needs no preflight when its body is
    /// plain text, so without this any web page a user opens could run paid tasks on a fleetd
    /// on their machine that needs no key (or, through DNS rebinding, one on their network):
    /// allowed are fleetd's own pages (the dashboard: the origin is the request's host), loopback
    /// pages (a developer's app on localhost), and the origins `api.cors` lists. Clients that are
    /// not browsers send no `Origin` and are not concerned.
    static func mayChangeState(origin: String, host: String?, allowed: [String]) -> Bool {
        if allowed.contains("*") || allowed.contains(origin) { return true }
        guard let url = URL(string: origin), var originHost = url.host?.lowercased() else { return false }
        if originHost.hasPrefix("["), originHost.hasSuffix("]") { originHost = String(originHost.dropFirst().dropLast()) }
        if ["localhost", "127.0.0.1", "::1"].contains(originHost) { return true }
        guard let host = host?.lowercased() else { return false }
        let shown = originHost.contains(":") ? "[\(originHost)]" : originHost
        return host == (url.port.map { "\(shown):\($0)" } ?? shown)
    }

    /// Hummingbird's middleware sends `Access-Control-Expose-Headers` only on the preflight's
    /// answer, where the Fetch standard ignores it; a browser reads it from the actual response.
    private static func exposing(_ response: Response) -> Response {
        var response = response
        if response.headers[.accessControlAllowOrigin] != nil {
            response.headers[.accessControlExposeHeaders] = corsExposedHeaders
        }
        return response
    }

    /// Whether a request to a fleetd listening on loopback names a host that is this machine: a
    /// loopback name or address, `*.localhost`, the machine's own name, or `api.host`. A web page
    /// whose DNS name is rebound to 127.0.0.1 sends its own name as the Host, and is same-origin
    /// with itself, so without this it could read results and costs and run tasks on a local
    /// fleetd that needs no key. Requests without a Host (HTTP/1.0) pass.
    static func hostIsThisMachine(_ authority: String?, listeningOn listenHost: String, allowed: [String] = []) -> Bool {
        guard Authenticator.isLoopback(listenHost), !allowed.contains("*"), let authority, !authority.isEmpty else { return true }
        // The common case, a loopback address and port (`127.0.0.1:8080`), without copying the text.
        if let colon = authority.utf8.lastIndex(of: UInt8(ascii: ":")), Authenticator.isLoopback(authority[..<colon]) { return true }
        var name = authority.lowercased()
        if name.hasPrefix("[") {
            name = String(name.prefix { $0 != "]" }.dropFirst())
        } else if let colon = name.lastIndex(of: ":") {
            name = String(name[..<colon])
        }
        if name.hasSuffix(".") { name.removeLast() }
        return Authenticator.isLoopback(name) || name.hasSuffix(".localhost") || name == listenHost.lowercased()
            || name == thisMachine || allowed.contains(name)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let settings = api.value
        guard Self.hostIsThisMachine(request.head.authority, listeningOn: settings.host, allowed: settings.allowedHosts) else {
            throw APIError(.forbidden, code: "FORBIDDEN",
                           message: "fleetd listens on \(settings.host) and answers requests for this machine's names (localhost, 127.0.0.1) "
                               + "and those listed in api.allowedHosts; this one names another host (a web page rebound by DNS?). "
                               + "Behind a reverse proxy on this machine, list its name in api.allowedHosts")
        }
        let origins = settings.corsOrigins
        if let origin = request.headers[.origin], ![.get, .head, .options].contains(request.method),
           !Self.mayChangeState(origin: origin, host: request.head.authority, allowed: origins) {
            throw APIError(.forbidden, code: "FORBIDDEN",
                           message: "a browser page from \(origin) may not call fleetd: list that origin in api.cors to allow it")
        }
        guard !origins.isEmpty, let origin = request.headers[.origin] else { return try await next(request, context) }
        if origins.contains("*") {
            return Self.exposing(try await Self.middleware(.all).handle(request, context: context, next: next))
        }
        guard origins.contains(origin) else { return try await next(request, context) }
        return Self.exposing(try await Self.middleware(.originBased).handle(request, context: context, next: next))
    }
}

/// The machine's name (Debian resolves it to 127.0.1.1), lower-cased.
private let thisMachine = ProcessInfo.processInfo.hostName.lowercased()

/// Request headers a browser may send besides the standard ones: the official SDKs' own
/// (`x-stainless-*`, `anthropic-*`), Streamable HTTP's (MCP), fleetd's.
private let corsExtraAllowedHeaders = [
    "x-api-key", "anthropic-version", "anthropic-beta", "anthropic-dangerous-direct-browser-access",
    "x-stainless-arch", "x-stainless-lang", "x-stainless-os", "x-stainless-package-version", "x-stainless-retry-count",
    "x-stainless-runtime", "x-stainless-runtime-version", "x-stainless-timeout", "x-stainless-helper-method",
    "mcp-session-id", "mcp-protocol-version", "last-event-id", "x-fleetd-agent-type", "x-fleetd-tenant",
]

/// Response headers a browser may read: fleetd's facts about an answer, and the MCP session id.
private let corsExposedHeaders = ["retry-after", "x-fleetd-task-id", "x-fleetd-model", "x-fleetd-provider", "x-fleetd-fallbacks",
                                  "x-fleetd-cost-usd", "x-fleetd-cache", "mcp-session-id"].joined(separator: ", ")
