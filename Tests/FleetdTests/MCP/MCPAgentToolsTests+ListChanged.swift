import Foundation
import Testing

/// A tool server whose tools change while it runs: it sends `notifications/tools/list_changed`,
/// fleetd lists its tools again, and tasks dispatched after that are offered the new list (with
/// the names made provider-safe, as at start), without a reload.
extension MCPAgentToolsTests {
    @Test("a server that adds a tool and sends notifications/tools/list_changed: the next task is offered it, under a provider-safe name")
    func toolListChangedReachesTheNextTask() async throws {
        // `grow`: the first get_weather call adds `weather.forecast` and sends the notification.
        try await withFleet(.anthropic, mode: "grow") { fleetd, fake, _ in
            let first = try await Self.run(fleetd, "grow-1")
            #expect(Self.firstCallOutcome(first) == "ok", "\(first.body)\n\(fleetd.logText.suffix(2_000))")
            let before = String(decoding: fake.requests.first?.body ?? [], as: UTF8.self)
            #expect(before.contains("\"get_weather\"") && !before.contains("forecast"), "\(before)")

            // fleetd listed the server's tools again and installed them (the log names them as offered).
            #expect(await eventually(timeout: .seconds(10)) { fleetd.logText.contains("weather_forecast") },
                    "\(fleetd.logText.suffix(2_000))")
            let sent = fake.requests.count
            let second = try await Self.run(fleetd, "grow-2")
            #expect(second.status == 200, "\(second.body)")
            let after = fake.requests.count > sent ? String(decoding: fake.requests[sent].body, as: UTF8.self) : ""
            #expect(after.contains("\"get_weather\"") && after.contains("\"weather_forecast\"") && !after.contains("weather.forecast"),
                    "\(after)")
        }
    }
}
