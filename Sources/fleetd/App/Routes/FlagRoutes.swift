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
            // As `fleetd flags --agent-type` does: an agent type no agent runs is a mistake, not
            // the global flags under another name.
            if let type = request.uri.queryParameters["agentType"].map(String.init) {
                let known = snapshot.config.agents.isEmpty ? [snapshot.config.defaultAgentType] : snapshot.config.agents.map(\.type)
                guard known.contains(type) else {
                    throw APIError(.badRequest, code: "UNKNOWN_AGENT_TYPE",
                                   message: "no agent type '\(type)'; configured: \(known.joined(separator: ", "))", field: "agentType")
                }
            }
            return FlagsResponse(snapshot, context: flagContext(from: request))
        }
        admin.put("v1/flags/:name") { request, context -> FlagsResponse in
            var request = request
            let name = try context.parameters.require("name")
            guard FeatureFlags.known.contains(name) else {
                throw APIError(.notFound, code: "UNKNOWN_FLAG", message: "no flag '\(name)'; known flags: \(FeatureFlags.known.joined(separator: ", "))", field: "name")
            }
            let change = try await JSONBody.decode(FlagChangeRequest.self, from: &request, limit: api.value.maxBodyBytes)
            let (scope, setting) = try change.validated(name, in: await reloader.snapshot.config)
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

/// The body of `PUT /v1/flags/{name}`: an object with `enabled` and optionally `rollout`,
/// `agentType` or `environment`, nothing else (see ``init(from:)``).
struct FlagChangeRequest {
    var enabled: Bool
    var rollout: Rollout?
    /// Set the override for this agent type instead of the global value.
    var agentType: String?
    /// Set the override for this environment instead of the global value.
    var environment: String?

    struct Rollout {
        var percentage: Int
        var stickiness: String?
        var groupId: String?
    }

    /// Checks the change against the running config's agent types (`agentTypes`).
    func validated(agentTypes: [String]) throws -> (FlagScope, FlagSetting) {
        if agentType != nil, environment != nil {
            throw APIError(.badRequest, code: "INVALID_VALUE", message: "give either 'agentType' or 'environment', not both", field: "environment")
        }
        if let agentType, !agentTypes.contains(agentType) {
            throw APIError(.badRequest, code: "INVALID_VALUE",
                           message: "'agentType' names no configured agent type: '\(agentType)'; configured: \(agentTypes.joined(separator: ", "))",
                           field: "agentType")
        }
        if let environment, environment.trimmingCharacters(in: .whitespaces).isEmpty {
            throw APIError(.badRequest, code: "INVALID_VALUE", message: "'environment' must name an environment, not be empty", field: "environment")
        }
        var setting = FlagSetting(enabled: enabled)
        if let rollout {
            guard (0...100).contains(rollout.percentage) else {
                throw APIError(.badRequest, code: "INVALID_VALUE", message: "'rollout.percentage' must be between 0 and 100", field: "rollout.percentage")
            }
            if let stickiness = rollout.stickiness, stickiness.trimmingCharacters(in: .whitespaces).isEmpty {
                throw APIError(.badRequest, code: "INVALID_VALUE",
                               message: "'rollout.stickiness' must not be empty (it would turn the flag off for everyone); "
                                   + "give a context field such as userId or tenantId, '\(Stickiness.defaultName)' or '\(Stickiness.randomName)'",
                               field: "rollout.stickiness")
            }
            setting.rollout = Fleet.Rollout(percentage: rollout.percentage, stickiness: rollout.stickiness ?? Stickiness.defaultName, groupId: rollout.groupId)
        }
        let scope: FlagScope = agentType.map(FlagScope.agentType) ?? environment.map(FlagScope.environment) ?? .global
        return (scope, setting)
    }

    /// ``validated(agentTypes:)`` against `config`, where a rollout that names no group id or
    /// stickiness keeps the ones in force at that scope: a new group id would re-hash every user,
    /// and growing 10% to 20% would no longer keep the first 10% (the dashboard and the MCP `flags`
    /// tool send only the percentage, and maybe the stickiness).
    func validated(_ name: String, in config: FleetConfig) throws -> (FlagScope, FlagSetting) {
        var (scope, setting) = try validated(agentTypes: config.agentTypeNames)
        if var rollout = setting.rollout, let current = config.features.setting(name, at: scope)?.rollout {
            if self.rollout?.groupId == nil { rollout.groupId = current.groupId }
            if self.rollout?.stickiness == nil { rollout.stickiness = current.stickiness }
            setting.rollout = rollout
        }
        return (scope, setting)
    }
}

/// A key of a JSON object read by its name, so that keys a body should not have can be named.
private struct BodyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }

    init(_ name: String) {
        stringValue = name
    }

    init?(stringValue: String) {
        self.stringValue = stringValue
    }

    init?(intValue: Int) {
        return nil
    }
}

