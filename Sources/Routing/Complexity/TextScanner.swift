/// One pass over the UTF-8 bytes of a prompt, producing ``TextFeatures``.
///
/// No regular expressions and no intermediate strings: words are hashed as they are read and
/// looked up in the ``CueLexicon``; lines are judged when their newline arrives.
struct TextScanner {
    /// How many occurrences of one cue (all its variants together) count as evidence.
    static let repeatCap: UInt8 = 3

    let lexicon: CueLexicon

    func scan(_ text: String) -> TextFeatures {
        var copy = text
        return copy.withUTF8 { scan(bytes: $0) }
    }

    func scan(bytes: UnsafeBufferPointer<UInt8>) -> TextFeatures {
        var state = ScanState(lexicon: lexicon)
        state.features.bytes = bytes.count
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            if b < 0x80 {
                state.ascii(b, at: i, in: bytes)
                i += 1
                continue
            }
            // Multi-byte scalar: decode enough to classify it.
            let length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
            var scalar: UInt32 = 0
            if length == 1 {
                scalar = 0xFFFD // stray continuation byte: treat as an opaque letter
            } else if i + length <= n {
                scalar = UInt32(b) & (0xFF >> UInt32(length + 1))
                for k in 1..<length { scalar = (scalar << 6) | (UInt32(bytes[i + k]) & 0x3F) }
            } else {
                scalar = 0xFFFD
            }
            state.nonASCII(scalar, bytes: bytes, from: i, length: min(length, n - i))
            i += length
        }
        state.finishWord(nextByte: nil)
        state.finishLine()
        return state.features
    }
}

/// The mutable state of one scan.
private struct ScanState {
    let lexicon: CueLexicon
    var features = TextFeatures()
    var counts: [UInt8]
    var languageHashes: [UInt64] = []

    // Current word
    var wordHash: UInt64 = 0xcbf2_9ce4_8422_2325
    var wordLength = 0
    var wordIsDigits = false
    var wordAllCaps = true
    var previous: (UInt64, UInt64, UInt64) = (0, 0, 0)
    var previousCount = 0

    // Current line
    var lineNonSpace = 0
    var lineLeadingSpaces = 0
    var lineStarted = false
    var lineWords = 0
    var lineCodePunctuation = 0
    var lineLastNonSpace: UInt8 = 0
    var lineFirstWordCodeStart = false
    var lineFirstByte: UInt8 = 0
    var lineBackticksAtStart = 0
    var linePipes = 0
    var lineCommas = 0
    var lineFlags: (option: Bool, roman: Bool, turn: Bool) = (false, false, false)
    var insideFence = false
    var braceDepth = 0
    var backticks = 0
    var lastByte: UInt8 = 0x20
    var byteBeforeWord: UInt8 = 0x20

    init(lexicon: CueLexicon) {
        self.lexicon = lexicon
        self.counts = [UInt8](repeating: 0, count: lexicon.cueCount)
    }

    @inline(__always)
    mutating func ascii(_ b: UInt8, at i: Int, in bytes: UnsafeBufferPointer<UInt8>) {
        if b != 96 { backticks = 0 }
        let isUpper = b >= 65 && b <= 90
        let isLower = b >= 97 && b <= 122
        let isDigit = b >= 48 && b <= 57
        if isUpper || isLower {
            if wordLength > 0 && wordIsDigits { finishWord(nextByte: b) }
            addToWord(isUpper ? b | 0x20 : b, upper: isUpper)
            markNonSpace(b)
            lastByte = b
            return
        }
        if isDigit {
            if wordLength > 0 && !wordIsDigits { finishWord(nextByte: b) }
            if wordLength == 0 { wordIsDigits = true; features.numbers += 1 }
            addToWord(b, upper: false)
            features.digits += 1
            markNonSpace(b)
            lastByte = b
            return
        }
        // A decimal point or thousands separator inside a number keeps the number going.
        if wordIsDigits && wordLength > 0 && (b == 46 || b == 44) && i + 1 < bytes.count,
           bytes[i + 1] >= 48 && bytes[i + 1] <= 57 {
            markNonSpace(b)
            lastByte = b
            return
        }
        finishWord(nextByte: b)
        switch b {
        case 10: // \n
            finishLine()
        case 32, 9, 13:
            if !lineStarted { lineLeadingSpaces += b == 9 ? 4 : (b == 32 ? 1 : 0) }
        default:
            markNonSpace(b)
            features.punctuation += 1
            punctuation(b, at: i, in: bytes)
        }
        lastByte = b
    }

