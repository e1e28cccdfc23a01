import Fleet
import Foundation
import Hummingbird
import Logging

/// Builds the fleetd HTTP application: routes, middleware and services. Testable: tests call it
/// with a config and run it on port 0.
func buildApplication(config: FleetConfig, settings: ServiceSettings, logger: Logger) async throws -> some ApplicationProtocol {
    let flagsOn = config.features.evaluateAll(in: FlagContext(environment: settings.environment))
    logger.info("fleetd starting", metadata: [
        "fleet": "\(config.fleet.id)",
        "config": "\(settings.configPath)",
        "environment": "\(settings.environment ?? "(none)")",
        "flags": .dictionary(Dictionary(uniqueKeysWithValues: flagsOn.map { ($0.name, .string("\($0.enabled ? "on" : "off") [\($0.rule)]")) })),
    ])

    let router = Router(context: BasicRequestContext.self)
    router.get("healthz") { _, _ in
        HealthResponse(status: "ok")
    }
    router.get("v1/flags") { request, _ -> FlagsResponse in
        var properties: [String: String] = [:]
        for (key, value) in request.uri.queryParameters where key != "agentType" && key != "environment" {
            properties[String(key)] = String(value)
        }
        let context = FlagContext(
            agentType: request.uri.queryParameters["agentType"].map(String.init),
            environment: request.uri.queryParameters["environment"].map(String.init) ?? settings.environment,
            properties: properties
        )
        return FlagsResponse(config.features, context: context)
    }

    return Application(
        router: router,
        configuration: .init(address: .hostname(config.api.host, port: config.api.port), serverName: "fleetd"),
        onServerRunning: { channel in
            logger.info("fleetd listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        },
        logger: logger
    )
}

struct HealthResponse: ResponseEncodable {
    var status: String
}

/// `GET /v1/flags`: each flag's verdict for the query's context, and the settings behind them.
struct FlagsResponse: ResponseEncodable {
    struct Verdict: Encodable {
        var enabled: Bool
        var rule: String
    }
    struct Context: Encodable {
        var agentType: String?
        var environment: String?
        var properties: [String: String]
    }
    var flags: [String: Verdict]
    var context: Context
    var global: [String: FlagSetting]
    var agentTypeOverrides: [String: [String: FlagSetting]]
    var environmentOverrides: [String: [String: FlagSetting]]

    init(_ features: FeatureFlags, context: FlagContext) {
        flags = Dictionary(uniqueKeysWithValues: features.evaluateAll(in: context).map { ($0.name, Verdict(enabled: $0.enabled, rule: $0.rule)) })
        self.context = Context(agentType: context.agentType, environment: context.environment, properties: context.properties)
        global = features.global
        agentTypeOverrides = features.agentTypes
        environmentOverrides = features.environments
    }
}
