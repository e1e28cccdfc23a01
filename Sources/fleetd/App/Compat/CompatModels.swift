import Fleet
import FleetSupport
import Foundation
import Providers
import Routing

/// What a compatible client's `model` means, and the model lists of `GET /v1/models`.
///
/// A `model` is, in this order: `auto` (the router chooses); `fleet/<agent type>` (that agent
/// type, the router chooses); a name in `api.modelAliases` (its agent type and model); a model's
/// name in `routing.models`; a provider model id (`routing.models[].model`); the same id under
/// another name of its snapshot (``family(_:)``: Anthropic's undated alias `claude-sonnet-4-5` or
/// `claude-3-5-haiku-latest` for a configured `claude-sonnet-4-5-20250929` or
/// `claude-3-5-haiku-20241022`, a dated `gpt-4o-2024-08-06` for a configured `gpt-4o`), as the
/// SDKs' users and Claude Code send them. The last three send the task to that model first, then
/// its fallback chain. Anything else is 404. A model this
/// fleetd cannot use (switched off in the file, or its provider's API key not set here) is 403.
struct CompatModels {
    let config: FleetConfig
    /// Models switched off here because their API key is not set, by name, with the variable
    /// (the router's effective models, ``EffectiveModels``): refused with 403 naming the
    /// variable, and left out of the lists, which hold what a client can call.
    var missingKeys: [String: String] = [:]

    /// What a `model` resolves to.
    struct Target: Sendable {
        var agentType: String?
        var preferredModel: String?
    }

    static let autoName = "auto"
    static let agentPrefix = "fleet/"

    func resolve(_ name: String, dialect: CompatDialect) throws(CompatError) -> Target {
        let types = Set(config.agents.map(\.type))
        if name == Self.autoName { return Target() }
        if name.hasPrefix(Self.agentPrefix) {
            let type = String(name.dropFirst(Self.agentPrefix.count))
            guard types.contains(type) || (types.isEmpty && type == "default") else {
                throw CompatError(dialect, status: 404, openAIType: "invalid_request_error", anthropicType: "not_found_error",
                                  message: "model '\(name)': no agent type '\(type)'; configured: \(types.sorted().joined(separator: ", "))",
                                  param: "model", code: "model_not_found")
            }
            return Target(agentType: type)
        }
        if let alias = config.api.modelAliases[name] {
            let model = alias.model == Self.autoName ? nil : alias.model
            if let model { try checkEnabled(model, asked: name, dialect: dialect) }
            return Target(agentType: alias.agentType, preferredModel: model)
        }
        let models = config.routing.models
        if let model = models.first(where: { $0.name == name }) ?? providerModel(name) {
            try checkEnabled(model.name, asked: name, dialect: dialect)
            return Target(preferredModel: model.name)
        }
        throw CompatError(dialect, status: 404, openAIType: "invalid_request_error", anthropicType: "not_found_error",
                          message: "model '\(name)' is not configured: use 'auto', 'fleet/<agent type>', an alias or a model of GET /v1/models",
                          param: "model", code: "model_not_found")
    }

    /// The model a provider model id names: its own id first, then another name of its snapshot
    /// (``family(_:)``); a usable model before one switched off.
    private func providerModel(_ id: String) -> ModelConfiguration? {
        let models = config.routing.models
        if let exact = models.first(where: { $0.model == id && usable($0) }) ?? models.first(where: { $0.model == id }) {
            return exact
        }
        let family = Self.family(id)
        return models.first(where: { Self.family($0.model) == family && usable($0) })
            ?? models.first(where: { Self.family($0.model) == family })
    }

