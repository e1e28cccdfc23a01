import FakeProvider
import Foundation
import Testing

/// Anthropic prompt-cache writes through fleetd: a client's breakpoints reach Anthropic, the
/// writes it reports are billed at Anthropic's premium (1.25× the input price for five minutes,
/// 2× for an hour) and told back in Anthropic's usage shape.
@Suite(.serialized) struct PromptCacheBillingTests {
    @Test func cacheWritesAreBilledAtTheirPremiumAndReported() async throws {
        // 100 plain input tokens, 1,000 written (400 of them for an hour), 50 read, 10 out.
        let answer = #"{"id":"msg_1","type":"message","role":"assistant","model":"solo-id","content":[{"type":"text","text":"Done."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":100,"cache_creation_input_tokens":1000,"cache_creation":{"ephemeral_5m_input_tokens":600,"ephemeral_1h_input_tokens":400},"cache_read_input_tokens":50,"output_tokens":10}}"#
        let fake = try await FakeProviderServer.start(script: .always(FakeResponse(headers: [("content-type", "application/json")],
                                                                                   body: .bytes(Array(answer.utf8)))))
        let fleetd = try await ResponseCacheEndToEndTests.start(ResponseCacheEndToEndTests.config(baseURL: fake.baseURL, caching: "false"))
        let body = """
        {"model": "solo", "max_tokens": 20,
         "system": [{"type": "text", "text": "Long stable instructions.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
         "messages": [{"role": "user", "content": "Go."}]}
        """
        let response = try await http(.POST, fleetd.baseURL + "/v1/messages", body: body)
        #expect(response.status == 200, "\(response.body)")
        let usage = response.json["usage"] as? [String: Any] ?? [:]
        #expect(usage["input_tokens"] as? Int == 100 && usage["cache_creation_input_tokens"] as? Int == 1_000
                && usage["cache_read_input_tokens"] as? Int == 50 && usage["output_tokens"] as? Int == 10, "\(usage)")
        // $0.003/k input (no cached price: reads bill as input), $0.015/k output.
        let expected = (100 + 50 + 600 * 1.25 + 400 * 2.0) / 1000 * 0.003 + 10.0 / 1000 * 0.015
        let billed = Double(response.headers.first(name: "x-fleetd-cost-usd") ?? "") ?? -1
        #expect(abs(billed - expected) < 1e-6, "billed \(billed), expected \(expected)")
        let sent = fake.requests.first?.jsonBody?["system"] as? [[String: Any]]
        #expect((sent?.first?["cache_control"] as? [String: Any])?["ttl"] as? String == "1h", "\(String(describing: sent))")
        fleetd.signal(SIGTERM)
        #expect(await fleetd.waitForExit() == 0)
        await fake.shutdown()
    }
}
