import AsyncHTTPClient
import FleetSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// The HTTP part every provider client shares: sends a JSON request, turns a non-2xx answer
/// into a classified ``ProviderError``, logs without headers (keys never reach a log line).
struct ProviderHTTP: Sendable {
    let clients: ProviderHTTPClients
    let provider: ProviderKind
    let secret: String?
    let logger: Logger
    /// Time allowed until a stream's response head arrives.
    let headTimeout: TimeAmount
    /// Time allowed for a non-streamed answer (its head comes with its end).
    let answerTimeout: TimeAmount
    let wallClock: any WallClock

    /// The logger AsyncHTTPClient is given for a call: fleetd's own when it logs at `debug` or
    /// finer, else one that drops everything.
    ///
    /// Why: AsyncHTTPClient logs a call only at `debug` and `trace`, but it tags the logger it is
    /// given with the call's id, its connection's id and its event loop's description, and with
    /// fleetd's JSON handler each tag copied the handler's metadata: about 600 bytes held beside
    /// every open stream and several dictionary copies per call, for lines the level drops anyway
    /// (docs/performance.md, "Memory per open stream, again").
    var clientLogger: Logger {
        logger.logLevel <= .debug ? logger : Self.silent
    }

    private static let silent = Logger(label: "fleetd.provider-http.silent") { _ in SwiftLogNoOpLogHandler() }

    /// A streamed call on its way: sent, its answer's head not come yet.
    struct PendingStream: Sendable {
        let response: StreamedResponse
        let body: StreamedBody
        let lease: ProviderHTTPLease?
    }

    /// Sends `body` to `url` asking for a stream; ``streamedAnswer(_:cancellation:)`` then waits
    /// for the answer. Two steps, the first synchronous, so that no async frame holds the wire
    /// request: a provider client's ``ProviderClient/send(streaming:cancellation:)`` calls the
    /// first, and ``SentStream/events()`` the second, from the chain of frames the stream's
    /// producer keeps for as long as the stream is open (docs/performance.md, "Memory per open
    /// stream"). `cancellation` stops the call at any wait, here or in the body
    /// (``StreamedResponse``).
    func startStreaming(url: String, headers: HTTPHeaders, body: some Encodable,
                        cancellation: CancellationSignal?) throws -> PendingStream {
        let call = try prepare(url: url, headers: headers, accept: "text/event-stream, application/x-ndjson", body: body,
                               streaming: true, cancellation: cancellation)
        let response = StreamedResponse.send(call.request, on: call.client, headTimeout: headTimeout, logger: clientLogger)
        let body = StreamedBody(response)
        cancellation?.onCancel { response.cancel() }
        return PendingStream(response: response, body: body, lease: call.lease)
    }

    /// Returns once the answer to a call ``startStreaming(url:headers:body:cancellation:)`` sent
    /// came with a 2xx status: its body (and the lease that counts the call against its client's
    /// share of the host, to keep for as long as the body is read: ``ProviderEventStream`` does)
    /// are then the pending call's.
    func streamedAnswer(_ call: PendingStream, cancellation: CancellationSignal?) async throws {
        do {
            try await call.response.waitForHead()
        } catch {
            throw callFailure(error, cancellation: cancellation)
        }
        guard Self.succeeded(call.response) else {
            throw await answerFailure(call.response, body: call.body)
        }
    }

    /// Whether the answer's head came with a 2xx status (read out of line: a head is a large value).
    @inline(never)
    private static func succeeded(_ response: StreamedResponse) -> Bool {
        guard let head = response.receivedHead else { return false }
        return (200..<300).contains(Int(head.status.code))
    }

    /// A non-2xx answer to a streamed call: its body (up to 1 MiB) read for the classification.
    @inline(never)
    private func answerFailure(_ response: StreamedResponse, body answer: StreamedBody) async -> ProviderError {
        let head = response.receivedHead ?? HTTPResponseHead(version: .http1_1, status: .badGateway)
        var bytes: [UInt8] = []
        while bytes.count < 1 << 20, let piece = try? await answer.next() { bytes += piece.readableBytesView }
        return answerFailure(status: head.status, headers: head.headers, body: Array(bytes.prefix(1 << 20)))
    }

