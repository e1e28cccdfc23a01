import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Gives every request an id (the client's `X-Request-Id` when it sends a sane one), puts it on
/// every log line written for the request, returns it in the response, logs one access line and
/// records the request's duration. The access line names the client (`client`: the peer, or the
/// address a trusted proxy forwarded, with the proxy's own as `proxy`). While the request is handled
/// it counts as in flight for the shutdown's drain notice (``DrainDeadline/inFlight``).
///
/// The access line is written after the answer: it is handed to the connection's event loop,
/// which runs it once the request's job (writing the response) is done. Built and written before,
/// it was about 2% of a task's time on the way to the client (docs/performance.md, "Per-task
/// costs on the shipped config's path"). Its `durationMs` is still the time to the response.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = FleetRequestContext
    let metrics: FleetMetrics

    static var requestIDHeader: HTTPField.Name { HTTPField.Name("X-Request-Id")! }
    /// Where Anthropic's API puts the id, and its SDK reads it (`_request_id`, `request_id` in
    /// errors): set as well on the Anthropic-compatible endpoint's answers.
    static var anthropicRequestIDHeader: HTTPField.Name { HTTPField.Name("request-id")! }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        // Hummingbird's own id is already on the request's logger (`hb.request.id`, written as
        // `requestId`: ``LogLineWriter/requestIDKey``); only a client's id is put there. Changing a
        // logger's metadata copies its storage, its handler and the metadata, and a streamed
        // request's logger lives as long as its stream (docs/performance.md, "Memory per open
        // stream, a third time").
        let requestID: String
        if let given = request.headers[Self.requestIDHeader].flatMap(Self.sanitized) {
            requestID = given
            context.logger[metadataKey: LogLineWriter.requestIDKey] = .string(given)
        } else {
            requestID = context.id
        }
        let start = ContinuousClock.now
        let route = context.endpointPath ?? "unmatched"
        metrics.drain.requestStarted()
        defer { metrics.drain.requestEnded() }
        do {
            var response: Response
            do {
                response = try await next(request, context)
            } catch let error as any HTTPResponseError {
                // Written here, as Hummingbird would write it, so that an error answer names its
                // request too (the SDKs show it: `request_id` on their errors).
                response = try error.response(from: request, context: context)
            }
            response.headers[Self.requestIDHeader] = requestID
            if request.uri.path.hasPrefix("/v1/messages") { response.headers[Self.anthropicRequestIDHeader] = requestID }
            finish(request, context, route: route, status: response.status.code, start: start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            finish(request, context, route: route, status: status, start: start)
            throw error
        }
    }

    private func finish(_ request: Request, _ context: Context, route: String, status: Int, start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        metrics.httpRequest(method: request.method.rawValue, route: route, status: status, duration: elapsed)
        let logger = context.logger
        guard logger.logLevel <= .info else { return }
        let method = request.method.rawValue, path = request.uri.path
        let client = context.clientAddress, peer = context.remoteAddress
        // Two hops: the first job runs before the connection's task resumes to write the response
        // (that resumption is queued behind it), and queues the line behind that write.
        let loop = context.taskExecutor.eventLoop
        loop.execute {
            loop.execute {
                var metadata: Logger.Metadata = [
                    "method": .string(method), "path": .string(path), "status": .string(String(status)),
                    "durationMs": .string(String(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1_000)),
                ]
                if let client {
                    metadata["client"] = .string(client)
                    if let proxy = peer?.ipAddress, proxy != client { metadata["proxy"] = .string(proxy) }
                }
                logger.info("request", metadata: metadata)
            }
        }
    }

    /// Accepts 1–128 visible ASCII characters; anything else is replaced by our own id.
    static func sanitized(_ value: String) -> String? {
        guard (1...128).contains(value.utf8.count), value.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else { return nil }
        return value
    }
}
