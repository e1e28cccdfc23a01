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

    /// Sends `body` to `url` and returns the response once its head arrived with a 2xx status, with
    /// the lease that counts the call against its client's share of the host: keep it as long as
    /// the body is read (``ProviderEventStream`` does).
    func send(url: String, headers: HTTPHeaders, body: some Encodable, streaming: Bool) async throws -> (HTTPClientResponse, ProviderHTTPLease?) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers = headers
        request.headers.replaceOrAdd(name: "content-type", value: "application/json")
        request.headers.replaceOrAdd(name: "accept", value: streaming ? "text/event-stream, application/x-ndjson" : "application/json")
        let encoded: [UInt8]
        do {
            encoded = try FastJSONEncoder().encode(body)
        } catch {
            throw ProviderError(kind: .badRequest, provider: provider, message: "cannot encode the request: \(error)")
        }
        request.body = .bytes(ByteBuffer(bytes: encoded))
        logger.debug("provider request", metadata: [
            "provider": "\(provider.rawValue)", "url": "\(url)", "streaming": "\(streaming)", "bytes": "\(encoded.count)",
        ])
        let (httpClient, lease) = clients.lease(url: url)
        let response: HTTPClientResponse
        do {
            response = try await httpClient.execute(request, timeout: streaming ? headTimeout : answerTimeout, logger: logger)
        } catch {
            if error is CancellationError || Task.isCancelled { throw CancellationError() }
            let classified = ProviderErrorClassifier.transport(error, provider: provider, secret: secret)
            logger.warning("provider call failed", metadata: ["provider": "\(provider.rawValue)", "error": "\(classified)"])
            throw classified
        }
        guard (200..<300).contains(Int(response.status.code)) else {
            let bytes = (try? await response.body.collect(upTo: 1 << 20)).map { Array($0.readableBytesView) } ?? []
            let error = ProviderErrorClassifier.classify(
                status: Int(response.status.code), headers: response.headers, body: bytes,
                provider: provider, secret: secret, now: wallClock.now
            )
            logger.warning("provider answered with an error", metadata: ["provider": "\(provider.rawValue)", "error": "\(error)"])
            throw error
        }
        return (response, lease)
    }

    /// Sends a request and reads the whole JSON answer by hand (`JSONValue+Read.swift`) with `read`.
    ///
    /// Through AsyncHTTPClient's delegate API, not `execute(_:timeout:)`: the answer is wanted
    /// whole, and the async API also started a Swift task of its own for every request (its
    /// cancel handler's registration, which ran on Swift's global pool and woke a thread there)
    /// and streamed the body through an async sequence only to collect it (docs/performance.md,
    /// "Tasks kept on their loop"). Timeouts, cancellation and errors are classified as
    /// ``send(url:headers:body:streaming:)`` classifies them.
    func sendAndRead<Response>(url: String, headers: HTTPHeaders, body: some Encodable,
                               _ read: (JSONValue) throws -> Response) async throws -> Response {
        let encoded: [UInt8]
        do {
            encoded = try FastJSONEncoder().encode(body)
        } catch {
            throw ProviderError(kind: .badRequest, provider: provider, message: "cannot encode the request: \(error)")
        }
        var headers = headers
        headers.replaceOrAdd(name: "content-type", value: "application/json")
        headers.replaceOrAdd(name: "accept", value: "application/json")
        logger.debug("provider request", metadata: [
            "provider": "\(provider.rawValue)", "url": "\(url)", "streaming": "false", "bytes": "\(encoded.count)",
        ])
        let (httpClient, lease) = clients.lease(url: url)
        let response: HTTPClient.Response
        do {
            let request = try HTTPClient.Request(url: url, method: .POST, headers: headers, body: .bytes(encoded))
            let call = httpClient.execute(request: request, delegate: ResponseAccumulator(request: request, maxBodySize: 64 << 20),
                                          eventLoop: .indifferent, deadline: .now() + answerTimeout, logger: logger)
            response = try await withTaskCancellationHandler {
                try await call.futureResult.get()
            } onCancel: {
                call.cancel()
            }
            withExtendedLifetime(lease) {}
        } catch {
            if error is CancellationError || Task.isCancelled { throw CancellationError() }
            let classified = ProviderErrorClassifier.transport(error, provider: provider, secret: secret)
            logger.warning("provider call failed", metadata: ["provider": "\(provider.rawValue)", "error": "\(classified)"])
            throw classified
        }
        let bytes = response.body ?? ByteBuffer()
        guard (200..<300).contains(Int(response.status.code)) else {
            let error = ProviderErrorClassifier.classify(
                status: Int(response.status.code), headers: response.headers, body: Array(bytes.readableBytesView.prefix(1 << 20)),
                provider: provider, secret: secret, now: wallClock.now
            )
            logger.warning("provider answered with an error", metadata: ["provider": "\(provider.rawValue)", "error": "\(error)"])
            throw error
        }
        do {
            return try bytes.withUnsafeReadableBytes { try read(JSONValue.parse(utf8: $0)) }
        } catch {
            throw ProviderError(kind: .invalidResponse, provider: provider, message: "undecodable answer: \(error)")
        }
    }
}