    @inline(__always)
    mutating func punctuation(_ b: UInt8, at i: Int, in bytes: UnsafeBufferPointer<UInt8>) {
        switch b {
        case 123, 91: // { [
            braceDepth += 1
            features.maxBraceDepth = max(features.maxBraceDepth, braceDepth)
            lineCodePunctuation += 1
        case 125, 93: // } ]
            braceDepth = max(0, braceDepth - 1)
            lineCodePunctuation += 1
        case 40, 41, 59: // ( ) ;
            lineCodePunctuation += 1
        case 61, 94, 60, 62, 43, 42, 47: // = ^ < > + * /
            lineCodePunctuation += 1
            features.mathSymbols += 1
        case 37, 36: // % $
            features.percentOrCurrency += 1
        case 63: // ?
            features.questionMarks += 1
            features.sentences += 1
        case 46, 33: // . !
            let next = i + 1 < bytes.count ? bytes[i + 1] : 32
            if (next == 32 || next == 10 || next == 13) && lastByte != 46 { features.sentences += 1 }
        case 96: // `
            backticks += 1
            if lineNonSpace == backticks { lineBackticksAtStart = backticks }
            if backticks == 1 { features.inlineCodeSpans += 1 }
        case 124: // |
            linePipes += 1
        case 44: // ,
            lineCommas += 1
        default:
            break
        }
    }

    mutating func nonASCII(_ scalar: UInt32, bytes: UnsafeBufferPointer<UInt8>, from i: Int, length: Int) {
        features.nonASCIIScalars += 1
        let isMath = scalar == 0xD7 || scalar == 0xF7 || scalar == 0xB1 || scalar == 0xB2 || scalar == 0xB3
            || (scalar >= 0x2190 && scalar <= 0x22FF) || (scalar >= 0x2070 && scalar <= 0x209F)
            || (scalar >= 0x0391 && scalar <= 0x03C9) || scalar == 0x2022
        let isPunctuation = (scalar >= 0x2000 && scalar <= 0x206F) || scalar == 0xA0 || scalar == 0xB7 || scalar == 0xB0
        if isMath || isPunctuation {
            finishWord(nextByte: nil)
            if isMath { features.mathSymbols += 1; lineCodePunctuation += 1 }
            lineNonSpace += 1
            lineStarted = true
            lastByte = scalar == 0x2019 ? 39 : 0x2E
            return
        }
        if wordLength > 0 && wordIsDigits { finishWord(nextByte: nil) }
        for k in 0..<length { addToWord(bytes[i + k], upper: false) }
        wordAllCaps = false
        lineNonSpace += 1
        lineStarted = true
        lastByte = 0x61
    }

    @inline(__always)
    mutating func addToWord(_ lower: UInt8, upper: Bool) {
        if wordLength == 0 { byteBeforeWord = lastByte }
        wordHash = (wordHash ^ UInt64(lower)) &* 0x0000_0100_0000_01b3
        wordLength += 1
        if !upper { wordAllCaps = false }
    }

    @inline(__always)
    mutating func markNonSpace(_ b: UInt8) {
        if !lineStarted { lineStarted = true; lineFirstByte = b }
        lineNonSpace += 1
        lineLastNonSpace = b
    }

    mutating func finishWord(nextByte: UInt8?) {
        guard wordLength > 0 else { return }
        let h = wordHash
        let firstOnLine = lineWords == 0
        lineWords += 1
        if !wordIsDigits {
            features.letterWords += 1
            if wordLength == 1 { singleLetter(h, firstOnLine: firstOnLine, next: nextByte) }
            if firstOnLine { firstWordOfLine(h, length: wordLength, next: nextByte) }
            if let index = lexicon.words[h] { apply(lexicon.cues[Int(index)], hash: h, firstOnLine: firstOnLine) }
        }
        if lexicon.phraseTails[h] != nil { matchPhrases(ending: h) }
        previous = (h, previous.0, previous.1)
        previousCount += 1
        wordHash = 0xcbf2_9ce4_8422_2325
        wordLength = 0
        wordIsDigits = false
        wordAllCaps = true
    }

    mutating func matchPhrases(ending h: UInt64) {
        let k0: UInt64 = 0x9e37_79b9_7f4a_7c15
        if previousCount >= 1 {
            let key = CueLexicon.combine(CueLexicon.combine(k0 &* 2, previous.0), h)
            if let index = lexicon.phrases[key] { apply(lexicon.cues[Int(index)], hash: key, firstOnLine: false) }
        }
        if previousCount >= 2 {
            let key = CueLexicon.combine(CueLexicon.combine(CueLexicon.combine(k0 &* 3, previous.1), previous.0), h)
            if let index = lexicon.phrases[key] { apply(lexicon.cues[Int(index)], hash: key, firstOnLine: false) }
        }
        if previousCount >= 3 {
            var key = CueLexicon.combine(k0 &* 4, previous.2)
            key = CueLexicon.combine(CueLexicon.combine(CueLexicon.combine(key, previous.1), previous.0), h)
            if let index = lexicon.phrases[key] { apply(lexicon.cues[Int(index)], hash: key, firstOnLine: false) }
        }
    }

