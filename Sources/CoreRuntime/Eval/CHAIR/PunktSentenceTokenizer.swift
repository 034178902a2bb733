/// NLTK's Punkt sentence tokenizer (`PunktSentenceTokenizer` of NLTK 3.8) with a trained model, as
/// `nltk.word_tokenize` runs it before the Treebank rules (which split off only a sentence's final
/// period, so whether "dr." or "2." ends a sentence decides its tokens).
///
/// Every ".", "?" or "!" followed by punctuation or by whitespace and a word is a candidate. Punkt
/// tokenises the word before it, the mark and what follows, then decides in two passes:
/// 1. by type: a lone mark breaks; a run of periods is an ellipsis; a word ending in a period is an
///    abbreviation when the model knows it (also the part after its last hyphen), else a break;
/// 2. by context: a known collocation is not a break; an abbreviation or ellipsis breaks when the next
///    word is a likely sentence starter (orthographic evidence, or a capitalised frequent starter); an
///    initial or a number is not a break when the next word is unlikely to start a sentence, and an
///    initial is not one before a word the model only ever saw capitalised.
/// Closing quotes and brackets after a break are moved back onto the sentence they close.
public struct PunktSentenceTokenizer: Sendable {
    typealias Scalars = [Unicode.Scalar]

    public let parameters: PunktParameters

    public init(parameters: PunktParameters) { self.parameters = parameters }

    /// Punkt with NLTK's English model (what `nltk.sent_tokenize` and `nltk.word_tokenize` load).
    public static var english: PunktSentenceTokenizer { NLTKEnglishTokenizers.punkt }

    /// The sentences of `text` (`PunktSentenceTokenizer.tokenize`).
    public func sentences(_ text: String) -> [String] {
        let s = Array(text.unicodeScalars)
        return spans(s).map { PythonText.string(s[$0]) }
    }

    /// The sentences as scalar ranges of `s`.
    func spans(_ s: Scalars) -> [Range<Int>] {
        var slices: [Range<Int>] = []
        var lastBreak = 0
        for candidate in endContexts(s) where containsSentenceBreak(candidate.context) {
            slices.append(lastBreak..<(candidate.end + 1))
            lastBreak = candidate.nextTokenStart ?? (candidate.end + 1)
        }
        var stop = s.count
        while stop > 0 && PythonText.isSpace(s[stop - 1]) { stop -= 1 }
        slices.append(lastBreak..<max(stop, lastBreak))
        return realign(s, slices)
    }

    // MARK: - candidate breaks

    struct EndContext {
        /// Index of the sentence-ending character.
        let end: Int
        /// Start of the token after the whitespace that follows, if the ending is followed by whitespace.
        let nextTokenStart: Int?
        /// The word before the ending, the ending, and what follows it (punctuation or whitespace and a token).
        let context: Scalars
    }

    static func isSentenceEnd(_ c: Unicode.Scalar) -> Bool { c == "." || c == "?" || c == "!" }

