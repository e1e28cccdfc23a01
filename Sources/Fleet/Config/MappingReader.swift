import Yams

/// Reads one YAML mapping into typed values, reporting every problem with its position.
///
/// Each accessor marks its key as known; ``finish()`` then reports the keys nobody asked for
/// as unknown, with a "did you mean" when a known key is close. Nothing here throws: a bad
/// value is reported and the default is used, so one pass finds every problem in a file.
///
/// Written by hand on purpose: Yams' Codable decoder stops at the first error and its errors
/// carry a coding path but no line or column.
struct MappingReader {
    let path: String
    let mark: Mark?
    let sink: DiagnosticSink
    private let pairs: [(key: String, keyMark: Mark?, value: Node)]
    private var consumed: Set<String> = []

    /// A reader over `node`, or `nil` (with an error reported) when `node` is not a mapping.
    init?(_ node: Node, path: String, sink: DiagnosticSink) {
        guard case .mapping(let mapping) = node else {
            sink.error(path, at: node.mark, "expected a mapping, got \(node.yamlDescription)")
            return nil
        }
        // Duplicate keys never get here: Yams refuses them while composing (see ConfigLoader).
        var pairs: [(String, Mark?, Node)] = []
        for (key, value) in mapping {
            guard let name = key.scalar?.string else {
                sink.error(path, at: key.mark, "keys must be plain strings")
                continue
            }
            pairs.append((name, key.mark, value))
        }
        self.path = path
        self.mark = node.mark
        self.sink = sink
        self.pairs = pairs.map { (key: $0.0, keyMark: $0.1, value: $0.2) }
    }

    /// An empty reader for an absent section: every accessor returns its default.
    init(absent path: String, sink: DiagnosticSink) {
        self.path = path
        self.mark = nil
        self.sink = sink
        self.pairs = []
    }

    static func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    func child(_ key: String) -> String { Self.join(path, key) }

    /// All keys present, in file order.
    var keys: [String] { pairs.map(\.key) }

    /// The position of a key, for diagnostics raised after reading.
    func keyMark(_ key: String) -> Mark? { pairs.first { $0.key == key }?.keyMark }

    /// The raw node for `key`, marking it known. A YAML `null` counts as absent.
    mutating func node(_ key: String) -> Node? {
        consumed.insert(key)
        guard let value = pairs.first(where: { $0.key == key })?.value else { return nil }
        if case .scalar = value, value.tagName == .null { return nil }
        return value
    }

    /// Marks keys as known without reading them (for free-form sub-trees read elsewhere).
    mutating func accept(_ keys: String...) {
        consumed.formUnion(keys)
    }

    // MARK: Scalars

    mutating func string(_ key: String) -> String? {
        guard let value = node(key) else { return nil }
        guard case .scalar(let scalar) = value, value.tagName != .null else {
            sink.error(child(key), at: value.mark, "expected a string, got \(value.yamlDescription)")
            return nil
        }
        return scalar.string
    }

    mutating func string(_ key: String, default defaultValue: String) -> String {
        string(key) ?? defaultValue
    }

    mutating func int(_ key: String, in range: ClosedRange<Int>? = nil) -> Int? {
        guard let value = node(key) else { return nil }
        guard value.tagName == .int, let int = value.int else {
            sink.error(child(key), at: value.mark, "expected an integer, got \(value.yamlDescription)")
            return nil
        }
        if let range, !range.contains(int) {
            sink.error(child(key), at: value.mark, "must be \(range.describedForHumans), got \(int)")
            return nil
        }
        return int
    }

    mutating func int(_ key: String, default defaultValue: Int, in range: ClosedRange<Int>? = nil) -> Int {
        int(key, in: range) ?? defaultValue
    }

    /// A number (an integer is accepted where a decimal is expected). `check` returns a
    /// message when the value is out of range.
    mutating func double(_ key: String, check: (Double) -> String? = { _ in nil }) -> Double? {
        guard let value = node(key) else { return nil }
        guard value.tagName == .int || value.tagName == .float, let number = value.float, number.isFinite else {
            sink.error(child(key), at: value.mark, "expected a number, got \(value.yamlDescription)")
            return nil
        }
        if let problem = check(number) {
            sink.error(child(key), at: value.mark, "\(problem), got \(number.formattedForHumans)")
            return nil
        }
        return number
    }

    mutating func double(_ key: String, default defaultValue: Double, check: (Double) -> String? = { _ in nil }) -> Double {
        double(key, check: check) ?? defaultValue
    }

