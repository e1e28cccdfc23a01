import FleetSupport
import Foundation
import Providers
import Testing

/// `JSONValue` written by hand (``JSONTextEncoder``) through ``FastJSONEncoder``: the text
/// Foundation's `JSONEncoder` writes through `encode(to:)` (keys sorted, slashes as they are), on
/// its own and inside a `Codable` value, and it reads back as the same value.
@Suite struct JSONValueWriteTests {
    static let foundation: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    @Test(arguments: JSONValueParseTests.valid) func sameTextAsJSONEncoderAndReadsBack(_ text: String) throws {
        let value = try JSONValue.parse(text: text)
        let written = try FastJSONEncoder().encode(value)
        #expect(String(decoding: written, as: UTF8.self) == String(decoding: try Self.foundation.encode(value), as: UTF8.self), "\(text)")
        #expect(try JSONValue.parse(utf8: written) == value)
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
        #expect(written == #"{"id":"call_1","arguments":{"a":{"b":"c\n\"d\""},"url":"https://x/y","z":[1,2.5,"three",null,false]},"extra":{"e":{},"k":-3},"list":[[],"é"]}"#)
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