    /// Characters that cannot appear within words (`_re_non_word_chars`).
    static func isNonWord(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case ")", "\"", ";", "}", "]", "*", ":", "@", "'", "(", "{", "[", "!", "?": return true
        default: return false
        }
    }

    /// Every place where a sentence may end, with the text Punkt inspects to decide
    /// (`_match_potential_end_contexts`). Consecutive endings ("!!!") overlap; only the last one of
    /// such a run is kept, as NLTK does.
    func endContexts(_ s: Scalars) -> [EndContext] {
        var out: [EndContext] = []
        var previous: (end: Int, next: Int?, after: Range<Int>)? = nil
        var previousSlice = 0..<0
        for i in 0..<s.count where PunktSentenceTokenizer.isSentenceEnd(s[i]) {
            guard i + 1 < s.count else { continue }
            let after: Range<Int>
            var next: Int? = nil
            if PunktSentenceTokenizer.isNonWord(s[i + 1]) {
                after = (i + 1)..<(i + 2)
            } else if PythonText.isSpace(s[i + 1]) {
                var j = i + 1
                while j < s.count && PythonText.isSpace(s[j]) { j += 1 }
                guard j < s.count else { continue }
                var k = j
                while k < s.count && !PythonText.isSpace(s[k]) { k += 1 }
                after = (i + 1)..<k
                next = j
            } else {
                continue
            }
            // The word before the ending starts after the last `string.whitespace` character since the
            // previous word's end; NLTK reads a hit at offset 0 of that stretch as "none found".
            var wordStart = previousSlice.lowerBound
            let lo = previousSlice.upperBound
            var w = i - 1
            while w >= lo && !PythonText.isASCIIWhitespace(s[w]) { w -= 1 }
            if w >= lo && w - lo != 0 { wordStart = w + 1 }
            let wordSlice = wordStart..<i
            if let p = previous, previousSlice.upperBound <= wordSlice.lowerBound {
                out.append(EndContext(end: p.end, nextTokenStart: p.next,
                                      context: Array(s[previousSlice]) + [s[p.end]] + Array(s[p.after])))
            }
            previous = (i, next, after)
            previousSlice = wordSlice
        }
        if let p = previous {
            out.append(EndContext(end: p.end, nextTokenStart: p.next,
                                  context: Array(s[previousSlice]) + [s[p.end]] + Array(s[p.after])))
        }
        return out
    }

    // MARK: - Punkt's word tokens

    /// A word token with Punkt's annotations (`PunktToken`).
    struct Token {
        let text: Scalars
        /// Lower case, and "##number##" for numbers.
        let type: String
        var sentenceBreak = false
        var abbreviation = false
        var ellipsis = false

        init(_ text: Scalars) {
            self.text = text
            let lower = PythonText.lower(text)
            type = Token.isNumeric(lower) ? "##number##" : PythonText.string(lower)
        }

        var periodFinal: Bool { text.last == "." }
        /// `\.\.+$`
        var isEllipsis: Bool { text.count >= 2 && text.allSatisfy { $0 == "." } }
        /// `[^\W\d]\.$`: a letter and a period.
        var isInitial: Bool {
            text.count == 2 && text[1] == "." && PythonText.isWord(text[0]) && !PythonText.isDecimal(text[0])
        }
        var firstUpper: Bool { text.first.map(PythonText.isUpper) ?? false }
        var firstLower: Bool { text.first.map(PythonText.isLower) ?? false }
        /// The type without its final period.
        var typeNoPeriod: String {
            let t = type.unicodeScalars
            return t.count > 1 && t.last == "." ? PythonText.string(t.dropLast()) : type
        }
        /// The type without its final period when that period ends a sentence.
        var typeNoSentencePeriod: String { sentenceBreak ? typeNoPeriod : type }

        /// `^-?[\.,]?\d[\d,\.-]*\.?$`
        static func isNumeric(_ t: Scalars) -> Bool {
            var i = 0
            if i < t.count && t[i] == "-" { i += 1 }
            if i < t.count && (t[i] == "." || t[i] == ",") { i += 1 }
            guard i < t.count && PythonText.isDecimal(t[i]) else { return false }
            i += 1
            while i < t.count && (PythonText.isDecimal(t[i]) || t[i] == "," || t[i] == "." || t[i] == "-") { i += 1 }
            return i == t.count
        }
    }

    static let wordStartExcluded: Set<Unicode.Scalar> = ["(", "\"", "`", "{", "[", ":", ";", "&", "#", "*", "@", ")", "}", "]", "-", ","]

    /// Length of Punkt's multi-character punctuation at `i` (`\-{2,}|\.{2,}|(?:\.\s){2,}\.`), or 0.
    static func multiCharLength(_ s: ArraySlice<Unicode.Scalar>, _ i: Int) -> Int {
        guard i < s.endIndex else { return 0 }
        if s[i] == "-" || s[i] == "." {
            var j = i
            while j < s.endIndex && s[j] == s[i] { j += 1 }
            if j - i >= 2 { return j - i }
        }
        if s[i] == "." {
            var pairs = 0
            while i + 2 * pairs + 1 < s.endIndex && s[i + 2 * pairs] == "." && PythonText.isSpace(s[i + 2 * pairs + 1]) { pairs += 1 }
            // Greedy, then backtracking one pair at a time until a period follows.
            while pairs >= 2 {
                let end = i + 2 * pairs
                if end < s.endIndex && s[end] == "." { return 2 * pairs + 1 }
                pairs -= 1
            }
        }
        return 0
    }

    /// Whether a word token that started earlier ends before position `k` of its line.
    static func wordEnds(_ s: ArraySlice<Unicode.Scalar>, at k: Int) -> Bool {
        func boundary(_ n: Int) -> Bool {
            n >= s.endIndex || PythonText.isSpace(s[n]) || isNonWord(s[n]) || multiCharLength(s, n) > 0
        }
        if boundary(k) { return true }
        return s[k] == "," && boundary(k + 1)
    }

    /// Punkt's word tokens of one line (`PunktLanguageVars.word_tokenize`).
    static func lineWords(_ s: ArraySlice<Unicode.Scalar>) -> [Scalars] {
        var out: [Scalars] = []
        var i = s.startIndex
        while i < s.endIndex {
            if PythonText.isSpace(s[i]) { i += 1; continue }
            let multi = multiCharLength(s, i)
            if multi > 0 {
                out.append(Array(s[i..<(i + multi)]))
                i += multi
                continue
            }
            if !wordStartExcluded.contains(s[i]) {
                var k = i + 1
                while !wordEnds(s, at: k) { k += 1 }
                out.append(Array(s[i..<k]))
                i = k
                continue
            }
            out.append([s[i]])
            i += 1
        }
        return out
    }

    /// Punkt's word tokens of a text, line by line, skipping blank lines (`_tokenize_words`).
    static func words(_ s: Scalars) -> [Token] {
        var out: [Token] = []
        for line in s.split(separator: "\n", omittingEmptySubsequences: false) where !PythonText.isBlank(line) {
            out.append(contentsOf: lineWords(line).map(Token.init))
        }
        return out
    }

    // MARK: - annotation

    /// First pass: decisions from each token's type alone.
    func annotateByType(_ t: inout Token) {
        let text = t.text
        if text.count == 1 && PunktSentenceTokenizer.isSentenceEnd(text[0]) {
            t.sentenceBreak = true
        } else if t.isEllipsis {
            t.ellipsis = true
        } else if t.periodFinal && !(text.count >= 2 && text[text.count - 2] == ".") {
            let stem = PythonText.lower(Array(text.dropLast()))
            let afterHyphen = stem.split(separator: "-", omittingEmptySubsequences: false).last.map(PythonText.string) ?? ""
            if parameters.abbreviations.contains(PythonText.string(stem)) || parameters.abbreviations.contains(afterHyphen) {
                t.abbreviation = true
            } else {
                t.sentenceBreak = true
            }
        }
    }

    /// Second pass: revises the decision on `t` from the token after it.
    func annotateByContext(_ t: inout Token, next: Token) {
        guard t.periodFinal else { return }
        let type = t.typeNoPeriod
        let nextType = next.typeNoSentencePeriod
        let initial = t.isInitial
        if parameters.collocations.contains(.init(type, nextType)) {
            t.sentenceBreak = false
            t.abbreviation = true
            return
        }
        if (t.abbreviation || t.ellipsis) && !initial {
            if orthographicStarter(next) == true {
                t.sentenceBreak = true
                return
            }
            if next.firstUpper && parameters.sentenceStarters.contains(nextType) {
                t.sentenceBreak = true
                return
            }
        }
        if initial || type == "##number##" {
            let starter = orthographicStarter(next)
            if starter == false {
                t.sentenceBreak = false
                t.abbreviation = true
                return
            }
            if starter == nil && initial && next.firstUpper
                && (parameters.orthographicContext[nextType] ?? 0) & PunktParameters.Ortho.lower == 0 {
                t.sentenceBreak = false
                t.abbreviation = true
            }
        }
    }

    /// Whether `t` starts a sentence by orthographic evidence: true, false, or nil for unknown.
    func orthographicStarter(_ t: Token) -> Bool? {
        if t.text.count == 1, ";:,.!?".unicodeScalars.contains(t.text[0]) { return false }
        let context = parameters.orthographicContext[t.typeNoSentencePeriod] ?? 0
        if t.firstUpper && context & PunktParameters.Ortho.lower != 0 && context & PunktParameters.Ortho.midUpper == 0 {
            return true
        }
        if t.firstLower && (context & PunktParameters.Ortho.upper != 0 || context & PunktParameters.Ortho.begLower == 0) {
            return false
        }
        return nil
    }

    /// Whether some token of `context` ends a sentence and another token follows it.
    func containsSentenceBreak(_ context: Scalars) -> Bool {
        var tokens = PunktSentenceTokenizer.words(context)
        for k in tokens.indices { annotateByType(&tokens[k]) }
        for k in tokens.indices.dropLast() {
            annotateByContext(&tokens[k], next: tokens[k + 1])
            if tokens[k].sentenceBreak { return true }
        }
        return false
    }

    // MARK: - realignment

    static func isCloser(_ c: Unicode.Scalar) -> Bool {
        c == "\"" || c == "'" || c == ")" || c == "]" || c == "}"
    }

    /// Moves closing quotes and brackets that open the next sentence back onto the previous one.
    func realign(_ s: Scalars, _ slices: [Range<Int>]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var shift = 0
        for (n, raw) in slices.enumerated() {
            let first = min(raw.lowerBound + shift, raw.upperBound)..<raw.upperBound
            guard n + 1 < slices.count else {
                if !first.isEmpty { out.append(first) }
                continue
            }
            let next = slices[n + 1]
            if let m = PunktSentenceTokenizer.closerRun(s, next) {
                out.append(first.lowerBound..<(next.lowerBound + m.kept))
                shift = m.consumed
            } else {
                shift = 0
                if !first.isEmpty { out.append(first) }
            }
        }
        return out
    }

    /// `["')\]}]+?(?:\s+|(?=--)|$)` at the start of `range`: (closers kept, characters consumed).
    static func closerRun(_ s: Scalars, _ range: Range<Int>) -> (kept: Int, consumed: Int)? {
        var k = range.lowerBound
        while k < range.upperBound && isCloser(s[k]) {
            k += 1
            if k == range.upperBound { return (k - range.lowerBound, k - range.lowerBound) }
            if PythonText.isSpace(s[k]) {
                var e = k
                while e < range.upperBound && PythonText.isSpace(s[e]) { e += 1 }
                return (k - range.lowerBound, e - range.lowerBound)
            }
            if k + 1 < range.upperBound && s[k] == "-" && s[k + 1] == "-" {
                return (k - range.lowerBound, k - range.lowerBound)
            }
        }
        return nil
    }
}

/// The tokenizers built on NLTK's English models, made once.
enum NLTKEnglishTokenizers {
    static let punkt = PunktSentenceTokenizer(parameters: NLTKEnglish.punkt)
}
