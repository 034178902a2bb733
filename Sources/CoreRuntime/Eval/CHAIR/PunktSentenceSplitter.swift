/// Sentence splitting as NLTK's Punkt tokenizer does it with empty (untrained) parameters.
///
/// `nltk.word_tokenize` splits a text into sentences with Punkt before the Treebank rules run, and the
/// Treebank rules split off only a sentence's *final* period. So a period after "dog" in "a dog. a cat"
/// becomes its own token only because Punkt ended a sentence there. Punkt's trained English parameters
/// (abbreviations, collocations, capitalisation statistics) are not reproduced; on lower-cased captions
/// they only matter for abbreviations such as "st." or "e.g.", which are not object words.
enum PunktSentenceSplitter {
    typealias Scalars = [Unicode.Scalar]

    /// The sentences of `text`, as substrings (leading whitespace removed, closing punctuation after a
    /// sentence-final period moved back onto its sentence).
    static func sentences(_ text: String) -> [String] {
        let s = Array(text.unicodeScalars)
        return spans(s).map { String(String.UnicodeScalarView(s[$0])) }
    }

    static func spans(_ s: Scalars) -> [Range<Int>] {
        var slices: [Range<Int>] = []
        var lastBreak = 0
        for candidate in endContexts(s) where containsSentenceBreak(candidate.context) {
            slices.append(lastBreak..<(candidate.end + 1))
            lastBreak = candidate.nextTokenStart ?? (candidate.end + 1)
        }
        var stop = s.count
        while stop > 0 && isSpace(s[stop - 1]) { stop -= 1 }
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

    static func isNonWord(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case ")", "\"", ";", "}", "]", "*", ":", "@", "'", "(", "{", "[", "!", "?": return true
        default: return false
        }
    }

    static func isSpace(_ c: Unicode.Scalar) -> Bool { TreebankWordTokenizer.isSpace(c) }