    /// A provider model id without what names one snapshot of it: a trailing date (Anthropic's
    /// `-20250929`, OpenAI's `-2024-08-06`), Anthropic's alias suffixes `-latest` and `-0`
    /// (`claude-opus-4-0` is `claude-opus-4-20250514`) or Ollama's default tag `:latest`. Ids
    /// without them are their own family.
    static func family(_ id: String) -> Substring {
        var id = Substring(id)
        for suffix in ["-latest", "-0", ":latest"] where id.hasSuffix(suffix) {
            return id.dropLast(suffix.count)
        }
        func digits(_ text: Substring) -> Bool { text.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") } }
        let parts = id.split(separator: "-", omittingEmptySubsequences: false)
        if parts.count > 1, let last = parts.last, last.count == 8, digits(last) {
            id = id.dropLast(9)
        } else if parts.count > 3, parts[parts.count - 3].count == 4, parts[parts.count - 2].count == 2, parts[parts.count - 1].count == 2,
                  parts.suffix(3).allSatisfy(digits) {
            id = id.dropLast(11)
        }
        return id
    }

    /// Whether this fleetd can call the model: enabled in the file, and its key set.
    func usable(_ model: ModelConfiguration) -> Bool {
        model.enabled && missingKeys[model.name] == nil
    }

    /// A model this fleetd cannot use is 403 (the SDKs' `PermissionDeniedError`, which they do not
    /// retry): it exists, and this fleet does not let it be used, because the file switches it off
    /// or because its provider's API key is not set here (the message names the variable, never a
    /// value). Not 503: retrying cannot help until the operator sets the key.
    private func checkEnabled(_ name: String, asked: String, dialect: CompatDialect) throws(CompatError) {
        guard let model = config.routing.models.first(where: { $0.name == name }) else { return }
        if !model.enabled {
            throw CompatError(dialect, status: 403, openAIType: "permission_error", anthropicType: "permission_error",
                              message: "model '\(asked)' is disabled in this fleet's configuration", param: "model", code: "model_disabled")
        }
        if let variable = missingKeys[model.name] {
            throw CompatError(dialect, status: 403, openAIType: "permission_error", anthropicType: "permission_error",
                              message: "model '\(asked)' cannot be used: no API key (\(variable) not set in fleetd's environment)",
                              param: "model", code: "model_key_missing")
        }
    }

    /// One name of the model lists: what a client may send as `model`, who owns it, its display name.
    struct Entry: Sendable, Equatable {
        var id: String
        var owner: String
        var display: String
    }

    /// Every name a client may send, with its owner: `auto`, `fleet/<type>`, the aliases, the
    /// models this fleetd can call (by fleet name; not those switched off or without their key). Each name once, in the order ``resolve(_:dialect:)`` reads
    /// them: an alias with a model's name is what that name means, so the model is not listed
    /// again under it (`fleetd validate` warns of the shadowing).
    var entries: [Entry] {
        var entries = [Entry(id: Self.autoName, owner: "fleetd", display: "fleetd router: the model is chosen per request")]
        let types = config.agents.isEmpty ? ["default"] : config.agents.map(\.type)
        entries += types.map { Entry(id: "\(Self.agentPrefix)\($0)", owner: "fleetd", display: "fleetd agent type \($0); the router chooses the model") }
        entries += config.api.modelAliases.keys.sorted().map { Entry(id: $0, owner: "fleetd", display: "fleetd alias \($0)") }
        entries += config.routing.models.filter({ usable($0) }).map {
            Entry(id: $0.name, owner: $0.provider.rawValue, display: "\($0.name) (\($0.provider.rawValue) \($0.model))")
        }
        var seen: Set<String> = []
        return entries.filter { seen.insert($0.id).inserted }
    }

    /// The entry of the lists named `id`; else, for a provider model id or another name of its
    /// snapshot (which a chat request may name too, ``resolve(_:dialect:)``), that model's entry
    /// under the id asked for; `nil` when neither.
    func entry(_ id: String) -> Entry? {
        if let listed = entries.first(where: { $0.id == id }) { return listed }
        guard let model = providerModel(id), usable(model) else { return nil }
        return Entry(id: id, owner: model.provider.rawValue, display: "\(model.name) (\(model.provider.rawValue) \(model.model))")
    }

    /// OpenAI's model object: `{"id", "object": "model", "created", "owned_by"}`.
    static func openAIModel(_ entry: Entry, created: Int) -> JSONValue {
        .object(["id": .string(entry.id), "object": .string("model"), "created": .number(Double(created)), "owned_by": .string(entry.owner)])
    }

    /// Anthropic's model object: `{"type": "model", "id", "display_name", "created_at"}`.
    static func anthropicModel(_ entry: Entry, createdAt: String) -> JSONValue {
        .object(["type": .string("model"), "id": .string(entry.id), "display_name": .string(entry.display), "created_at": .string(createdAt)])
    }

    /// OpenAI's list: `{"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}`.
    func openAIList(created: Int) -> JSONValue {
        .object(["object": .string("list"), "data": .array(entries.map { Self.openAIModel($0, created: created) })])
    }

    /// Anthropic's list: `{"data": [{"type": "model", "id", "display_name", "created_at"}], "has_more", "first_id", "last_id"}`.
    func anthropicList(createdAt: String) -> JSONValue {
        let listed = entries
        let data = listed.map { Self.anthropicModel($0, createdAt: createdAt) }
        let first: JSONValue = listed.first.map { .string($0.id) } ?? .null
        let last: JSONValue = listed.last.map { .string($0.id) } ?? .null
        return .object(["data": .array(data), "has_more": .bool(false), "first_id": first, "last_id": last])
    }

    /// Which list `GET /v1/models` answers: `?format=openai|anthropic|fleetd` when given; else
    /// Anthropic's when the request carries `anthropic-version` or `x-api-key` (Anthropic's SDKs
    /// send both), OpenAI's when it carries `Authorization: Bearer` (OpenAI's SDKs send it), and
    /// fleetd's own view (models with breakers, history and quotas) otherwise: fleetd's callers
    /// send neither header.
    enum ListShape: String {
        case fleetd, openai, anthropic
    }

    static func listShape(format: String?, anthropicVersion: Bool, apiKeyHeader: Bool, bearer: Bool) -> ListShape? {
        if let format { return ListShape(rawValue: format) }
        if anthropicVersion || apiKeyHeader { return .anthropic }
        if bearer { return .openai }
        return .fleetd
    }
}
