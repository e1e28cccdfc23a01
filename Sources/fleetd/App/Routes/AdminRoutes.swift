import Fleet
import Foundation
import Hummingbird
import Logging

/// `POST /v1/admin/reload`: load and validate the file, put it in force, then answer; or answer
/// the errors (422 for an invalid file, 500 for one that could not be put in force) and keep the
/// running config. The answer comes after the new config is in force: the caller's next request,
/// a task as much as `GET /v1/flags`, runs on it. A file watcher or SIGHUP reload under way is
/// waited for, not raced.
///
/// Runtime flag changes stay, except one to a flag whose value at that scope the file's edit
/// changed (the file wins there); `?keepRuntimeFlags=true` keeps every one, `?keepRuntimeFlags=false`
/// drops every one. The dropped ones are named in the answer and in `GET /v1/flags/history`.
struct AdminRoutes {
    let reloader: ConfigReloader
    let logger: Logger
    /// Where runtime flag changes a reload dropped are recorded (`GET /v1/flags/history`).
    var flagChanges: FlagChangeLog? = nil

    struct ReloadResponse: ResponseEncodable {
        var reloaded: Bool
        /// The generation in force, this reload's when it changed anything.
        var generation: Int
        var warnings: [String]
        /// What the reload applied, all in force by the answer (see README, "What a reload applies").
        var applied: [String]
        /// The settings among them whose value this reload changed; empty when nothing changed
        /// (or the file watcher had loaded the same edit a moment before).
        var changed: [String]
        /// Settings that changed in the file but apply only after a restart.
        var needsRestart: [String]
        /// The runtime flag changes this reload dropped, and why.
        var droppedRuntimeFlagChanges: [String] = []
    }

    func register(admin: some RouterMethods<FleetRequestContext>) {
        admin.post("v1/admin/reload") { request, _ -> ReloadResponse in
            // Absent: keep runtime flag changes the edit did not touch; true: keep all; false: drop all.
            let keep: Bool?
            if let value = request.uri.queryParameters["keepRuntimeFlags"].map(String.init) {
                guard value == "true" || value == "false" else {
                    throw APIError(.badRequest, code: "INVALID_VALUE", message: "'keepRuntimeFlags' must be true or false, not '\(value)'",
                                   field: "keepRuntimeFlags")
                }
                keep = value == "true"
            } else {
                keep = nil
            }
            do {
                let outcome = try await reloader.reload(keepRuntimeFlags: keep)
                flagChanges?.record(dropped: outcome.droppedRuntimeFlagChanges, generation: outcome.generation)
                logger.notice("config reloaded", metadata: [
                    "trigger": "admin API", "generation": "\(outcome.generation)",
                    "changed": .array(outcome.changedSettings.map { .string($0) }),
                    "needsRestart": .array(outcome.needsRestart.map { .string($0) }),
                ])
                return ReloadResponse(reloaded: outcome.changed, generation: outcome.generation, warnings: outcome.warnings.map(\.description),
                                      applied: outcome.changed ? FleetConfig.reloadableSettings : [], changed: outcome.changedSettings,
                                      needsRestart: outcome.needsRestart,
                                      droppedRuntimeFlagChanges: outcome.droppedRuntimeFlagChanges.map {
                                          "\($0.change.flag) at \($0.change.scope): runtime \($0.change.setting.summary), file \($0.fileSetting.summary) (\($0.reason))"
                                      })
            } catch let error as ConfigError {
                logger.error("config reload rejected; the running config stays", metadata: [
                    "trigger": "admin API", "errors": .array(error.diagnostics.map { .string($0.description) }),
                ])
                throw APIError(.unprocessableContent, code: ConfigError.code,
                               message: "the new config is invalid; the running config stays",
                               details: error.diagnostics.map(\.description))
            } catch let error as ConfigApplyError {
                logger.error("config reload not applied; the running config stays", metadata: [
                    "trigger": "admin API", "code": "\(ConfigApplyError.code)", "error": "\(error.message)",
                ])
                throw APIError(.internalServerError, code: ConfigApplyError.code,
                               message: "the new config could not be put in force; the running config stays: \(error.message)")
            }
        }
    }
}
