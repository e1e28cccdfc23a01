import Fleet
import FleetSupport
import Foundation
import HTTPTypes
import Hummingbird

/// `GET /v1/flags` (anyone) and `PUT /v1/flags/{name}` (admin).
struct FlagRoutes {
    let reloader: ConfigReloader
    let environment: String?
    /// `api.maxBodyBytes` and the rest of the live `api` section (a reload applies at once).
    let api: LiveSetting<APISection>
    /// Every change made here, for `GET /v1/flags/history`.
    let changes: FlagChangeLog

    func register(public router: some RouterMethods<FleetRequestContext>, fleetWide: some RouterMethods<FleetRequestContext>,
                  admin: some RouterMethods<FleetRequestContext>) {
        // Who changed which flag: for callers who see every tenant (the dashboard's Flags page).
        fleetWide.get("v1/flags/history") { request, _ -> Response in
            let limit = request.uri.queryParameters["limit"].flatMap { Int(String($0)) } ?? 100
            return try jsonResponse(["changes": changes.newestFirst(limit: min(max(limit, 0), changes.capacity))])
        }
        router.get("v1/flags") { request, _ -> FlagsResponse in
            let snapshot = await reloader.snapshot
            return FlagsResponse(snapshot, context: flagContext(from: request))
        }
        admin.put("v1/flags/:name") { request, context -> FlagsResponse in
            var request = request
            let name = try context.parameters.require("name")
            guard FeatureFlags.known.contains(name) else {
                throw APIError(.notFound, code: "UNKNOWN_FLAG", message: "no flag '\(name)'; known flags: \(FeatureFlags.known.joined(separator: ", "))", field: "name")
            }
            let change = try await JSONBody.decode(FlagChangeRequest.self, from: &request, limit: api.value.maxBodyBytes)
            let (scope, setting) = try change.validated(name, keepingRolloutOf: await reloader.snapshot.config.features)
            let snapshot = try await FlagChangeLog.apply(
                name, scope: scope, to: setting, through: reloader, log: changes,
                by: FlagChangeLog.actor(operatorName: request.headers[HTTPField.Name("x-fleetd-operator")!]),
                from: context.clientAddress ?? context.remoteAddress.map { $0.ipAddress ?? "\($0)" })
            return FlagsResponse(snapshot, context: flagContext(from: request))
        }
    }

    private func flagContext(from request: Request) -> FlagContext {
        var properties: [String: String] = [:]
        for (key, value) in request.uri.queryParameters where key != "agentType" && key != "environment" {
            properties[String(key)] = String(value)
        }
        return FlagContext(
            agentType: request.uri.queryParameters["agentType"].map(String.init),
            environment: request.uri.queryParameters["environment"].map(String.init) ?? environment,
            properties: properties
        )
    }
}

/// The body of `PUT /v1/flags/{name}`.
struct FlagChangeRequest: Decodable {
    var enabled: Bool
    var rollout: Rollout?
    /// Set the override for this agent type instead of the global value.
    var agentType: String?
    /// Set the override for this environment instead of the global value.
    var environment: String?

    struct Rollout: Decodable {
        var percentage: Int
        var stickiness: String?
        var groupId: String?
    }

    func validated() throws -> (FlagScope, FlagSetting) {
        if agentType != nil, environment != nil {
            throw APIError(.badRequest, code: "INVALID_VALUE", message: "give either 'agentType' or 'environment', not both", field: "environment")
        }
        var setting = FlagSetting(enabled: enabled)
        if let rollout {
            guard (0...100).contains(rollout.percentage) else {
                throw APIError(.badRequest, code: "INVALID_VALUE", message: "'rollout.percentage' must be between 0 and 100", field: "rollout.percentage")
            }
            setting.rollout = Fleet.Rollout(percentage: rollout.percentage, stickiness: rollout.stickiness ?? Stickiness.defaultName, groupId: rollout.groupId)
        }
        let scope: FlagScope = agentType.map(FlagScope.agentType) ?? environment.map(FlagScope.environment) ?? .global
        return (scope, setting)
    }

    /// ``validated()``, where a rollout that names no group id or stickiness keeps the ones in
    /// force at that scope: a new group id would re-hash every user, and growing 10% to 20% would
    /// no longer keep the first 10% (the dashboard and the MCP `flags` tool send only the
    /// percentage, and maybe the stickiness).
    func validated(_ name: String, keepingRolloutOf features: FeatureFlags) throws -> (FlagScope, FlagSetting) {
        var (scope, setting) = try validated()
        if var rollout = setting.rollout, let current = features.setting(name, at: scope)?.rollout {
            if self.rollout?.groupId == nil { rollout.groupId = current.groupId }
            if self.rollout?.stickiness == nil { rollout.stickiness = current.stickiness }
            setting.rollout = rollout
        }
        return (scope, setting)
    }
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
    var runtimeChanges: [RuntimeFlagStore.Change]
    var configGeneration: Int

    init(_ snapshot: ConfigReloader.Snapshot, context: FlagContext) {
        let features = snapshot.config.features
        flags = Dictionary(uniqueKeysWithValues: snapshot.config.effectiveFlags(in: context).map { ($0.name, Verdict(enabled: $0.enabled, rule: $0.rule)) })
        self.context = Context(agentType: context.agentType, environment: context.environment, properties: context.properties)
        global = features.global
        agentTypeOverrides = features.agentTypes
        environmentOverrides = features.environments
        runtimeChanges = snapshot.runtimeFlagChanges
        configGeneration = snapshot.generation
    }
}
