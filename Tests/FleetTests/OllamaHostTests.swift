import Routing
import Testing
@testable import Fleet

/// `OLLAMA_HOST` read as Ollama's own client reads it (`envconfig.Host`): the usual `0.0.0.0`
/// (set to expose Ollama) means port 11434, not 80.
@Suite struct OllamaHostTests {
    @Test(arguments: [
        ("0.0.0.0", "http://0.0.0.0:11434"),
        ("gpu-box:11500", "http://gpu-box:11500"),
        (":11434", "http://127.0.0.1:11434"),
        ("http://gpu-box", "http://gpu-box:80"),
        ("https://ollama.example.com", "https://ollama.example.com:443"),
        ("http://127.0.0.1:11434", "http://127.0.0.1:11434"),
        ("[::1]:11434", "http://[::1]:11434"),
        ("[::1]", "http://[::1]:11434"),
        ("http://proxy.example:8080/ollama", "http://proxy.example:8080/ollama"),
    ])
    func hostForms(_ value: String, _ url: String) {
        #expect(EffectiveModels.ollamaURL(host: value) == url)
    }

    @Test func aModelWithoutAnEndpointCallsOllamaHost() {
        let routing = RoutingConfiguration(defaultModel: "llama", models: [ModelConfiguration(name: "llama", provider: .ollama, model: "llama3.2")])
        let (effective, notes) = EffectiveModels.routing(for: routing, environment: ["OLLAMA_HOST": "0.0.0.0"])
        #expect(effective.models.first?.credentials?.endpoint == "http://0.0.0.0:11434", "\(notes)")
    }
}