    mutating func bool(_ key: String) -> Bool? {
        guard let value = node(key) else { return nil }
        guard value.tagName == .bool, let bool = value.bool else {
            sink.error(child(key), at: value.mark, "expected true or false, got \(value.yamlDescription)")
            return nil
        }
        return bool
    }

    mutating func bool(_ key: String, default defaultValue: Bool) -> Bool {
        bool(key) ?? defaultValue
    }

    /// One of a fixed set of strings.
    mutating func choice<Value: RawRepresentable & CaseIterable>(_ key: String, default defaultValue: Value) -> Value
    where Value.RawValue == String {
        choice(key, as: Value.self) ?? defaultValue
    }

    mutating func choice<Value: RawRepresentable & CaseIterable>(_ key: String, as type: Value.Type) -> Value?
    where Value.RawValue == String {
        guard let value = node(key) else { return nil }
        let allowed = Value.allCases.map(\.rawValue)
        guard case .scalar(let scalar) = value, let parsed = Value(rawValue: scalar.string) else {
            var message = "expected one of \(allowed.map { "'\($0)'" }.joined(separator: ", ")), got \(value.yamlDescription)"
            if let text = value.scalar?.string, let near = Suggestion.closest(to: text, in: allowed) {
                message += " (did you mean '\(near)'?)"
            }
            sink.error(child(key), at: value.mark, message)
            return nil
        }
        return parsed
    }

    // MARK: Collections

    mutating func mapping(_ key: String) -> MappingReader? {
        guard let value = node(key) else { return nil }
        return MappingReader(value, path: child(key), sink: sink)
    }

    /// A sub-mapping, or an empty reader when the key is absent (so defaults apply).
    mutating func section(_ key: String) -> MappingReader {
        mapping(key) ?? MappingReader(absent: child(key), sink: sink)
    }

    /// The elements of a list, each with its path (`key[i]`).
    mutating func list(_ key: String) -> [(path: String, node: Node)]? {
        guard let value = node(key) else { return nil }
        guard case .sequence(let sequence) = value else {
            sink.error(child(key), at: value.mark, "expected a list, got \(value.yamlDescription)")
            return nil
        }
        return sequence.enumerated().map { ("\(child(key))[\($0.offset)]", $0.element) }
    }

    /// A list of strings; a single string is accepted as a one-element list.
    mutating func stringList(_ key: String) -> [String]? {
        guard let value = node(key) else { return nil }
        if case .scalar(let scalar) = value, value.tagName == .str { return [scalar.string] }
        guard case .sequence(let sequence) = value else {
            sink.error(child(key), at: value.mark, "expected a list of strings, got \(value.yamlDescription)")
            return nil
        }
        var result: [String] = []
        for (index, element) in sequence.enumerated() {
            guard case .scalar(let scalar) = element, element.tagName == .str else {
                sink.error("\(child(key))[\(index)]", at: element.mark, "expected a string, got \(element.yamlDescription)")
                continue
            }
            result.append(scalar.string)
        }
        return result
    }

    /// The keys present that are not in `known` (used for maps with free-form keys).
    var entries: [(key: String, keyMark: Mark?, value: Node)] { pairs }

    /// Reports every key that no accessor asked for.
    func finish() {
        for pair in pairs where !consumed.contains(pair.key) {
            var message = "unknown key '\(pair.key)'"
            if let near = Suggestion.closest(to: pair.key, in: Array(consumed)) {
                message += " (did you mean '\(near)'?)"
            }
            sink.error(child(pair.key), at: pair.keyMark, message)
        }
    }
}

extension Node {
    /// The resolved tag's name (`Tag.name` itself is internal to Yams; its description is the name).
    var tagName: Tag.Name { Tag.Name(rawValue: tag.description) }

    /// How a value is named in an error: `the string "ten"`, `a list`, `the number 3` …
    var yamlDescription: String {
        switch self {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            switch tagName {
            case .null: return "null"
            case .bool: return scalar.string
            case .int, .float: return "the number \(scalar.string)"
            default:
                let text = scalar.string.count > 40 ? String(scalar.string.prefix(40)) + "…" : scalar.string
                return "the string \"\(text)\""
            }
        }
    }
}

extension ClosedRange where Bound == Int {
    var describedForHumans: String {
        if upperBound == Int.max { return "at least \(lowerBound)" }
        return "between \(lowerBound) and \(upperBound)"
    }
}

extension Double {
    /// `3` rather than `3.0`, `0.25` as is.
    var formattedForHumans: String {
        rounded() == self && abs(self) < 1e15 ? String(Int(self)) : String(self)
    }
}
