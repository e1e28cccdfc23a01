import Fleet
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import fleetd

extension ReloadAnswerTests {
    @Test("a runtime kill switch survives a reload of an unrelated edit; an edit of that flag in the file wins, in the history")
    func aRuntimeKillSwitchSurvivesAnUnrelatedReload() async throws {
        let auth: HTTPFields = [.authorization: "Bearer \(token)"]
        try await withFleetdOnFile(config(streaming: true, agents: 1)) { client, file in
            let off = try await client.send(.put, "/v1/flags/streaming", json: #"{"enabled": false}"#, headers: auth)
            #expect(off.status == .ok, "\(off.text)")
            // An unrelated edit (the body limit): the file watcher or this reload loads it, whichever is first.
            try write(config(streaming: true, agents: 1, maxBodyBytes: 2_048), to: file)
            let reload = try await client.send(.post, "/v1/admin/reload", headers: auth)
            #expect(reload.status == .ok, "\(reload.text)")
            let flags = try await client.send(.get, "/v1/flags")
            #expect(jsonValue(flags.object, "flags.streaming.enabled") as? Bool == false, "the kill switch stays off: \(flags.text)")
            #expect(jsonValue(flags.object, "flags.streaming.rule") as? String == "runtime change (PUT /v1/flags): off", "\(flags.text)")

            // The operator edits streaming in the file: its value wins, and the history says the runtime change went.
            try write(config(streaming: false, agents: 1, maxBodyBytes: 2_048), to: file)
            #expect(try await client.send(.post, "/v1/admin/reload", headers: auth).status == .ok)
            let after = try await client.send(.get, "/v1/flags")
            #expect((after.object["runtimeChanges"] as? [Any])?.isEmpty == true, "\(after.text)")
            #expect(jsonValue(after.object, "flags.streaming.rule") as? String == "global: off", "\(after.text)")
            let recorded = try await eventually {
                let changes = try await client.send(.get, "/v1/flags/history").object["changes"] as? [[String: Any]] ?? []
                guard let newest = changes.first, changes.count == 2 else { return false }
                return newest["by"] as? String == "config reload" && newest["flag"] as? String == "streaming"
                    && jsonValue(newest, "after.enabled") as? Bool == false
            }
            #expect(recorded, "the dropped runtime change is in GET /v1/flags/history")
        }
    }
}
