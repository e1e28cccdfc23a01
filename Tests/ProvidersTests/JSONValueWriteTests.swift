import FleetSupport
import Foundation
import Providers
import Testing

/// `JSONValue` written by hand (``JSONTextEncoder``) through ``FastJSONEncoder``: the text
/// Foundation's `JSONEncoder` writes through `encode(to:)` (slashes as they are), on its own and
/// inside a `Codable` value, an object's members in the order they came, and it reads back as the
/// same value.
@Suite struct JSONValueWriteTests {
    static let foundation: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    @Test(arguments: JSONValueParseTests.valid) func sameTextAsJSONEncoderAndReadsBack(_ text: String) throws {
        let value = try JSONValue.parse(text: text)
        let written = try FastJSONEncoder().encode(value)
        // Scalars and escapes as Foundation writes them (compared with its keys sorted on both sides).
        #expect(String(decoding: try FastJSONEncoder().encode(Self.sorted(value)), as: UTF8.self) == String(decoding: try Self.foundation.encode(value), as: UTF8.self), "\(text)")
        #expect(try JSONValue.parse(utf8: written) == value)
        // Members in their order: written again, the text is the same.
        #expect(try FastJSONEncoder().encode(JSONValue.parse(utf8: written)) == written)
    }

    /// `value` with every object's members in key order.
    static func sorted(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object): .object(JSONObject(Dictionary(uniqueKeysWithValues: object.map { ($0.key, sorted($0.value)) })))
        case .array(let values): .array(values.map(sorted))
        default: value
        }
    }

    /// A schema's properties keep their order (a model generates them in that order); equality
    /// ignores the order. (Foundation's `JSONEncoder` may reorder a keyed container's members: every
    /// request to a provider and every answer goes through `FastJSONEncoder`, which keeps them.)
    @Test func membersKeepTheirOrder() throws {
        let text = #"{"type":"object","properties":{"reasoning":{"type":"string"},"answer":{"type":"string"}},"required":["reasoning","answer"]}"#
        let value = try JSONValue.parse(text: text)
        #expect(String(decoding: try FastJSONEncoder().encode(value), as: UTF8.self) == text)
        #expect(value == (try JSONValue.parse(text: #"{"required":["reasoning","answer"],"properties":{"answer":{"type":"string"},"reasoning":{"type":"string"}},"type":"object"}"#)))
        var object = JSONObject()
        object["b"] = .number(1)
        object["a"] = .number(2)
        object["b"] = .number(3)
        #expect(object.keys.elementsEqual(["b", "a"]) && object["b"] == .number(3))
        #expect(Set([JSONValue.object(object), .object(["a": .number(2), "b": .number(3)])]).count == 1, "hashing ignores the order")
    }

    struct Envelope: Codable {
        var id: String
        var arguments: JSONValue
        var extra: [String: JSONValue]
        var list: [JSONValue]
    }

    @Test func insideACodableValueItIsWrittenInPlace() throws {
        let arguments = try JSONValue.parse(text: #"{"z":[1,2.5,"three",null,false],"a":{"b":"c\n\"d\""},"url":"https://x/y"}"#)
        let envelope = Envelope(id: "call_1", arguments: arguments, extra: ["k": .number(-3), "e": .object([:])], list: [.array([]), .string("é")])
        let written = String(decoding: try FastJSONEncoder().encode(envelope), as: UTF8.self)
        // The arguments as they came; the `[String: JSONValue]` map through Foundation's own order.
        #expect(written.hasPrefix(#"{"id":"call_1","arguments":{"z":[1,2.5,"three",null,false],"a":{"b":"c\n\"d\""},"url":"https://x/y"},"extra":{"#), "\(written)")
        #expect(written.hasSuffix(#"},"list":[[],"é"]}"#) && (written.contains(#""extra":{"e":{},"k":-3}"#) || written.contains(#""extra":{"k":-3,"e":{}}"#)))
    }

    @Test func numbersAreWrittenAsEncodeToWritesThem() throws {
        let cases: [(Double, String)] = [(0, "0"), (-0.0, "0"), (42, "42"), (-7, "-7"), (1e14, "100000000000000"), (1e15, "1000000000000000"), (1e17, "1e+17"),
                                         (0.1, "0.1"), (2.5e-8, "2.5e-08"), (123456.75, "123456.75")]
        for (number, text) in cases {
            #expect(String(decoding: try FastJSONEncoder().encode(JSONValue.number(number)), as: UTF8.self) == text, "\(number)")
        }
        #expect(throws: EncodingError.self) { try FastJSONEncoder().encode(JSONValue.array([.number(.nan)])) }
        #expect(throws: EncodingError.self) { try FastJSONEncoder().encode(JSONValue.number(.infinity)) }
    }
}
