import Testing
@testable import FleetSupport

/// Feeds `text` in one piece and returns the events and the parser.
private func parseWhole(_ text: String) -> ([SSEEvent], SSEParser) {
    var parser = SSEParser()
    let events = parser.parse(Array(text.utf8))
    return (events, parser)
}

/// Feeds `bytes` in pieces cut at `cuts` (sorted offsets).
private func parsePieces(_ bytes: [UInt8], cuts: [Int]) -> [SSEEvent] {
    var parser = SSEParser()
    var events: [SSEEvent] = []
    var start = 0
    for cut in cuts + [bytes.count] {
        events += parser.parse(Array(bytes[start..<cut]))
        start = cut
    }
    return events
}

@Suite("SSE parser: WHATWG event stream interpretation")
struct SSEParserTests {
    @Test func dispatchesOnBlankLineWithDefaultType() {
        let (events, _) = parseWhole("data: hello\n\n")
        #expect(events == [SSEEvent(type: "message", data: "hello", lastEventID: "")])
    }

    @Test("LF, CR and CRLF all end lines", arguments: ["\n", "\r", "\r\n"])
    func lineEnds(_ end: String) {
        let text = "event: a\(end)data: 1\(end)data: 2\(end)\(end)data: x\(end)\(end)"
        let (events, _) = parseWhole(text)
        #expect(events == [SSEEvent(type: "a", data: "1\n2"), SSEEvent(type: "message", data: "x")])
    }

    @Test func mixedLineEnds() {
        let (events, _) = parseWhole("data: a\r\ndata: b\rdata: c\n\r\n")
        #expect(events == [SSEEvent(data: "a\nb\nc")])
    }

    @Test func crFollowedByCRIsTwoLineEnds() {
        // "data: a" CR CR: the second CR is an empty line, which dispatches.
        let (events, _) = parseWhole("data: a\r\rdata: b\r\r")
        #expect(events == [SSEEvent(data: "a"), SSEEvent(data: "b")])
    }

    @Test func leadingBOMIsStrippedOnce() {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        var parser = SSEParser()
        let events = parser.parse(bom + Array("data: x\n\n".utf8))
        #expect(events == [SSEEvent(data: "x")])
        // A second BOM is not stripped: it becomes part of the field name, which is unknown.
        var second = SSEParser()
        let none = second.parse(bom + bom + Array("data: x\n\n".utf8))
        #expect(none.isEmpty)
    }

    @Test func bomSplitAcrossReads() {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("data: y\n\n".utf8)
        for cut1 in 0...4 {
            for cut2 in cut1...5 {
                #expect(parsePieces(bytes, cuts: [cut1, cut2]) == [SSEEvent(data: "y")], "cuts \(cut1) \(cut2)")
            }
        }
    }

    @Test func aNonBOMStartIsKept() {
        // 0xEF 0xBB followed by something else is not a BOM: those bytes stay in the line.
        let bytes: [UInt8] = [0xEF, 0xBB] + Array("\ndata: z\n\n".utf8)
        #expect(parsePieces(bytes, cuts: [1]) == [SSEEvent(data: "z")])
        #expect(parsePieces(Array("d".utf8) + Array("ata: q\n\n".utf8), cuts: [1]) == [SSEEvent(data: "q")])
    }

    @Test func commentsAreIgnored() {
        let (events, _) = parseWhole(": keep-alive\n:\ndata: a\n: inside\ndata: b\n\n")
        #expect(events == [SSEEvent(data: "a\nb")])
    }

    @Test func fieldWithoutColonHasEmptyValue() {
        // "data" alone appends an empty line to the data buffer.
        let (events, _) = parseWhole("data\ndata\n\n")
        #expect(events == [SSEEvent(data: "\n")])
        let (single, _) = parseWhole("data\n\n")
        #expect(single == [SSEEvent(data: "")])
    }

    @Test func onlyOneSpaceAfterColonIsRemoved() {
        let (events, _) = parseWhole("data:no space\n\ndata:  two spaces\n\ndata:\ttab\n\n")
        #expect(events.map(\.data) == ["no space", " two spaces", "\ttab"])
    }

    @Test func valueMayContainColons() {
        let (events, _) = parseWhole("data: a: b:c\n\n")
        #expect(events.map(\.data) == ["a: b:c"])
    }

    @Test func emptyDataDoesNotDispatchButResetsType() {
        let (events, _) = parseWhole("event: ping\n\ndata: after\n\n")
        #expect(events == [SSEEvent(type: "message", data: "after")])
        let (onlyID, parser) = parseWhole("id: 7\nevent: x\n\n")
        #expect(onlyID.isEmpty)
        #expect(parser.lastEventID == "7")
    }

