/// What one cue word or phrase tells the analyzer. All weights are evidence added to a factor's
/// saturating sum (see ``ComplexityAnalyzer``); the flags feed counters.
struct Cue: Sendable {
    /// Dense index of this cue in the lexicon (variants of one cue share it), used to cap repeats.
    var id: Int = 0
    /// Evidence for "requires reasoning".
    var reasoning: Double = 0
    /// Evidence for "requires creativity".
    var creativity: Double = 0
    /// Evidence against difficulty (greetings, "fun fact", "quick", …); subtracted from reasoning.
    var ease: Double = 0
    /// An explicit instruction constraint ("exactly", "without", "at most", "in JSON", …).
    var constraint: Bool = false
    /// A quantity written as a word ("twice", "half", "dozen", "three").
    var quantity: Bool = false
    /// An arithmetic relation word of a word problem ("each", "per", "remaining", "percent").
    var operation: Bool = false
    /// The name of a programming language or code platform.
    var language: Bool = false
    /// A negation that flips a multiple-choice question ("EXCEPT", "NOT", "LEAST").
    var negation: Bool = false
    /// A word that typically starts a line of code (`def`, `func`, `return`, `select` …).
    var codeStart: Bool = false
    /// The task type this cue votes for, and how strongly.
    var vote: TaskType? = nil
    var voteWeight: Double = 0
}

/// The cue vocabulary, hashed for a single pass over the words of a prompt.
///
/// Phrases of up to four words are matched on word boundaries, case-insensitively: a phrase is
/// found when its last word arrives and the hashes of the preceding words match. Words are runs of
/// ASCII letters (lower-cased) or non-ASCII letters; anything else (digits, spaces, hyphens,
/// apostrophes, punctuation) separates words, so "trade-off" is the phrase "trade off" and "don't"
/// is "don t".
struct CueLexicon: Sendable {
    /// Every cue, one per word or phrase key.
    let cues: [Cue]
    /// Single-word cues: word hash → index into ``cues``.
    let words: HashIndex
    /// Multi-word cues: phrase key (see ``phraseKey(_:)``) → index into ``cues``.
    let phrases: HashIndex
    /// Hashes of words that end at least one phrase, to skip phrase lookups for most words.
    let phraseTails: HashIndex
    /// Number of distinct cue ids.
    let cueCount: Int

    /// The built-in vocabulary, built once.
    static let standard = CueLexicon(entries: CueLexicon.standardEntries)

    init(entries: [(String, Cue)]) {
        var words: [UInt64: Cue] = [:]
        var phrases: [UInt64: Cue] = [:]
        var tails = Set<UInt64>()
        var id = 0
        for (variants, template) in entries {
            var cue = template
            cue.id = id
            id += 1
            for variant in variants.split(separator: "|") {
                let parts = variant.split(separator: " ").map { CueLexicon.wordHash(Array($0.utf8)) }
                guard let last = parts.last else { continue }
                if parts.count == 1 {
                    words[last] = CueLexicon.merged(words[last], cue)
                } else {
                    let key = CueLexicon.phraseKey(parts)
                    phrases[key] = CueLexicon.merged(phrases[key], cue)
                    tails.insert(last)
                }
            }
        }
        var cues: [Cue] = []
        var wordIndex: [UInt64: Int32] = [:]
        var phraseIndex: [UInt64: Int32] = [:]
        for (key, cue) in words.sorted(by: { $0.key < $1.key }) { wordIndex[key] = Int32(cues.count); cues.append(cue) }
        for (key, cue) in phrases.sorted(by: { $0.key < $1.key }) { phraseIndex[key] = Int32(cues.count); cues.append(cue) }
        self.cues = cues
        self.words = HashIndex(wordIndex)
        self.phrases = HashIndex(phraseIndex)
        self.phraseTails = HashIndex(Dictionary(uniqueKeysWithValues: tails.map { ($0, Int32(0)) }))
        self.cueCount = id
    }

    /// When two entries name the same word, the first keeps its id and the strongest signals win.
    private static func merged(_ old: Cue?, _ new: Cue) -> Cue {
        guard var cue = old else { return new }
        cue.reasoning = max(cue.reasoning, new.reasoning)
        cue.creativity = max(cue.creativity, new.creativity)
        cue.ease = max(cue.ease, new.ease)
        cue.constraint = cue.constraint || new.constraint
        cue.quantity = cue.quantity || new.quantity
        cue.operation = cue.operation || new.operation
        cue.language = cue.language || new.language
        cue.negation = cue.negation || new.negation
        cue.codeStart = cue.codeStart || new.codeStart
        if cue.vote == nil || new.voteWeight > cue.voteWeight {
            cue.vote = new.vote ?? cue.vote
            cue.voteWeight = max(cue.voteWeight, new.voteWeight)
        }
        return cue
    }

    /// FNV-1a over the lower-cased bytes of a word.
    static func wordHash(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            let lower = (b >= 65 && b <= 90) ? b | 0x20 : b
            h = (h ^ UInt64(lower)) &* 0x0000_0100_0000_01b3
        }
        return h
    }

    /// The key of a phrase from its word hashes, oldest first.
    static func phraseKey(_ hashes: [UInt64]) -> UInt64 {
        var key: UInt64 = 0x9e37_79b9_7f4a_7c15 &* UInt64(hashes.count)
        for h in hashes { key = combine(key, h) }
        return key
    }

    /// One mixing step of ``phraseKey(_:)``.
    @inline(__always)
    static func combine(_ key: UInt64, _ h: UInt64) -> UInt64 {
        var x = (key ^ h) &* 0xff51_afd7_ed55_8ccd
        x ^= x >> 33
        return x
    }
}