extension FlagChangeRequest: Decodable {
    private static let keys = ["enabled", "rollout", "agentType", "environment"]

    init(from decoder: any Decoder) throws {
        let object = try Self.object(decoder, path: "", allowed: Self.keys)
        enabled = try object.decode(Bool.self, forKey: BodyKey("enabled"))
        rollout = try object.decodeIfPresent(Rollout.self, forKey: BodyKey("rollout"))
        agentType = try object.decodeIfPresent(String.self, forKey: BodyKey("agentType"))
        environment = try object.decodeIfPresent(String.self, forKey: BodyKey("environment"))
    }

    /// The object at `path` (`""`: the body), or a 400 saying it is not one or naming the keys
    /// it has that are not `allowed`.
    fileprivate static func object(_ decoder: any Decoder, path: String, allowed: [String]) throws -> KeyedDecodingContainer<BodyKey> {
        let what = path.isEmpty ? "the body" : "'\(path)'"
        let object: KeyedDecodingContainer<BodyKey>
        do {
            object = try decoder.container(keyedBy: BodyKey.self)
        } catch is DecodingError {
            throw APIError(.badRequest, code: "WRONG_TYPE", message: "\(what) must be a JSON object {…}", field: path.isEmpty ? nil : path)
        }
        let unknown = object.allKeys.map(\.stringValue).filter { !allowed.contains($0) }.sorted()
        if let first = unknown.first {
            let names = unknown.map { "'\($0)'" }.joined(separator: ", ")
            throw APIError(.badRequest, code: "UNKNOWN_FIELD",
                           message: "\(what) has unknown \(unknown.count == 1 ? "key" : "keys") \(names); expected \(allowed.joined(separator: ", "))",
                           field: path.isEmpty ? first : "\(path).\(first)")
        }
        return object
    }
}

extension FlagChangeRequest.Rollout: Decodable {
    private static let keys = ["percentage", "stickiness", "groupId"]

    init(from decoder: any Decoder) throws {
        let object = try FlagChangeRequest.object(decoder, path: "rollout", allowed: Self.keys)
        // Read as a number first, so that 50.5 is named as what it is (not a whole number).
        let number = try object.decode(Double.self, forKey: BodyKey("percentage"))
        guard number.rounded() == number else {
            throw APIError(.badRequest, code: "INVALID_VALUE",
                           message: "'rollout.percentage' must be a whole number from 0 to 100, not \(number)", field: "rollout.percentage")
        }
        guard (0...100).contains(number) else {
            throw APIError(.badRequest, code: "INVALID_VALUE", message: "'rollout.percentage' must be between 0 and 100", field: "rollout.percentage")
        }
        percentage = Int(number)
        stickiness = try object.decodeIfPresent(String.self, forKey: BodyKey("stickiness"))
        groupId = try object.decodeIfPresent(String.self, forKey: BodyKey("groupId"))
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
