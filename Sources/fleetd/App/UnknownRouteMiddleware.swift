import Foundation
import HTTPTypes
import Hummingbird

/// Answers a request that no route matches with a 404 whose JSON body names the path and says
/// what fleetd serves instead, in the caller's dialect: Anthropic's
/// `{"type": "error", "error": {"type": "not_found_error", "message"}}` when the request looks
/// Anthropic (it carries `anthropic-version`, or its path names `/messages` or `/complete`),
/// OpenAI's `{"error": {"message", "type": "invalid_request_error", "param": null, "code": "not_found"}}`
/// otherwise (which also carries fleetd's own `error.code` and `error.message`). Hummingbird's
/// router answers an unmatched request with an empty 404, which an SDK shows as a bare
/// "Error code: 404".
///
/// Added to the router after every route: Hummingbird applies a router middleware to the routes
/// added after it and to the not-found responder, so this one wraps only the not-found answer.
struct UnknownRouteMiddleware<Context: RequestContext>: RouterMiddleware {
    /// What the router serves, to name the method a known path takes.
    let served: ServedRoutes

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // A matched route has its endpoint path set before its middleware runs; the not-found
        // responder is reached without one.
        guard context.endpointPath == nil else { return try await next(request, context) }
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            throw served.notFound(method: request.method.rawValue, path: request.uri.path,
                                  anthropicVersion: request.headers[HTTPField.Name("anthropic-version")!] != nil)
        }
    }
}

/// The routes a router serves (method and path pattern), and what to tell a caller who asked for
/// another one.
struct ServedRoutes: Sendable {
    struct Route: Sendable {
        var method: String
        var path: RouterPath
    }

    let routes: [Route]

    init(_ routes: [Route]) {
        self.routes = routes
    }

    /// Every route `router` has so far.
    init<Context: RequestContext>(router: Router<Context>) {
        self.init(router.routes.map { Route(method: $0.method.rawValue, path: $0.path) })
    }

    /// The methods served on `path` (a request path), sorted.
    func methods(serving path: String) -> [String] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        let methods = routes.filter { Self.matches($0.path, segments) }.map(\.method)
        return Array(Set(methods)).sorted()
    }

    private static func matches(_ pattern: RouterPath, _ segments: [Substring]) -> Bool {
        var elements = pattern.components
        if let last = elements.last, last.description == "**" {
            elements.removeLast()
            guard segments.count > elements.count else { return false }
        } else if segments.count != elements.count {
            return false
        }
        return zip(elements, segments).allSatisfy { pair in pair.0 ~= pair.1 }
    }

    /// The 404 for `method path`, in the dialect the request looks like.
    func notFound(method: String, path: String, anthropicVersion: Bool) -> CompatError {
        let anthropic = anthropicVersion || path.contains("/messages") || path.hasSuffix("/complete")
        return CompatError(anthropic ? .anthropic : .openAI, status: 404, openAIType: "invalid_request_error",
                           anthropicType: "not_found_error", message: message(method: method, path: path), code: "not_found")
    }

    /// "`path` is not served by fleetd: use …", with what fleetd serves instead.
    func message(method: String, path: String) -> String {
        let methods = self.methods(serving: path)
        if !methods.isEmpty {
            return "\(method) \(path) is not served by fleetd: use \(methods.joined(separator: " or ")) \(path)"
        }
        return "\(path) is not served by fleetd: \(instead(path))"
    }

    private func instead(_ path: String) -> String {
        let baseURLs = "Anthropic's SDKs take the base URL without /v1 (http://host:port), OpenAI's with it (http://host:port/v1)"
        if path.hasPrefix("/v1/v1/") {
            let rest = String(path.dropFirst(3))
            let use = methods(serving: rest).isEmpty ? suggestion(rest) : "use \(rest)"
            return "\(use); the base URL ends in /v1 and the SDK added /v1 again: \(baseURLs)"
        }
        if !path.hasPrefix("/v1/"), !methods(serving: "/v1" + path).isEmpty {
            return "use /v1\(path): \(baseURLs)"
        }
        return suggestion(path)
    }

    private func suggestion(_ path: String) -> String {
        if path == "/v1/responses/compact" {
            return "fleetd does not compact conversations (OpenAI's server-side compaction): send the conversation to POST /v1/responses as it is"
        }
        if path == "/v1/responses/input_tokens" {
            return "fleetd does not count a Responses request's tokens; POST /v1/messages/count_tokens gives its estimate for an Anthropic-shaped one"
        }
        if path.hasPrefix("/v1/responses/") {
            return "fleetd serves no routes of a kept response (retrieve, cancel, delete, input items): "
                + "a response made with store is kept only to be continued by POST /v1/responses with previous_response_id"
        }
        if path.hasPrefix("/v1/embeddings") {
            return "use /v1/chat/completions (fleetd runs chat tasks and serves no embeddings)"
        }
        if path.hasPrefix("/v1/completions") {
            return "use /v1/chat/completions (OpenAI's legacy Completions API is not served)"
        }
        if path.hasSuffix("/complete") {
            return "use /v1/messages (Anthropic's legacy Text Completions API is not served)"
        }
        if path.contains("/messages") {
            return "use POST /v1/messages or POST /v1/messages/count_tokens"
        }
        if path.contains("/chat/completions") {
            return "use POST /v1/chat/completions"
        }
        return "fleetd serves POST /v1/tasks, POST /v1/chat/completions and POST /v1/responses (OpenAI), POST /v1/messages (Anthropic), "
            + "GET /v1/models and the other routes README.md lists"
    }
}
