import Fleet
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

    /// Hummingbird's middleware sends `Access-Control-Expose-Headers` only on the preflight's
    /// answer, where the Fetch standard ignores it; a browser reads it from the actual response.
    private static func exposing(_ response: Response) -> Response {
        var response = response
        if response.headers[.accessControlAllowOrigin] != nil {
            response.headers[.accessControlExposeHeaders] = corsExposedHeaders
        }
        return response
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let origins = api.value.corsOrigins
        guard !origins.isEmpty, let origin = request.headers[.origin] else { return try await next(request, context) }
        if origins.contains("*") {
            return Self.exposing(try await Self.middleware(.all).handle(request, context: context, next: next))
        }
        guard origins.contains(origin) else { return try await next(request, context) }
        return Self.exposing(try await Self.middleware(.originBased).handle(request, context: context, next: next))
    }
}

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
