import Foundation
import Testing
@testable import FleetSupport

@Suite("FastJSONEncoder writes what JSONEncoder writes")
struct FastJSONEncoderTests {
    /// Foundation's encoder with the settings fleetd used before: the reference.
    private func reference<Value: Encodable>(_ value: Value) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(value)
    }

    /// Both encoders' output parsed back: the same JSON value, whatever the key order.
    private func expectSameJSON<Value: Encodable>(_ value: Value, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let fast = try FastJSONEncoder().encodeToData(value)
        let parsedFast = try JSONSerialization.jsonObject(with: fast, options: [.fragmentsAllowed]) as? NSObject
        let parsedReference = try JSONSerialization.jsonObject(with: try reference(value), options: [.fragmentsAllowed]) as? NSObject
        #expect(parsedFast == parsedReference, "\(String(decoding: fast, as: UTF8.self))", sourceLocation: sourceLocation)
    }

    struct Flat: Codable, Equatable {
        var text = "plain"
        var count = 3
        var ratio = 0.25
        var flag = true
        var missing: String? = nil
        var present: Int? = 7
    }

    struct Nested: Codable, Equatable {
        var name: String
        var inner: Flat
        var list: [Flat]
        var matrix: [[Int]]
        var map: [String: [String: Double]]
        var optionals: [String?]
        var when: Date
        var link: URL
        var blob: Data
        var kind: Kind
        var empty: [String]
        var emptyMap: [String: Int]
    }

    enum Kind: Codable, Equatable {
        case plain
        case withValues(Int, label: String)
        case nested(Flat)
    }

    /// Two containers asked for on one encoder, a nested container left open, a super encoder.
    struct Custom: Encodable {
        enum Keys: String, CodingKey { case a, b, nested, list, sup, after }
        func encode(to encoder: any Encoder) throws {
            var first = encoder.container(keyedBy: Keys.self)
            try first.encode(1, forKey: .a)
            var nested = first.nestedContainer(keyedBy: Keys.self, forKey: .nested)
            try nested.encode("x", forKey: .a)
            var list = first.nestedUnkeyedContainer(forKey: .list)
            try list.encode(1)
            var deeper = list.nestedContainer(keyedBy: Keys.self)
            try deeper.encode(true, forKey: .b)
            try list.encode(2)
            var second = encoder.container(keyedBy: Keys.self)
            try second.encode("two", forKey: .b)
            let sup = first.superEncoder(forKey: .sup)
            var single = sup.singleValueContainer()
            try single.encode([1, 2])
            try first.encode("end", forKey: .after)
        }
    }

    @Test func flatStruct() throws {
        try expectSameJSON(Flat())
        #expect(try FastJSONEncoder().encodeToString(Flat()) == #"{"text":"plain","count":3,"ratio":0.25,"flag":true,"present":7}"#)
    }

    @Test func nestedValuesOfEveryKind() throws {
        let value = Nested(
            name: "n", inner: Flat(), list: [Flat(), Flat(text: "b", count: -1, ratio: 1e-7, flag: false, missing: "m", present: nil)],
            matrix: [[1, 2], [], [3]], map: ["z": ["b": 1.5, "a": 2], "a": [:]], optionals: ["a", nil, "c"],
            when: Date(timeIntervalSince1970: 1_795_000_000.75), link: URL(string: "https://api.example.com/v1/x?y=1")!,
            blob: Data([0, 1, 2, 250]), kind: .withValues(4, label: "four"), empty: [], emptyMap: [:])
        try expectSameJSON(value)
        try expectSameJSON([value, value])
        try expectSameJSON(Nested(name: "", inner: Flat(), list: [], matrix: [], map: [:], optionals: [], when: Date(timeIntervalSince1970: 0),
                                  link: URL(fileURLWithPath: "/tmp/a b"), blob: Data(), kind: .nested(Flat()), empty: [], emptyMap: ["k": 1]))
        try expectSameJSON([Kind.plain, .withValues(1, label: "x")])
    }

    @Test func decodesBackToTheSameValue() throws {
        let value = Nested(
            name: "round\"trip\\", inner: Flat(), list: [Flat()], matrix: [[1]], map: ["a": ["b": 0.1 + 0.2]], optionals: [nil],
            when: Date(timeIntervalSince1970: 1_700_000_000), link: URL(string: "http://x/y")!, blob: Data("hi".utf8),
            kind: .nested(Flat()), empty: [], emptyMap: [:])
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        #expect(try decoder.decode(Nested.self, from: FastJSONEncoder().encodeToData(value)) == value)
    }

    @Test func containersAskedForTwiceAndLeftOpen() throws {
        #expect(try FastJSONEncoder().encodeToString(Custom())
            == #"{"a":1,"nested":{"a":"x"},"list":[1,{"b":true},2],"b":"two","sup":[1,2],"after":"end"}"#)
    }

    @Test func stringsAreEscapedAsJSONEncoderDoes() throws {
        let strings = ["", "a/b", "quote\" back\\slash", "\n\r\t\u{8}\u{c}", "\u{0}\u{1}\u{1f}\u{7f}", "é😀 ünïcödé", String(repeating: "x\"", count: 300)]
        for string in strings {
            #expect(try FastJSONEncoder().encode(string) == Array(try reference(string)), "\(string.debugDescription)")
        }
    }

    @Test func numbersAsJSONEncoderWritesThem() throws {
        let doubles: [Double] = [0, -0.0, 1, 100, 0.1, 0.1 + 0.2, 1e20, 1e21, 1e-7, 123_456_789_012_345_680, 1.5e300, -2.5, 3.2000000000000005e-05]
        for value in doubles {
            #expect(try FastJSONEncoder().encode(value) == Array(try reference(value)), "\(value)")
        }
        let floats: [Float] = [0, 1.1, 0.1, 3.4e38]
        for value in floats {
            #expect(try FastJSONEncoder().encode(value) == Array(try reference(value)), "\(value)")
        }
        #expect(try FastJSONEncoder().encodeToString([Int.min, Int.max, 0]) == "[\(Int.min),\(Int.max),0]")
        #expect(try FastJSONEncoder().encodeToString([UInt64.max]) == "[\(UInt64.max)]")
        #expect(try FastJSONEncoder().encodeToString([Decimal(string: "12.50")!]) == "[12.5]")
    }

    @Test func nonFiniteNumbersThrow() {
        #expect(throws: EncodingError.self) { try FastJSONEncoder().encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try FastJSONEncoder().encode(["x": Double.infinity]) }
        #expect(throws: EncodingError.self) { try FastJSONEncoder().encode(Float.infinity) }
    }

    @Test func datesAsISO8601WholeSecondsUTC() throws {
        // Before 1970, leap days, 1900 and 2000, a fraction rounded down, the last second of 9999 (Gregorian dates; Foundation switches to the Julian calendar before 1582).
        let instants: [Double] = [0, -1, -86_400.5, 951_782_400, 4_107_542_399.999, 1_795_000_000.75, -2_208_988_800, 253_402_300_799]
        for seconds in instants {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(try FastJSONEncoder().encode(date) == Array(try reference(date)), "\(seconds)")
        }
    }

    @Test func dictionaryKeysAreSorted() throws {
        let map = ["b": 1, "a": 2, "c": 3, "aa": 4]
        #expect(try FastJSONEncoder().encodeToString(map) == #"{"a":2,"aa":4,"b":1,"c":3}"#)
        #expect(try FastJSONEncoder().encodeToString([1: "x"]) == #"{"1":"x"}"#)
    }

    @Test func topLevelFragments() throws {
        #expect(try FastJSONEncoder().encodeToString("s") == #""s""#)
        #expect(try FastJSONEncoder().encodeToString(Optional<Int>.none) == "null")
        #expect(try FastJSONEncoder().encodeToString(true) == "true")
        #expect(try FastJSONEncoder().encodeToString([String]()) == "[]")
    }
}
