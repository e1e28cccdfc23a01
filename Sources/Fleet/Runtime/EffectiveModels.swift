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
            // OLLAMA_HOST may be a bare host:port, as the Ollama client accepts it.
            if provider == .ollama, !url.contains("://") { url = "http://" + url }
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
}
