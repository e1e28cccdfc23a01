import Foundation
import NIOCore
import Testing
@testable import FleetSupport

@Suite("SSE encoder, NDJSON reader, sse decode formatter")
struct SSEEncoderTests {
    @Test func multiLineDataBecomesSeveralDataLines() {
        let text = SSEEncoder.encode(event: "chunk", data: "a\nb\r\nc\rd", id: "7")
        #expect(text == "event: chunk\nid: 7\ndata: a\ndata: b\ndata: c\ndata: d\n\n")
    }

    @Test func encoderRoundTripsThroughParser() {
        let payloads = ["", "plain", "two\nlines", "trailing\n", "\n\nleading", " space", ": colon", "é😀"]
        var parser = SSEParser()
        for (index, data) in payloads.enumerated() {
            let text = SSEEncoder.encode(event: "e\n\(index)", data: data, id: "i\(index)")
            let events = parser.parse(Array(text.utf8))
            #expect(events == [SSEEvent(type: "e\(index)", data: data, lastEventID: "i\(index)")])
        }
    }

    @Test func byteWriterMatchesTheStringEncoder() {
        let payloads = ["", "plain", #"{"a":"b\\n"}"#, "two\nlines", "cr\rlf\r\ncrlf", "trailing\n", "\r\n", "é😀\n\n"]
        for data in payloads {
            var buffer = ByteBuffer()
            SSEEncoder.write(event: "chunk", data: Array(data.utf8), into: &buffer)
            #expect(String(buffer: buffer) == SSEEncoder.encode(event: "chunk", data: data), "\(data.debugDescription)")
        }
        var two = ByteBuffer()
        SSEEncoder.write(event: "start", data: Array("1".utf8), into: &two)
        SSEEncoder.write(event: "bad\nname", data: Array("2".utf8), into: &two)
        var parser = SSEParser()
        #expect(parser.parse(Array(two.readableBytesView)) == [SSEEvent(type: "start", data: "1"), SSEEvent(type: "badname", data: "2")])
    }

    @Test func commentIsIgnoredByParser() {
        var parser = SSEParser()
        #expect(parser.parse(Array((SSEEncoder.comment("ping") + "data: x\n\n").utf8)) == [SSEEvent(data: "x")])
    }

    @Test func ndjsonLinesAcrossReads() throws {
        var reader = NDJSONLineReader()
        let bytes = Array("{\"a\":1}\r\n\n{\"b\":2}\n{\"c\"".utf8)
        var lines: [[UInt8]] = []
        for byte in bytes { lines += try [byte].withUnsafeBytes { try reader.read($0) } }
        lines += try Array(":3}".utf8).withUnsafeBytes { try reader.read($0) }
        let last = reader.finish()
        #expect(lines.map { String(decoding: $0, as: UTF8.self) } == ["{\"a\":1}", "{\"b\":2}"])
        #expect(last.map { String(decoding: $0, as: UTF8.self) } == "{\"c\":3}")
    }

    @Test func ndjsonLineLimit() {
        var reader = NDJSONLineReader(maximumLineLength: 8)
        #expect(throws: NDJSONLineReader.LineTooLong.self) {
            _ = try Array("0123456789".utf8).withUnsafeBytes { try reader.read($0) }
        }
    }
}
