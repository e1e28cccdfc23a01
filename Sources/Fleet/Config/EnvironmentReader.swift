import Foundation

/// Reads typed values from environment variables; a bad value is an error naming the variable
/// (never echoing a secret's value).
struct EnvironmentReader {
    let environment: [String: String]
    let sink: DiagnosticSink

    private func fail(_ name: String, _ message: String) {
        sink.environmentError(name, message)
    }

    func string(_ name: String) -> String? {
        guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    func int(_ name: String, in range: ClosedRange<Int>) -> Int? {
        guard let text = string(name) else { return nil }
        guard let value = Int(text) else {
            fail(name, "expected an integer, got \"\(text)\"")
            return nil
        }
        guard range.contains(value) else {
            fail(name, "must be \(range.describedForHumans), got \(value)")
            return nil
        }
        return value
    }

    func double(_ name: String, check: (Double) -> String? = { _ in nil }) -> Double? {
        guard let text = string(name) else { return nil }
        guard let value = Double(text), value.isFinite else {
            fail(name, "expected a number, got \"\(text)\"")
            return nil
        }
        if let problem = check(value) {
            fail(name, "\(problem), got \(value.formattedForHumans)")
            return nil
        }
        return value
    }

    func bool(_ name: String) -> Bool? {
        guard let text = string(name) else { return nil }
        switch text.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default:
            fail(name, "expected true or false, got \"\(text)\"")
            return nil
        }
    }

    func choice<Value: RawRepresentable & CaseIterable>(_ name: String, as type: Value.Type) -> Value? where Value.RawValue == String {
        guard let text = string(name) else { return nil }
        guard let value = Value(rawValue: text.lowercased()) else {
            fail(name, "expected one of \(Value.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")), got \"\(text)\"")
            return nil
        }
        return value
    }

    /// A secret: only whether it is set, never its value, can reach a message.
    func secret(_ name: String) -> String? {
        string(name)
    }
}