    /// Sends a request and reads the whole JSON answer by hand (`JSONValue+Read.swift`) with `read`.
    ///
    /// Through AsyncHTTPClient's delegate API, not `execute(_:timeout:)`: the answer is wanted
    /// whole, and the async API also started a Swift task of its own for every request (its
    /// cancel handler's registration, which ran on Swift's global pool and woke a thread there)
    /// and streamed the body through an async sequence only to collect it (docs/performance.md,
    /// "Tasks kept on their loop"). Timeouts, cancellation and errors are classified as for a stream;
    /// `cancellation` stops the call as cancelling the calling task does.
    func sendAndRead<Response>(url: String, headers: HTTPHeaders, body: some Encodable, cancellation: CancellationSignal?,
                               _ read: (JSONValue) throws -> Response) async throws -> Response {
        let prepared = try prepare(url: url, headers: headers, accept: "application/json", body: body, streaming: false,
                                   cancellation: cancellation)
        let response: HTTPClient.Response
        do {
            let request = prepared.request
            let call = prepared.client.execute(request: request, delegate: ResponseAccumulator(request: request, maxBodySize: 64 << 20),
                                               eventLoop: .indifferent, deadline: .now() + answerTimeout, logger: clientLogger)
            cancellation?.onCancel { call.cancel() }
            response = try await withTaskCancellationHandler {
                try await call.futureResult.get()
            } onCancel: {
                call.cancel()
            }
            withExtendedLifetime(prepared.lease) {}
        } catch {
            throw callFailure(error, cancellation: cancellation)
        }
        let bytes = response.body ?? ByteBuffer()
        guard (200..<300).contains(Int(response.status.code)) else {
            throw answerFailure(status: response.status, headers: response.headers, body: Array(bytes.readableBytesView.prefix(1 << 20)))
        }
        do {
            return try bytes.withUnsafeReadableBytes { try read(JSONValue.parse(utf8: $0)) }
        } catch {
            throw ProviderError(kind: .invalidResponse, provider: provider, message: "undecodable answer: \(error)")
        }
    }

    /// The request's body as JSON (logged at debug level by its size, never its text).
    private func encode(_ body: some Encodable, url: String, streaming: Bool) throws -> [UInt8] {
        let encoded: [UInt8]
        do {
            encoded = try FastJSONEncoder().encode(body)
        } catch {
            throw ProviderError(kind: .badRequest, provider: provider, message: "cannot encode the request: \(error)")
        }
        logger.debug("provider request", metadata: [
            "provider": "\(provider.rawValue)", "url": "\(url)", "streaming": "\(streaming)", "bytes": "\(encoded.count)",
        ])
        return encoded
    }

    /// A call's request, encoded, with the client to send it on and its lease on that client's
    /// share of the host. A call whose signal or task is already cancelled is not made (sent and
    /// then cancelled, one once left a connection open in the client's pool: StreamCancellationTests).
    private func prepare(url: String, headers: HTTPHeaders, accept: String, body: some Encodable, streaming: Bool,
                         cancellation: CancellationSignal?) throws -> (request: HTTPClient.Request, client: HTTPClient, lease: ProviderHTTPLease?) {
        if cancellation?.isCancelled == true || Task.isCancelled { throw CancellationError() }
        var headers = headers
        headers.replaceOrAdd(name: "content-type", value: "application/json")
        headers.replaceOrAdd(name: "accept", value: accept)
        let encoded = try encode(body, url: url, streaming: streaming)
        let (client, lease) = clients.lease(url: url)
        do {
            return (try HTTPClient.Request(url: url, method: .POST, headers: headers, body: .bytes(encoded)), client, lease)
        } catch {
            throw callFailure(error, cancellation: cancellation)
        }
    }

    /// A call that got no answer: cancelled (its task or its signal was; AsyncHTTPClient then
    /// reports its own cancellation error), or a transport failure classified and logged.
    private func callFailure(_ error: any Error, cancellation: CancellationSignal?) -> any Error {
        if error is CancellationError || Task.isCancelled || cancellation?.isCancelled == true { return CancellationError() }
        let classified = ProviderErrorClassifier.transport(error, provider: provider, secret: secret)
        logger.warning("provider call failed", metadata: ["provider": "\(provider.rawValue)", "error": "\(classified)"])
        return classified
    }

    /// A non-2xx answer, classified from its status, headers and body, and logged.
    private func answerFailure(status: HTTPResponseStatus, headers: HTTPHeaders, body: [UInt8]) -> ProviderError {
        let error = ProviderErrorClassifier.classify(status: Int(status.code), headers: headers, body: body,
                                                     provider: provider, secret: secret, now: wallClock.now)
        logger.warning("provider answered with an error", metadata: ["provider": "\(provider.rawValue)", "error": "\(error)"])
        return error
    }
}
