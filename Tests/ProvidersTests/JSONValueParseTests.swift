import Foundation
import Providers
import Testing

/// `JSONValue.parse(utf8:)`, the compatible endpoints' reader: the same value Foundation's
/// `JSONDecoder` gives for every valid text, and a clear error with its place for each invalid one.
@Suite struct JSONValueParseTests {
    static let valid: [String] = [
        #"{}"#, #"[]"#, #""""#, #"0"#, #"-0"#, #"true"#, #"false"#, #"null"#, #"  {"a" : 1 }  "#,
        #"{"model":"auto","messages":[{"role":"user","content":"Say ten tokens."}],"stream":false,"temperature":0.7}"#,
        #"[1, -2, 3.25, 1e3, 1E-2, -4.5e+2, 123456789012345, 0.1, 1.7976931348623157e308]"#,
        #"{"escapes":"quote \" backslash \\ slash \/ \b\f\n\r\t done"}"#,
        #"{"unicode":"caf\u00e9 \u4e2d\u6587 \ud83d\ude00 emoji 😀 é 中文"}"#,
        #"{"nested":{"a":[{"b":[[],{}]},null,true,{"c":"d"}]},"empty":""}"#,
        "\t\n\r [ \"ws\" ,\n 1 ] \n",
    ]

    /// (A repeated key is left out: `JSONDecoder` keeps the first, this the last, as JavaScript,
    /// Python and Go do; see below.)
    @Test(arguments: valid) func sameValueAsJSONDecoder(_ text: String) throws {
        let parsed = try JSONValue.parse(utf8: Array(text.utf8))
        let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(parsed == decoded, "\(text)")
        #expect(try JSONValue.parse(text: text) == parsed)
    }

    @Test func escapesAndSurrogatePairsReadAsTheirCharacters() throws {
        #expect(try JSONValue.parse(text: #""\ud83d\ude00""#) == .string("😀"))
        #expect(try JSONValue.parse(text: #""a\u0000b""#) == .string("a\u{0}b"))
        #expect(try JSONValue.parse(text: #""\ud800x""#) == .string("\u{FFFD}x"), "a lone surrogate is U+FFFD")
        #expect(try JSONValue.parse(text: #""\ud800\u0041""#) == .string("\u{FFFD}A"), "a high surrogate before a non-pair")
        #expect(try JSONValue.parse(text: #"{"k":1,"k":2}"#) == .object(["k": .number(2)]), "the last of a repeated key wins")
    }

    @Test func aLeadingByteOrderMarkIsSkippedAsJSONDecoderSkipsIt() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array(#"{"a":1}"#.utf8)
        #expect(try JSONValue.parse(utf8: bytes) == (try JSONDecoder().decode(JSONValue.self, from: Data(bytes))))
        #expect(throws: JSONParseError.self) { try JSONValue.parse(utf8: [0xEF, 0xBB] + Array(#"{"a":1}"#.utf8)) }
    }

    static let invalid: [(text: String, message: String, offset: Int)] = [
        ("", "the text ends where a value was expected", 0),
        ("   ", "the text ends where a value was expected", 3),
        (#"{"a":1,}"#, "expected a key (a string) in the object", 7),
        ("[1,]", "unexpected ']' where a value was expected", 3),
        ("[1 2]", "expected ',' or ']' in the array", 3),
        (#"{"a" 1}"#, "expected ':' after the key \"a\"", 5),
        (#"{"a":1"#, "the text ends inside an object", 6),
        ("01", "a number may not start with 0", 1),
        ("1.", "a number needs a digit after '.'", 2),
        ("1e", "a number needs a digit in its exponent", 2),
        ("-", "a number needs a digit", 1),
        ("1e999", "the number 1e999 is out of range", 0),
        ("NaN", "unexpected 'N' where a value was expected", 0),
        ("tru", "expected true", 0),
        (#""abc"#, "the text ends inside a string", 4),
        ("\"a\u{1}b\"", "a control character (byte 0x01) inside a string must be escaped", 2),
        (#""\x""#, "unknown escape \\'x'", 1),
        (#""\u12""#, "a \\u escape needs four hexadecimal digits", 5),
        ("{} {}", "unexpected text after the JSON value", 3),
        ("'a'", "unexpected ''' where a value was expected", 0),
    ]

    @Test func invalidTextsSayWhatAndWhere() {
        for (text, message, offset) in Self.invalid {
            #expect(throws: JSONParseError(message: message, offset: offset), "\(text)") { try JSONValue.parse(text: text) }
        }
    }

    @Test func invalidUTF8AndDeepNestingAreRefused() {
        #expect(throws: JSONParseError(message: "a string is not valid UTF-8", offset: 1)) {
            try JSONValue.parse(utf8: [UInt8(ascii: "\""), 0xC3, 0x28, UInt8(ascii: "\"")])
        }
        let deepest = String(repeating: "[", count: JSONValue.maxParseDepth) + String(repeating: "]", count: JSONValue.maxParseDepth)
        #expect((try? JSONValue.parse(text: deepest)) != nil)
        let deeper = "[" + deepest + "]"
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text: deeper) }
    }
}
