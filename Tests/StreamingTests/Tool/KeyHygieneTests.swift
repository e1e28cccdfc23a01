import FakeProvider
import FleetSupport
import Foundation
import Logging
import Providers
import Testing
@testable import Streaming

/// The API key never appears in a log line, an error's description or fields, or a stream event.
@Suite("API key hygiene")
struct KeyHygieneTests {
    @Test func keyNeverLeaks() async throws {
        let capture = LogCapture()
        let echoing = FakeResponse.status(401, body: #"{"error":{"message":"Incorrect API key provided: \#(testKey)","type":"invalid_request_error","code":"invalid_api_key"}}"#)
        let script = FakeScript.sequence([
            echoing,
            try .fixture("providers/anthropic-error-429-rate-limit.http"),
            .status(500, body: "upstream said \(testKey)"),
            openAIStream(["fine"]),
            try .fixture("providers/anthropic-stream-error-midstream-composed.sse"),
        ])
        var texts: [String] = []
        try await withServer(script) { server in
            let factory = makeFactory(logger: capture.logger)
            for provider in [ProviderKind.openai, .anthropic, .google, .openai, .anthropic] {
                var e = endpoint(provider, server)
                e.supportsStreaming = true
                let client = try factory.makeClient(for: e)
                do {
                    for try await event in try await client.stream(ProviderRequest(model: "m", prompt: "x")) { texts.append("\(event)") }
                } catch {
                    texts.append(String(describing: error))
                    texts.append(String(reflecting: error))
                    if let error = error as? ProviderError {
                        texts += [error.message, error.providerCode ?? "", error.code.rawValue, error.shortDescription]
                    }
                }
            }
            // Through the tool as well: events and failures.
            let tool = StreamingTool(configuration: config(retries: 0), logger: capture.logger)
            let failing = try StreamTarget(endpoint: endpoint(.openai, server), factory: factory)
            for await event in tool.executeStreaming(ProviderRequest(model: "m", prompt: "x"), targets: [failing]) {
                texts.append(String(reflecting: event))
            }
        }
        #expect(texts.contains { $0.contains("Incorrect API key provided: [REDACTED]") })
        #expect(!capture.all.isEmpty)
        for line in capture.all { #expect(!line.contains(testKey), "log line leaks the key: \(line)") }
        for text in texts { #expect(!text.contains(testKey), "leaks the key: \(text)") }
        // Not even a fragment long enough to matter.
        let fragment = String(testKey.suffix(12))
        #expect(!(capture.all + texts).contains { $0.contains(fragment) })
    }

    @Test func missingKeyErrorNamesVariableNotValue() throws {
        let factory = makeFactory(environment: ["ANTHROPIC_API_KEY": "   "])
        do {
            _ = try factory.makeClient(for: ModelEndpoint(name: "claude", provider: .anthropic, model: "c"))
            Issue.record("a blank key must count as missing")
        } catch let error as ProviderError {
            #expect(error.message.contains("ANTHROPIC_API_KEY"))
            #expect(error.code == .providerMissingCredentials)
        }
    }

    @Test func endpointAndRecordsHoldNoKey() throws {
        let e = ModelEndpoint(provider: .anthropic, model: "c")
        let json = String(decoding: try JSONEncoder().encode(e), as: UTF8.self)
        #expect(json.contains("ANTHROPIC_API_KEY") == false) // only a variable name if set, never a value
        #expect(!json.contains(testKey))
    }
}
