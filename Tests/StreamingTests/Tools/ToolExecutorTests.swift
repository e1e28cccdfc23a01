import Foundation
import Logging
import Providers
import Streaming
import Testing

/// A toolbox of canned behaviours: `echo` answers its arguments, `slow` waits (until cancelled),
/// `broken` throws, `fails` answers with isError, `big` answers `size` bytes of "é".
struct CannedTools: ToolInvoker {
    var definitions: [ToolDefinition] {
        ["echo", "slow", "broken", "fails", "big"].map { ToolDefinition(name: $0) }
    }

    func server(of tool: String) -> String? {
        definitions.contains { $0.name == tool } ? "canned" : nil
    }

    func invoke(name: String, arguments: JSONValue) async throws -> ToolInvocationResult {
        switch name {
        case "echo":
            let text = String(decoding: try JSONEncoder().encode(arguments), as: UTF8.self)
            return ToolInvocationResult(content: [.text(text)])
        case "slow":
            try await Task.sleep(for: .seconds(60))
            return ToolInvocationResult(content: [.text("late")])
        case "broken":
            throw ToolInvocationError(.unavailable, "tool server 'canned' went away during the call")
        case "fails":
            return ToolInvocationResult(content: [.text("no such city")], isError: true)
        default:
            return ToolInvocationResult(content: [.text(String(repeating: "é", count: 1_000))])
        }
    }
}

@Suite struct ToolExecutorTests {
    let executor = ToolExecutor(invoker: CannedTools(), limits: ToolLimits(timeout: .milliseconds(300), maxResultBytes: 101, maxRounds: 2),
                                recorder: nil, logger: Logger(label: "test"))

    func run(_ calls: [ToolCall], deadline: ContinuousClock.Instant? = nil) async -> [ToolExecutor.Outcome] {
        await executor.run(ToolExecutor.toolUses(calls, round: 1), taskId: "t", round: 1, deadline: deadline)
    }

    @Test("a call's provider signature (Gemini's thoughtSignature) stays on the call sent back to the model")
    func signaturesStayOnTheCalls() {
        let uses = ToolExecutor.toolUses([ToolCall(id: "a", name: "echo", arguments: #"{"x":1}"#, signature: "sig-a"),
                                          ToolCall(name: "echo", arguments: "")], round: 2)
        #expect(uses.map(\.use.signature) == ["sig-a", nil])
        #expect(uses.map(\.use.id) == ["a", "call_2_1"])
    }

    @Test("each call ends in a result for the model and a report, in the model's order, ids settled")
    func outcomes() async {
        let outcomes = await run([
            ToolCall(id: "a", name: "echo", arguments: #"{"city":"Paris"}"#),
            ToolCall(id: nil, name: "fails", arguments: ""),
            ToolCall(id: "c", name: "broken", arguments: "{}"),
            ToolCall(id: "d", name: "nope", arguments: "{}"),
            ToolCall(id: "e", name: "echo", arguments: "[1, 2]"),
        ])
        #expect(outcomes.map(\.report.outcome) == [.ok, .toolError, .failed, .rejected, .rejected])
        #expect(outcomes.map(\.call.id) == ["a", "call_1_1", "c", "d", "e"])
        #expect(outcomes[0].result.content.first?.text == #"{"city":"Paris"}"# && !outcomes[0].result.isError)
        #expect(outcomes[1].result.isError && outcomes[1].result.content.first?.text == "no such city")
        #expect(outcomes[2].result.isError && outcomes[2].result.content.first?.text?.contains("went away") == true)
        #expect(outcomes[3].result.content.first?.text?.contains("there is no tool named 'nope'; the tools are: big, broken, echo, fails, slow") == true)
        #expect(outcomes[4].result.content.first?.text?.contains("not a JSON object") == true)
        #expect(outcomes.allSatisfy { $0.result.toolUseId == $0.call.id })
    }

    @Test("a tool that does not answer in time is cancelled: an error result after the timeout, not after the tool")
    func timeout() async {
        // The tool would take 60 s; the bound is loose because 2 busy cores can stall any task.
        let started = ContinuousClock.now
        let outcomes = await run([ToolCall(id: "s", name: "slow", arguments: "{}")])
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(outcomes.first?.report.outcome == .timeout)
        #expect(outcomes.first?.result.content.first?.text?.contains("did not answer within 300 ms") == true)
    }

    @Test("the task's deadline bounds a call below the tool timeout")
    func deadline() async {
        let executor = ToolExecutor(invoker: CannedTools(), limits: ToolLimits(timeout: .seconds(30)), recorder: nil, logger: Logger(label: "test"))
        let outcomes = await executor.run(ToolExecutor.toolUses([ToolCall(id: "s", name: "slow", arguments: "{}")], round: 1),
                                          taskId: "t", round: 1, deadline: .now + .milliseconds(80))
        #expect(outcomes.first?.report.outcome == .timeout)
        let message = outcomes.first?.report.message ?? ""
        #expect(message.hasPrefix("the tool did not answer within ") && message.contains(" ms;"), "bounded by the deadline, not the 30 s limit: \(message)")
    }

    @Test("cancelling the task ends a running call at once, reported as cancelled")
    func cancellation() async {
        let executor = ToolExecutor(invoker: CannedTools(), limits: ToolLimits(timeout: .seconds(30)), recorder: nil, logger: Logger(label: "test"))
        let work = Task { await executor.run(ToolExecutor.toolUses([ToolCall(id: "s", name: "slow", arguments: "{}")], round: 1),
                                             taskId: "t", round: 1, deadline: nil) }
        try? await Task.sleep(for: .milliseconds(100))
        let started = ContinuousClock.now
        work.cancel()
        let outcomes = await work.value
        #expect(ContinuousClock.now - started < .seconds(20)) // the tool would take 60 s, the limit is 30 s
        #expect(outcomes.first?.report.outcome == .cancelled)
    }

    @Test("a result over the bound is cut on a character boundary, with a note, and reported as cut")
    func bound() async {
        let outcomes = await run([ToolCall(id: "b", name: "big", arguments: "{}")])
        let report = outcomes.first?.report
        #expect(report?.truncated == true && report?.resultBytes == 2_000)
        let texts = outcomes.first?.result.content.compactMap(\.text) ?? []
        #expect(texts.first == String(repeating: "é", count: 50)) // 100 bytes: the 101st would split a character
        #expect(texts.last?.contains("cut to 101 of its 2000 bytes") == true)
    }
}
