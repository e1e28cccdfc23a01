import FleetSupport
import Yams

// Reading the config document into `FleetConfig`, one section at a time. Every reader reports
// problems into the shared sink and falls back to the default, so one pass finds them all.

extension FleetConfig {
    /// Decodes a composed YAML document. Problems go to `sink`; the result holds defaults where
    /// values were missing or bad, and is only meaningful when the sink has no errors.
    static func decode(_ root: Node, sink: DiagnosticSink) -> FleetConfig {
        var config = FleetConfig()
        guard var top = MappingReader(root, path: "", sink: sink) else { return config }
        config.fleet = decodeFleet(top.section("fleet"))
        let (agents, agentFlags) = decodeAgents(&top, sink: sink)
        config.agents = agents
        config.database = decodeDatabase(top.section("database"))
        config.logging = decodeLogging(top.section("logging"))
        config.api = decodeAPI(top.section("api"))
        config.security = decodeSecurity(top.section("security"))
        if var ai = top.mapping("ai") {
            config.legacyAIModel = ai.string("model")
            ai.finish()
        }
        config.features = decodeFeatures(&top)
        // An agent type's own `config.features`; `featureOverrides.agentType` wins where both set a flag.
        for (type, flags) in agentFlags {
            config.features.agentTypes[type] = flags.merging(config.features.agentTypes[type] ?? [:]) { $1 }
        }
        decodeComponents(into: &config, &top, sink: sink)
        // A v1.0.4 file: no models, `ai.model` names the one model it called. It stays the default
        // model, as the migration writes it (routing stays off unless the file turns it on).
        if config.routing.models.isEmpty, let id = config.legacyAIModel, !id.isEmpty {
            config.routing.models = [LegacyAIModel.model(id: id)]
            if config.routing.defaultModel == nil { config.routing.defaultModel = id }
        }
        // `x-…` keys hold what the file itself reuses (`x-model-defaults: &defaults …`, as in
        // Compose files): not settings, and not unknown.
        for entry in top.entries where entry.key.hasPrefix("x-") { top.accept(entry.key) }
        top.finish()
        return config
    }

    private static func decodeFleet(_ reader: MappingReader) -> FleetSection {
        var r = reader
        var fleet = FleetSection()
        fleet.id = r.string("id", default: fleet.id)
        fleet.name = r.string("name", default: fleet.name)
        fleet.maxAgents = r.int("maxAgents", default: fleet.maxAgents, in: 1...100_000)
        fleet.heartbeatInterval = r.int("heartbeatInterval", default: fleet.heartbeatInterval, in: 1...Int.max)
        fleet.taskTimeout = r.int("taskTimeout", default: fleet.taskTimeout, in: 1...Int.max)
        r.finish()
        return fleet
    }

    private static func decodeAgents(_ top: inout MappingReader, sink: DiagnosticSink) -> ([AgentSpec], [String: [String: FlagSetting]]) {
        guard let items = top.list("agents") else { return ([], [:]) }
        var specs: [AgentSpec] = []
        var flags: [String: [String: FlagSetting]] = [:]
        var seen: [String: Mark?] = [:]
        for (path, node) in items {
            guard var r = MappingReader(node, path: path, sink: sink) else { continue }
            let type = r.string("type")
            let count = r.int("count", default: 1, in: 0...100_000)
            var config: [String: ConfigValue] = [:]
            var ownFlags: [String: FlagSetting]?
            if let configNode = r.node("config") {
                if case .mapping = configNode, case .map(let map) = ConfigValue(configNode) {
                    config = map
                    if let featuresNode = configNode["features"],
                       let features = MappingReader(featuresNode, path: "\(path).config.features", sink: sink) {
                        ownFlags = decodeFlagMap(features)
                    }
                } else {
                    sink.error("\(path).config", at: configNode.mark, "expected a mapping, got \(configNode.yamlDescription)")
                }
            }
            r.finish()
            guard let type, !type.isEmpty else {
                sink.error("\(path).type", at: node.mark, "every agent needs a 'type'")
                continue
            }
            if seen[type] != nil {
                sink.error("\(path).type", at: r.keyMark("type"), "agent type '\(type)' is listed twice; use one entry with a count")
            }
            seen[type] = r.keyMark("type")
            specs.append(AgentSpec(type: type, count: count, config: config))
            if let ownFlags { flags[type] = ownFlags }
        }
        return (specs, flags)
    }

    private static func decodeDatabase(_ reader: MappingReader) -> DatabaseSection {
        var r = reader
        var db = DatabaseSection()
        db.type = r.choice("type", default: db.type)
        db.filename = r.string("filename", default: db.filename)
        db.host = r.string("host")
        db.port = r.int("port", in: 1...65_535)
        db.database = r.string("database")
        db.username = r.string("username")
        db.password = r.string("password")
        db.tls = r.choice("tls", default: db.tls)
        db.poolSize = r.int("poolSize", default: db.poolSize, in: 1...1_000)
        db.reservationLeaseSeconds = r.int("reservationLeaseSeconds", default: db.reservationLeaseSeconds, in: 1...86_400)
        db.timeoutSeconds = r.double("timeoutSeconds", default: db.timeoutSeconds) { $0 > 0 && $0 <= 600 ? nil : "must be more than 0 and at most 600" }
        if db.password != nil {
            r.sink.warning(r.child("password"), at: r.keyMark("password"),
                           "a secret in the config file; set the DB_PASSWORD environment variable instead")
        }
        if db.type == .mysql {
            r.sink.warning(r.child("type"), at: r.keyMark("type"),
                           "'\(db.type.rawValue)' is accepted for v1.0.4 compatibility but fleetd's store runs on SQLite or PostgreSQL; set database.type: sqlite (with database.filename) or postgres to run")
        }
        r.finish()
        return db
    }

