import Yams

/// An environment variable that overrode a value the config file sets to something else: the
/// file says one thing, fleetd runs on the variable's. Names only (the variable and the setting's
/// path), never a value: some are secrets (`DB_PASSWORD`, `API_KEY`, `JWT_SECRET`).
public struct EnvironmentOverride: Sendable, Hashable, CustomStringConvertible {
    /// The variable, e.g. `RATE_LIMIT_MAX`.
    public var variable: String
    /// The setting's path in the file, e.g. `api.rateLimit.max`.
    public var setting: String

    public init(variable: String, setting: String) {
        self.variable = variable
        self.setting = setting
    }

    public var description: String { "\(variable) overrides \(setting)" }
}

extension EnvironmentOverrides {
    /// The variables in `environment` that changed a value the file (`root`) sets: `fromFile` is
    /// the config as the file gave it, `effective` after ``apply(_:to:sink:)``. A variable for a
    /// setting the file leaves out, or set to what the file says, is not one.
    static func overridden(_ fromFile: FleetConfig, by effective: FleetConfig, root: Node,
                           environment: [String: String]) -> [EnvironmentOverride] {
        variables.compactMap { variable in
            guard environment[variable.name] != nil, variable.differs(fromFile, effective),
                  fileSets(variable.setting, in: root) else { return nil }
            return EnvironmentOverride(variable: variable.name, setting: variable.setting)
        }
    }

    /// Whether the document sets the dotted `path` (a YAML `null` does not).
    static func fileSets(_ path: String, in root: Node) -> Bool {
        var node = root
        for key in path.split(separator: ".") {
            guard case .mapping(let mapping) = node,
                  let value = mapping.first(where: { $0.key.scalar?.string == String(key) })?.value else { return false }
            node = value
        }
        if case .scalar = node, node.tagName == .null { return false }
        return true
    }
}
