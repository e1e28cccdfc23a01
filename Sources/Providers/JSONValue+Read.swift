/// A JSON value that is not of the shape a provider's wire type has: which member, and what it
/// should have been. Read as `JSONDecoder`'s type mismatch would be: the chunk is undecodable.
struct JSONShapeError: Error, CustomStringConvertible {
    var path: String
    var expected: String
    var description: String { "\(path) is not \(expected)" }
}

/// Reading a provider's answer from a parsed ``JSONValue`` by hand, as the `Decodable` wire types
/// read it with `JSONDecoder`: a member that is absent or `null` is `nil`, one of another kind is
/// an error, members not asked for are ignored.
///
/// Why: every SSE chunk of an OpenAI-format stream was decoded by `JSONDecoder`, about 7% of
/// fleetd's CPU for a ten-chunk stream through `/v1/chat/completions` in a `perf` profile, and a
/// real answer has hundreds of chunks; every other provider's events and answers likewise
/// (docs/performance.md, "JSON answers written by hand").
extension JSONValue {
    /// `self` as an object's members; an error naming `path` otherwise.
    func members(_ path: String) throws -> JSONObject {
        guard case .object(let members) = self else { throw JSONShapeError(path: path, expected: "an object") }
        return members
    }
}

extension JSONObject {
    func string(_ key: String, in path: String) throws -> String? {
        switch self[key] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw JSONShapeError(path: "\(path).\(key)", expected: "a string")
        }
    }

    /// A string member that must be there (not `null`), as a non-optional `String` property.
    func requiredString(_ key: String, in path: String) throws -> String {
        guard let text = try string(key, in: path) else { throw JSONShapeError(path: "\(path).\(key)", expected: "present") }
        return text
    }

    func bool(_ key: String, in path: String) throws -> Bool? {
        switch self[key] {
        case nil, .null?: return nil
        case .bool(let value)?: return value
        default: throw JSONShapeError(path: "\(path).\(key)", expected: "true or false")
        }
    }

    /// A whole number that fits an `Int` (`3`, `3.0`), as `JSONDecoder` reads an `Int`.
    func int(_ key: String, in path: String) throws -> Int? {
        switch self[key] {
        case nil, .null?: return nil
        case .number(let number)?:
            guard number == number.rounded(.towardZero), let whole = Int(exactly: number) else {
                throw JSONShapeError(path: "\(path).\(key)", expected: "a whole number")
            }
            return whole
        default: throw JSONShapeError(path: "\(path).\(key)", expected: "a number")
        }
    }

    func object(_ key: String, in path: String) throws -> JSONObject? {
        switch self[key] {
        case nil, .null?: return nil
        case .object(let members)?: return members
        default: throw JSONShapeError(path: "\(path).\(key)", expected: "an object")
        }
    }

    func array(_ key: String, in path: String) throws -> [JSONValue]? {
        switch self[key] {
        case nil, .null?: return nil
        case .array(let elements)?: return elements
        default: throw JSONShapeError(path: "\(path).\(key)", expected: "an array")
        }
    }
}
