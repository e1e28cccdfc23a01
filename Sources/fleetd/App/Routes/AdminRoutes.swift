import Fleet
import Foundation
import Hummingbird
import Logging

/// `POST /v1/admin/reload`: load and validate the file; swap it in, or answer the errors (422)
/// and keep the running config.
struct AdminRoutes {
    let reloader: ConfigReloader
    let logger: Logger

    struct ReloadResponse: ResponseEncodable {
        var reloaded: Bool
        var generation: Int
        var warnings: [String]
        /// What the reload applied (see README, "What a reload applies").
        var applied: [String]
        /// Settings that changed in the file but apply only after a restart.
        var needsRestart: [String]
    }

    func register(admin: some RouterMethods<FleetRequestContext>) {
        admin.post("v1/admin/reload") { request, _ -> ReloadResponse in
            let keep = request.uri.queryParameters["keepRuntimeFlags"] == "true"
            do {
                let outcome = try await reloader.reload(keepRuntimeFlags: keep)
                logger.notice("config reloaded", metadata: [
                    "trigger": "admin API", "generation": "\(outcome.generation)",
                    "needsRestart": .array(outcome.needsRestart.map { .string($0) }),
                ])
                return ReloadResponse(reloaded: outcome.changed, generation: outcome.generation, warnings: outcome.warnings.map(\.description),
                                      applied: outcome.changed ? FleetConfig.reloadableSettings : [], needsRestart: outcome.needsRestart)
            } catch let error as ConfigError {
                logger.error("config reload rejected; the running config stays", metadata: [
                    "trigger": "admin API", "errors": .array(error.diagnostics.map { .string($0.description) }),
                ])
                throw APIError(.unprocessableContent, code: ConfigError.code,
                               message: "the new config is invalid; the running config stays",
                               details: error.diagnostics.map(\.description))
            }
        }
    }
}