    private static func decodeLogging(_ reader: MappingReader) -> LoggingSection {
        var r = reader
        var logging = LoggingSection()
        logging.level = r.choice("level", default: logging.level)
        logging.format = r.choice("format", default: logging.format)
        if let outputs = r.stringList("outputs") {
            logging.outputs = []
            for output in outputs {
                if let parsed = LoggingSection.Output(rawValue: output) {
                    logging.outputs.append(parsed)
                } else {
                    r.sink.error(r.child("outputs"), at: r.keyMark("outputs"), "unknown output '\(output)'; expected 'console' or 'file'")
                }
            }
        }
        logging.file = r.string("file", default: logging.file)
        r.finish()
        return logging
    }

    private static func decodeAPI(_ reader: MappingReader) -> APISection {
        var r = reader
        var api = APISection()
        api.host = r.string("host", default: api.host)
        api.port = r.int("port", default: api.port, in: 0...65_535)
        if let cors = r.node("cors") {
            if cors.tagName == .bool, let enabled = cors.bool {
                api.corsOrigins = enabled ? ["*"] : []
            } else if let origins = r.stringList("cors") {
                api.corsOrigins = origins
            }
        }
        if let hosts = r.stringList("allowedHosts") { api.allowedHosts = hosts.map { $0.lowercased() } }
        if var limit = r.mapping("rateLimit") {
            api.rateLimit.windowMs = limit.int("windowMs", default: api.rateLimit.windowMs, in: 1...Int.max)
            api.rateLimit.max = limit.int("max", default: api.rateLimit.max, in: 0...Int.max)
            limit.finish()
        }
        if let proxies = r.node("trustedProxies") {
            api.trustedProxies = decodeTrustedProxies(proxies, path: r.child("trustedProxies"), sink: r.sink)
        }
        api.maxBodyBytes = r.int("maxBodyBytes", default: api.maxBodyBytes, in: 1...Int.max)
        api.maxQueuedTasks = r.int("maxQueuedTasks", default: api.maxQueuedTasks, in: 1...1_000_000)
        api.drainTimeoutSeconds = r.int("drainTimeoutSeconds", default: api.drainTimeoutSeconds, in: 0...3_600)
        if let aliases = r.mapping("modelAliases") {
            for entry in aliases.entries {
                guard var alias = MappingReader(entry.value, path: aliases.child(entry.key), sink: aliases.sink) else { continue }
                api.modelAliases[entry.key] = APISection.ModelAlias(agentType: alias.string("agentType"), model: alias.string("model"))
                alias.finish()
            }
        }
        api.allowUnauthenticated = r.bool("allowUnauthenticated", default: api.allowUnauthenticated)
        r.finish()
        return api
    }

    /// `api.trustedProxies`: a list of addresses and CIDR blocks (one string is a list of one).
    /// Every entry that is neither is an error at its own position.
    private static func decodeTrustedProxies(_ node: Node, path: String, sink: DiagnosticSink) -> [IPNetwork] {
        let items: [(path: String, node: Node)]
        switch node {
        case .scalar:
            items = [(path, node)]
        case .sequence(let sequence):
            items = sequence.enumerated().map { ("\(path)[\($0.offset)]", $0.element) }
        default:
            sink.error(path, at: node.mark, "expected a list of IP addresses or CIDR blocks, got \(node.yamlDescription)")
            return []
        }
        var networks: [IPNetwork] = []
        for item in items {
            // Any scalar: YAML 1.1 reads some IPv6 texts (`1:2:3:4:5:6:7:8`) as sexagesimal numbers.
            guard case .scalar(let scalar) = item.node, item.node.tagName != .null else {
                sink.error(item.path, at: item.node.mark, "expected an IP address or CIDR block, got \(item.node.yamlDescription)")
                continue
            }
            let text = scalar.string
            guard let network = IPNetwork(text) else {
                sink.error(item.path, at: item.node.mark,
                           "'\(text)' is not an IP address or CIDR block (such as 10.0.0.0/8, 192.0.2.7 or fd00::/8); names are not resolved, give the proxy's address")
                continue
            }
            if network.prefixLength == 0 {
                sink.warning(item.path, at: item.node.mark,
                             "'\(text)' trusts every peer: any client can choose the address it is counted and logged as with X-Forwarded-For; list only your proxies")
            }
            networks.append(network)
        }
        return networks
    }

    private static func decodeSecurity(_ reader: MappingReader) -> SecuritySection {
        var r = reader
        var security = SecuritySection()
        for (key, variable) in [("apiKey", "API_KEY"), ("jwtSecret", "JWT_SECRET")] {
            guard let value = r.string(key) else { continue }
            if key == "apiKey" { security.apiKey = value } else { security.jwtSecret = value }
            r.sink.warning(r.child(key), at: r.keyMark(key),
                           "a secret in the config file; set the \(variable) environment variable instead")
        }
        if var encryption = r.mapping("encryption") {
            var section = SecuritySection.Encryption()
            section.algorithm = encryption.string("algorithm", default: section.algorithm)
            section.keyLength = encryption.int("keyLength", default: section.keyLength, in: 1...1_024)
            encryption.finish()
            security.encryption = section
        }
        r.finish()
        return security
    }
}
