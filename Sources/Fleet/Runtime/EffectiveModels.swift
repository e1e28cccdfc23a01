import Agents
import Foundation
import Routing

/// Which configured models can actually be called here, and the routing configuration that
/// follows: a model whose API key is not in the environment is switched off (with a note), and
/// when the default model cannot be called the local last resort stands in for it, clearly
/// labelled. With no models at all, fleetd's built-in local responder is the only model.
public enum EffectiveModels {
    /// The built-in responder fleetd adds when a config names no model.
    public static let builtinName = "local-builtin"

    public static func routing(for configuration: RoutingConfiguration, environment: [String: String]) -> (RoutingConfiguration, notes: [String]) {
        var routing = configuration
        var notes: [String] = []
        if routing.models.isEmpty {
            routing.models = [ModelConfiguration(name: builtinName, provider: .builtin, model: "fleetd-builtin",
                                                 capabilities: ModelCapabilities(maxTokens: 1_000_000))]
            routing.defaultModel = builtinName
            routing.lastResort = builtinName
            notes.append("no models are configured: every task is answered by fleetd's built-in local responder (no model is called)")
            return (routing, notes)
        }
        for index in routing.models.indices where routing.models[index].credentials?.endpoint == nil {
            let provider = routing.models[index].provider
            guard let variable = provider.baseURLVariable, var url = environment[variable], !url.isEmpty else { continue }
            if provider == .ollama { url = Self.ollamaURL(host: url) }
            var credentials = routing.models[index].credentials ?? ModelCredentials()
            credentials.endpoint = url
            routing.models[index].credentials = credentials
            notes.append("model \(routing.models[index].name) calls \(url) (from \(variable))")
        }
        for index in routing.models.indices where routing.models[index].enabled {
            let model = routing.models[index]
            let endpoint = TaskRuntime.endpoint(for: model, streaming: true)
            guard endpoint.requiresAPIKey, let variable = endpoint.resolvedAPIKeyVariable else { continue }
            if (environment[variable] ?? "").isEmpty {
                routing.models[index].enabled = false
                routing.models[index].missingAPIKeyVariable = variable
                notes.append("model \(model.name) is off: \(variable) is not set")
            }
        }
        if !routing.models.contains(where: \.enabled) {
            // Nothing configured can be called (no keys): the built-in responder, labelled, so
            // fleetd still answers; the configured models come back on a reload once keys are set.
            routing.models.append(ModelConfiguration(name: builtinName, provider: .builtin, model: "fleetd-builtin",
                                                     capabilities: ModelCapabilities(maxTokens: 1_000_000)))
            routing.lastResort = builtinName
            notes.append("no configured model can be called here: tasks are answered by fleetd's built-in local responder (no model is called)")
        }
        let usable = Set(routing.models.filter(\.enabled).map(\.name))
        if let defaultModel = routing.defaultModel, !usable.contains(defaultModel) {
            if let lastResort = routing.lastResort, usable.contains(lastResort) {
                routing.defaultModel = lastResort
                notes.append("the default model \(defaultModel) cannot be called; the local default \(lastResort) stands in for it")
            }
        } else if routing.defaultModel == nil, let lastResort = routing.lastResort, usable.contains(lastResort) {
            routing.defaultModel = lastResort
        }
        return (routing, notes)
    }

    /// `OLLAMA_HOST` as Ollama's own client reads it (`envconfig.Host`): a scheme (`http` when
    /// none), a host (`127.0.0.1` when none, as in `:11434`) and a port (when none: 11434 for a
    /// bare host such as the usual `0.0.0.0`, 80 or 443 for an `http://` or `https://` URL).
    static func ollamaURL(host value: String) -> String {
        var text = value.trimmingCharacters(in: .whitespaces)
        var scheme = "http"
        var port = "11434"
        if let range = text.range(of: "://") {
            scheme = String(text[..<range.lowerBound])
            text = String(text[range.upperBound...])
            port = scheme == "https" ? "443" : "80"
        }
        var path = ""
        if let slash = text.firstIndex(of: "/") {
            path = String(text[slash...])
            text = String(text[..<slash])
        }
        var host = text
        if text.hasPrefix("[") {
            // An IPv6 address: [::1] or [::1]:11434.
            if let close = text.firstIndex(of: "]") {
                host = String(text[...close])
                let rest = text[text.index(after: close)...]
                if rest.hasPrefix(":"), rest.count > 1 { port = String(rest.dropFirst()) }
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            let given = text[text.index(after: colon)...]
            if !given.isEmpty { port = String(given) }
        }
        if host.isEmpty { host = "127.0.0.1" }
        return "\(scheme)://\(host):\(port)\(path == "/" ? "" : path)"
    }
}