    mutating func singleLetter(_ h: UInt64, firstOnLine: Bool, next: UInt8?) {
        // "a" and "i" are English words; an option letter at the start of a line is not a variable.
        if h == ScanState.wordA || h == ScanState.romanI || byteBeforeWord == 39 { return } // not "'s", "n't"

        if firstOnLine, let next, next == 46 || next == 41 || next == 58 { return }
        features.singleLetterVariables += 1
    }

    mutating func firstWordOfLine(_ h: UInt64, length: Int, next: UInt8?) {
        let letterOption = length == 1 && (lastByte >= 65 && lastByte <= 69 || lastByte >= 97 && lastByte <= 101)
        if letterOption, let next, next == 46 || next == 41 || next == 58 { lineFlags.option = true }
        if length <= 3, let next, next == 41 || next == 46,
           h == ScanState.romanI || h == ScanState.romanII || h == ScanState.romanIII || h == ScanState.romanIV {
            lineFlags.roman = true
        }
        if let next, next == 58, ScanState.turnWords[h] != nil { lineFlags.turn = true }
    }

    static let wordA = CueLexicon.wordHash([97])
    static let romanI = CueLexicon.wordHash(Array("i".utf8))
    static let romanII = CueLexicon.wordHash(Array("ii".utf8))
    static let romanIII = CueLexicon.wordHash(Array("iii".utf8))
    static let romanIV = CueLexicon.wordHash(Array("iv".utf8))
    static let turnWords = HashIndex(Dictionary(uniqueKeysWithValues: ["user", "assistant", "human", "ai", "system", "bot", "me", "you"]
        .map { (CueLexicon.wordHash(Array($0.utf8)), Int32(0)) }))

    mutating func apply(_ cue: Cue, hash: UInt64, firstOnLine: Bool) {
        if firstOnLine && cue.codeStart { lineFirstWordCodeStart = true }
        if cue.quantity { features.quantityWords += 1 }
        if cue.operation { features.operationWords += 1 }
        if cue.constraint { features.constraints += 1 }
        if cue.negation {
            if wordAllCaps && wordLength >= 3 { features.capsNegations += 1 } else { features.negations += 1 }
        }
        if cue.language, !languageHashes.contains(hash), languageHashes.count < 8 {
            languageHashes.append(hash)
            features.distinctLanguages += 1
        }
        guard counts[cue.id] < TextScanner.repeatCap else { return }
        counts[cue.id] += 1
        features.reasoningEvidence += cue.reasoning
        features.creativityEvidence += cue.creativity
        features.easeEvidence += cue.ease
        if let type = cue.vote { features.vote(type, cue.voteWeight) }
    }

    mutating func finishLine() {
        defer { resetLine() }
        features.lines += 1
        guard lineNonSpace > 0 else { return }
        features.nonEmptyLines += 1
        if lineBackticksAtStart >= 3 || (lineFirstByte == 126 && lineNonSpace >= 3 && lineCodePunctuation == 0 && lineWords <= 1) {
            features.fenceLines += 1
            insideFence.toggle()
            return
        }
        let dense = lineCodePunctuation >= 3 && lineCodePunctuation * 6 >= lineNonSpace
        let endsLikeCode = lineLastNonSpace == 59 || lineLastNonSpace == 123 || lineLastNonSpace == 125
        let endsLikeProse = lineLastNonSpace == 46 || lineLastNonSpace == 63 || lineLastNonSpace == 33 || lineLastNonSpace == 34
        let keywordLine = lineFirstWordCodeStart && lineCodePunctuation >= 2 && lineCodePunctuation * 12 >= lineNonSpace && !endsLikeProse
        let looksLikeCode = insideFence || endsLikeCode || dense || keywordLine
        if looksLikeCode && !lineFlags.option {
            features.codeLines += 1
            features.maxIndent = max(features.maxIndent, lineLeadingSpaces)
        }
        if lineFlags.option { features.optionLines += 1 }
        if lineFlags.roman { features.romanItemLines += 1 }
        if lineFlags.turn { features.turnLines += 1 }
        if linePipes >= 2 && !looksLikeCode { features.tableLines += 1 }
        if linePipes >= 1 && lineWords > 3 { features.pipeSeparatedStatements += 1 }
        if lineCommas >= 3 && lineWords <= lineCommas * 2 + 2 && !looksLikeCode { features.dataLines += 1 }
    }

    mutating func resetLine() {
        lineNonSpace = 0
        lineLeadingSpaces = 0
        lineStarted = false
        lineWords = 0
        lineCodePunctuation = 0
        lineLastNonSpace = 0
        lineFirstWordCodeStart = false
        lineFirstByte = 0
        lineBackticksAtStart = 0
        linePipes = 0
        lineCommas = 0
        lineFlags = (false, false, false)
    }
}
