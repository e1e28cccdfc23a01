import AsyncHTTPClient
import FakeProvider
import Foundation
import NIOCore
import Testing

/// A compatible stream is `/v1/tasks`' stream in another dialect: a client that walks away
/// cancels the provider call and releases the task's cost reservation.
@Suite(.serialized) struct CompatStreamTests {
    @Test(arguments: [
        ("/v1/messages", #"{"model": "auto", "max_tokens": 64, "stream": true, "messages": [{"role": "user", "content": "hello"}]}"#, "content_block_delta"),
        ("/v1/chat/completions", #"{"model": "auto", "stream": true, "messages": [{"role": "user", "content": "hello"}]}"#, #""content":"Hello""#),
        ("/v1/responses", #"{"model": "auto", "stream": true, "input": "hello"}"#, #""delta":"Hello""#),
    ])
    func aClientThatWalksAwayCancelsTheUpstreamCallAndItsReservation(path: String, body: String, firstText: String) async throws {
        // The transcript stalls after its first text chunk and keeps the connection open.
        let stalling = FakeScript { _, _ in
            (try? FakeResponse.fixture("providers/anthropic-stream-sdkfixture-basic.sse").with(.stallAfter(bytes: 720)))
                ?? .status(500, body: "{}")
        }
        let (fake, fleetd) = try await TaskLimitsTests().start(stalling)
        let sawText = LogBuffer()
        let reader = Task {
            var request = HTTPClientRequest(url: fleetd.baseURL + path)
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            #expect(response.status == .ok)
            for try await buffer in response.body where String(buffer: buffer).contains(firstText) {
                sawText.append(Data("text".utf8))
            }
        }
        #expect(await eventually(timeout: .seconds(20)) { sawText.text == "text" }, "the first text arrives in the client's dialect")
        #expect(try await TaskLimitsTests().reserved(fleetd) > 0, "the estimated cost is reserved while the call runs")
        reader.cancel()
        #expect(await eventually(timeout: .seconds(5)) { fake.openConnections == 0 }, "fleetd cancels the upstream call")
        #expect(try await eventually(timeout: .seconds(5)) { try await TaskLimitsTests().reserved(fleetd) == 0 }, "and releases the reservation")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }

    /// The provider fails after the answer began (Anthropic's `error` event mid-stream): each
    /// dialect ends the stream with its own failure, after the text already told, and no success.
    @Test(arguments: [
        ("/v1/responses", #"{"model": "auto", "stream": true, "input": "hello"}"#, "event: response.failed", "response.completed"),
        ("/v1/chat/completions", #"{"model": "auto", "stream": true, "messages": [{"role": "user", "content": "hello"}]}"#, #"data: {"error""#, "[DONE]"),
        ("/v1/messages", #"{"model": "auto", "max_tokens": 64, "stream": true, "messages": [{"role": "user", "content": "hello"}]}"#, "event: error", "message_stop"),
    ])
    func aFailureAfterTheAnswerBeganEndsTheStreamInTheDialect(path: String, body: String, failure: String, success: String) async throws {
        let failing = FakeScript { _, _ in
            (try? FakeResponse.fixture("providers/anthropic-stream-error-midstream-composed.sse")) ?? .status(500, body: "{}")
        }
        let (fake, fleetd) = try await TaskLimitsTests().start(failing)
        var request = HTTPClientRequest(url: fleetd.baseURL + path)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        #expect(response.status == .ok, "the text came before the failure")
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        #expect(text.contains("Hello"), "\(text)")
        #expect(text.contains(failure) && !text.contains(success), "\(text)")
        if path == "/v1/responses" {
            #expect(text.contains(#""status":"failed""#) && text.contains(#""code":"server_error""#), "\(text)")
        }
        #expect(try await eventually(timeout: .seconds(5)) { try await TaskLimitsTests().reserved(fleetd) == 0 }, "nothing stays reserved")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }
}
