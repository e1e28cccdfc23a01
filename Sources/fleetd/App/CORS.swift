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
            allowHeaders: [.accept, .authorization, .contentType, .origin, HTTPField.Name("x-api-key")!],
            allowMethods: [.get, .post, .put, .delete, .head, .options],
            exposedHeaders: ["retry-after", "x-fleetd-task-id"]
        )
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let origins = api.value.corsOrigins
        guard !origins.isEmpty, let origin = request.headers[.origin] else { return try await next(request, context) }
        if origins.contains("*") {
            return try await Self.middleware(.all).handle(request, context: context, next: next)
        }
        guard origins.contains(origin) else { return try await next(request, context) }
        return try await Self.middleware(.originBased).handle(request, context: context, next: next)
    }
}