    @Test func eventTypeIsResetAfterDispatch() {
        let (events, _) = parseWhole("event: a\ndata: 1\n\ndata: 2\n\n")
        #expect(events.map(\.type) == ["a", "message"])
    }

    @Test func lastEventIDPersistsAndNULIsIgnored() {
        let (events, parser) = parseWhole("id: 1\ndata: a\n\ndata: b\n\nid: 2\u{0}x\ndata: c\n\nid\ndata: d\n\n")
        #expect(events.map(\.lastEventID) == ["1", "1", "1", ""])
        #expect(parser.lastEventID == "")
    }

    @Test func idSetAfterDataStillAppliesToThatEvent() {
        let (events, _) = parseWhole("data: a\nid: 9\n\n")
        #expect(events == [SSEEvent(data: "a", lastEventID: "9")])
    }

    @Test func retryAcceptsOnlyDigits() {
        #expect(parseWhole("retry: 1500\n").1.retry == 1500)
        #expect(parseWhole("retry: 15a\n").1.retry == nil)
        #expect(parseWhole("retry: -1\n").1.retry == nil)
        #expect(parseWhole("retry:\n").1.retry == nil)
        #expect(parseWhole("retry: 1.5\n").1.retry == nil)
        #expect(parseWhole("retry: 10\nretry: x\n").1.retry == 10)
        #expect(parseWhole("retry:  10\n").1.retry == nil) // the second space is part of the value
    }

    @Test func unknownFieldsAreIgnored() {
        let (events, _) = parseWhole("foo: bar\nData: x\ndata: y\n\n")
        #expect(events == [SSEEvent(data: "y")])
    }

    @Test func unknownLinesCanBeCaptured() {
        var parser = SSEParser(captureUnknownLines: true)
        _ = parser.parse(Array("data: a\n\n{\n  \"error\": 1\n}\n".utf8))
        #expect(parser.unknownLines == ["{", "  \"error\": 1", "}"])
    }

    @Test func unterminatedLastEventIsNotDispatched() {
        #expect(parseWhole("data: a\n\ndata: b\n").0 == [SSEEvent(data: "a")])
        #expect(parseWhole("data: a\n\ndata: b").0 == [SSEEvent(data: "a")])
    }

    @Test func utf8IsDecodedWithReplacement() {
        var parser = SSEParser()
        let events = parser.parse(Array("data: é€😀".utf8) + [0xFF] + Array("\n\n".utf8))
        #expect(events.map(\.data) == ["é€😀\u{FFFD}"])
    }

    @Test func multiByteCharacterSplitAcrossReads() {
        let bytes = Array("data: 😀\n\n".utf8)
        for cut in 0...bytes.count {
            #expect(parsePieces(bytes, cuts: [cut]) == [SSEEvent(data: "😀")])
        }
    }

    /// Every split point of a sample using each line-end style gives the same events as one read.
    @Test("every split point, every line end", arguments: ["\n", "\r", "\r\n"])
    func everySplitPoint(_ end: String) {
        let sample = [
            ": comment", "event: add", "data: 73857293", "id: 1", "", "retry: 250",
            "data: a", "data", "data:b", "", "event: empty", "", "id: 2", "data:  c", "",
        ].joined(separator: end) + end
        let bytes = Array(sample.utf8)
        let (whole, wholeParser) = parseWhole(sample)
        #expect(whole.count == 3)
        #expect(wholeParser.retry == 250)
        for cut in 0...bytes.count {
            #expect(parsePieces(bytes, cuts: [cut]) == whole, "cut at \(cut)")
        }
        for cut1 in stride(from: 0, through: bytes.count, by: 3) {
            for cut2 in cut1...bytes.count {
                #expect(parsePieces(bytes, cuts: [cut1, cut2]) == whole)
            }
        }
        // One byte at a time.
        #expect(parsePieces(bytes, cuts: Array(1..<bytes.count)) == whole)
    }

    @Test func crAtEndOfReadAndLFAtStartOfNextIsOneLineEnd() {
        // "data: a\r" | "\ndata: b\r\n\r\n": the LF after the CR must not be a blank line.
        let first = Array("data: a\r".utf8)
        let second = Array("\ndata: b\r\n\r\n".utf8)
        #expect(parsePieces(first + second, cuts: [first.count]) == [SSEEvent(data: "a\nb")])
    }

    @Test func resetConnectionKeepsIDAndRetry() {
        var parser = SSEParser()
        _ = parser.parse(Array("id: 5\nretry: 10\ndata: partial".utf8))
        parser.resetConnection()
        let events = parser.parse(Array("data: new\n\n".utf8))
        #expect(events == [SSEEvent(data: "new", lastEventID: "5")])
        #expect(parser.retry == 10)
    }
}