    /// Every place where a sentence may end, with the text Punkt inspects to decide. Consecutive endings
    /// ("!!!") overlap; only the last one of such a run is kept, as NLTK does.
    static func endContexts(_ s: Scalars) -> [EndContext] {
        var out: [EndContext] = []
        var previous: (end: Int, next: Int?, after: Range<Int>)? = nil
        var previousSlice = 0..<0
        for i in 0..<s.count where isSentenceEnd(s[i]) {
            guard i + 1 < s.count else { continue }
            let after: Range<Int>
            var next: Int? = nil
            if isNonWord(s[i + 1]) {
                after = (i + 1)..<(i + 2)
            } else if isSpace(s[i + 1]) {
                var j = i + 1
                while j < s.count && isSpace(s[j]) { j += 1 }
                guard j < s.count else { continue }
                var k = j
                while k < s.count && !isSpace(s[k]) { k += 1 }
                after = (i + 1)..<k
                next = j
            } else {
                continue
            }
            // The word before the ending starts after the last whitespace since the previous word's end.
            var wordStart = previousSlice.lowerBound
            let lo = previousSlice.upperBound
            var w = i - 1
            while w >= lo {
                if isSpace(s[w]) { break }
                w -= 1
            }
            // NLTK treats a whitespace at offset 0 of the searched stretch as "no whitespace found".
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

    // MARK: - Punkt's word tokens and annotation

    struct Token {
        let text: Scalars
        var sentenceBreak = false
        var abbreviation = false
        var ellipsis = false

        var periodFinal: Bool { text.last == "." }
        var isEllipsis: Bool { text.count >= 2 && text.allSatisfy { $0 == "." } }
        var isInitial: Bool {
            text.count == 2 && text[1] == "." && PunktSentenceSplitter.isWordChar(text[0])
                && !PunktSentenceSplitter.isDigit(text[0])
        }
        /// Whether the token, lower-cased and without a final period, is Punkt's "##number##" type.
        var isNumberType: Bool { PunktSentenceSplitter.isNumeric(text) }
        var firstUpper: Bool { text.first.map { $0.properties.isUppercase } ?? false }
        var firstLower: Bool { text.first.map { $0.properties.isLowercase } ?? false }
    }

    static func isWordChar(_ c: Unicode.Scalar) -> Bool { TreebankWordTokenizer.isWord(c) }

    static func isDigit(_ c: Unicode.Scalar) -> Bool { TreebankWordTokenizer.isDigit(c) }

    /// `^-?[\.,]?\d[\d,\.-]*\.?$`
    static func isNumeric(_ t: Scalars) -> Bool {
        var i = 0
        if i < t.count && t[i] == "-" { i += 1 }
        if i < t.count && (t[i] == "." || t[i] == ",") { i += 1 }
        guard i < t.count && isDigit(t[i]) else { return false }
        i += 1
        while i < t.count && (isDigit(t[i]) || t[i] == "," || t[i] == "." || t[i] == "-") { i += 1 }
        return i == t.count
    }

    static let wordStartExcluded: Set<Unicode.Scalar> = ["(", "\"", "`", "{", "[", ":", ";", "&", "#", "*", "@", ")", "}", "]", "-", ","]

    /// Length of Punkt's multi-character punctuation at `i` ("--", "..", ". . ."), or 0.
    static func multiCharLength(_ s: Scalars, _ i: Int) -> Int {
        guard i < s.count else { return 0 }
        if s[i] == "-" || s[i] == "." {
            var j = i
            while j < s.count && s[j] == s[i] { j += 1 }
            if j - i >= 2 { return j - i }
        }
        if s[i] == "." {
            // (?:\.\s){2,}\.
            var j = i
            var pairs = 0
            while j + 1 < s.count && s[j] == "." && isSpace(s[j + 1]) { j += 2; pairs += 1 }
            if pairs >= 2 && j < s.count && s[j] == "." { return j + 1 - i }
        }
        return 0
    }

    static func wordEnds(_ s: Scalars, at k: Int) -> Bool {
        if k >= s.count || isSpace(s[k]) || isNonWord(s[k]) || multiCharLength(s, k) > 0 { return true }
        if s[k] == "," {
            let n = k + 1
            return n >= s.count || isSpace(s[n]) || isNonWord(s[n]) || multiCharLength(s, n) > 0
        }
        return false
    }

    static func punktWords(_ s: Scalars) -> [Scalars] {
        var out: [Scalars] = []
        var i = 0
        while i < s.count {
            if isSpace(s[i]) { i += 1; continue }
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

    static func containsSentenceBreak(_ context: Scalars) -> Bool {
        var tokens = punktWords(context).map { Token(text: $0) }
        for t in tokens.indices {
            let text = tokens[t].text
            if text.count == 1 && isSentenceEnd(text[0]) {
                tokens[t].sentenceBreak = true
            } else if tokens[t].isEllipsis {
                tokens[t].ellipsis = true
            } else if tokens[t].periodFinal && !(text.count >= 2 && text[text.count - 2] == ".") {
                tokens[t].sentenceBreak = true  // no known abbreviations
            }
        }
        for t in tokens.indices where t + 1 < tokens.count && tokens[t].periodFinal {
            let next = tokens[t + 1]
            guard tokens[t].isInitial || tokens[t].isNumberType else { continue }
            let starter = orthographicStarter(next)
            if starter == false || (starter == nil && tokens[t].isInitial && next.firstUpper) {
                tokens[t].sentenceBreak = false
                tokens[t].abbreviation = true
            }
        }
        // A break counts only if some token follows it.
        return tokens.dropLast().contains { $0.sentenceBreak }
    }

    /// Punkt's orthographic heuristic with no capitalisation statistics: false for punctuation and
    /// lower-case words, unknown (nil) otherwise.
    static func orthographicStarter(_ t: Token) -> Bool? {
        if t.text.count == 1, ";:,.!?".unicodeScalars.contains(t.text[0]) { return false }
        if t.firstLower { return false }
        return nil
    }

    // MARK: - realignment

    static func isCloser(_ c: Unicode.Scalar) -> Bool {
        c == "\"" || c == "'" || c == ")" || c == "]" || c == "}"
    }

    /// Moves closing quotes and brackets that open the next sentence back onto the previous one.
    static func realign(_ s: Scalars, _ slices: [Range<Int>]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var shift = 0
        for (n, raw) in slices.enumerated() {
            let first = min(raw.lowerBound + shift, raw.upperBound)..<raw.upperBound
            guard n + 1 < slices.count else {
                if !first.isEmpty { out.append(first) }
                continue
            }
            let next = slices[n + 1]
            if let m = closerRun(s, next) {
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
            if isSpace(s[k]) {
                var e = k
                while e < range.upperBound && isSpace(s[e]) { e += 1 }
                return (k - range.lowerBound, e - range.lowerBound)
            }
            if k + 1 < range.upperBound && s[k] == "-" && s[k + 1] == "-" {
                return (k - range.lowerBound, k - range.lowerBound)
            }
        }
        return nil
    }
}
