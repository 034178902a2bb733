/// `nltk.word_tokenize` as NLTK 3.8 runs it: Punkt sentences (the trained English model), then the
/// improved Treebank rules (`NLTKWordTokenizer`) on each sentence. The rules are applied in NLTK's
/// order as direct character scans rather than regular expressions, which keeps 500 captions well
/// under a millisecond each.
public enum TreebankWordTokenizer {
    typealias Scalars = [Unicode.Scalar]

    /// Tokens of `text` (sentence split first, so every sentence-final period is its own token).
    public static func tokenize(_ text: String, punkt: PunktSentenceTokenizer = .english) -> [String] {
        let s = Array(text.unicodeScalars)
        var out: [String] = []
        for span in punkt.spans(s) {
            out.append(contentsOf: tokenizeSentence(Array(s[span])))
        }
        return out
    }

    /// The Treebank rules on one sentence.
    static func tokenizeSentence(_ input: Scalars) -> [String] {
        var t = input
        t = startingQuotes(t)
        t = finalPeriod(t)
        t = padCommaColon(t)
        t = padTrailingCommaColon(t)
        t = padDotRuns(t)
        t = pad(t) { $0 == ";" || $0 == "@" || $0 == "#" || $0 == "$" || $0 == "%" || $0 == "&" }
        t = pad(t) { $0 == "?" || $0 == "!" }
        t = splitQuoteBeforeSpace(t)
        t = pad(t) { $0 == "*" }
        t = pad(t) { brackets.contains($0) }
        t = replacePairs(t, "-", "-", with: Array(" -- ".unicodeScalars))
        t = [" "] + t + [" "]
        t = endingQuotes(t)
        t = contractions(t)
        return split(t)
    }

    static let brackets = Set("[](){}<>".unicodeScalars)

    // MARK: - character classes (Python's \s, \w, \d on str patterns)

    static func isSpace(_ c: Unicode.Scalar) -> Bool { PythonText.isSpace(c) }
    static func isWord(_ c: Unicode.Scalar) -> Bool { PythonText.isWord(c) }
    static func isDigit(_ c: Unicode.Scalar) -> Bool { PythonText.isDecimal(c) }

    static func split(_ t: Scalars) -> [String] {
        var out: [String] = []
        var current = String.UnicodeScalarView()
        for c in t {
            if isSpace(c) {
                if !current.isEmpty { out.append(String(current)); current = String.UnicodeScalarView() }
            } else {
                current.append(c)
            }
        }
        if !current.isEmpty { out.append(String(current)) }
        return out
    }

    /// Surrounds every character matching `predicate` with spaces.
    static func pad(_ t: Scalars, _ predicate: (Unicode.Scalar) -> Bool) -> Scalars {
        guard t.contains(where: predicate) else { return t }
        var o = Scalars()
        o.reserveCapacity(t.count + 8)
        for c in t {
            if predicate(c) { o.append(" "); o.append(c); o.append(" ") } else { o.append(c) }
        }
        return o
    }

    /// Replaces non-overlapping occurrences of the two-character sequence `a b`.
    static func replacePairs(_ t: Scalars, _ a: Unicode.Scalar, _ b: Unicode.Scalar, with r: Scalars) -> Scalars {
        guard t.contains(a) else { return t }
        var o = Scalars()
        o.reserveCapacity(t.count + 8)
        var i = 0
        while i < t.count {
            if t[i] == a && i + 1 < t.count && t[i + 1] == b {
                o.append(contentsOf: r)
                i += 2
            } else {
                o.append(t[i])
                i += 1
            }
        }
        return o
    }

    // MARK: - starting quotes

    static func startingQuotes(_ input: Scalars) -> Scalars {
        let quoteLike: Set<Unicode.Scalar> = ["«", "“", "‘", "„", "`", "\"", "'"]
        guard input.contains(where: { quoteLike.contains($0) }) else { return input }
        var t = Scalars()
        // ([«“‘„]|[`]+) -> " \1 "
        var i = 0
        while i < input.count {
            let c = input[i]
            if c == "«" || c == "“" || c == "‘" || c == "„" {
                t.append(contentsOf: [" ", c, " "]); i += 1
            } else if c == "`" {
                var j = i
                while j < input.count && input[j] == "`" { j += 1 }
                t.append(" "); t.append(contentsOf: input[i..<j]); t.append(" ")
                i = j
            } else {
                t.append(c); i += 1
            }
        }
        // ^\" -> ``
        if t.first == "\"" { t.replaceSubrange(0..<1, with: ["`", "`"]) }
        // (``) -> " `` "
        t = replacePairs(t, "`", "`", with: Array(" `` ".unicodeScalars))
        // ([ \(\[{<])(\"|\'{2}) -> "\1 `` "
        var o = Scalars()
        i = 0
        while i < t.count {
            let c = t[i]
            if " ([{<".unicodeScalars.contains(c) && i + 1 < t.count {
                if t[i + 1] == "\"" {
                    o.append(c); o.append(contentsOf: " `` ".unicodeScalars); i += 2; continue
                }
                if t[i + 1] == "'" && i + 2 < t.count && t[i + 2] == "'" {
                    o.append(c); o.append(contentsOf: " `` ".unicodeScalars); i += 3; continue
                }
            }
            o.append(c); i += 1
        }
        // (?i)(\')(?!re|ve|ll|m|t|s|d|n)(\w)\b -> "\1 \2": a quote before a one-letter word.
        t = Scalars()
        i = 0
        while i < o.count {
            if o[i] == "'" && i + 1 < o.count && isWord(o[i + 1])
                && (i + 2 == o.count || !isWord(o[i + 2]))
                && !"mtsdnMTSDN".unicodeScalars.contains(o[i + 1]) {
                t.append("'"); t.append(" "); t.append(o[i + 1]); i += 2
            } else {
                t.append(o[i]); i += 1
            }
        }
        return t
    }

    // MARK: - punctuation

    static func isFinalCloser(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "]", ")", "}", ">", "\"", "'", "»", "”", "’", " ": return true
        default: return false
        }
    }

    /// `([^\.])(\.)([\]\)}>"\'»”’ ]*)\s*$` -> `"\1 \2 \3 "`: splits the sentence's last period off,
    /// keeping closing quotes or brackets after it. NLTK's second final-period rule never changes the
    /// tokens once this one ran, so it is not repeated.
    static func finalPeriod(_ t: Scalars) -> Scalars {
        guard let q = t.lastIndex(of: "."), q > 0, t[q - 1] != "." else { return t }
        var j = q + 1
        while j < t.count && isFinalCloser(t[j]) { j += 1 }
        guard t[j...].allSatisfy(isSpace) else { return t }
        var o = Scalars(t[..<q])
        o.append(contentsOf: [" ", ".", " "])
        o.append(contentsOf: t[(q + 1)..<j])
        o.append(" ")
        return o
    }

    /// `([:,])([^\d])` -> `" \1 \2"`.
    static func padCommaColon(_ t: Scalars) -> Scalars {
        guard t.contains(where: { $0 == "," || $0 == ":" }) else { return t }
        var o = Scalars()
        o.reserveCapacity(t.count + 16)
        var i = 0
        while i < t.count {
            let c = t[i]
            if (c == "," || c == ":") && i + 1 < t.count && !isDigit(t[i + 1]) {
                o.append(contentsOf: [" ", c, " ", t[i + 1]]); i += 2
            } else {
                o.append(c); i += 1
            }
        }
        return o
    }

    /// `([:,])$` -> `" \1 "` (Python's `$` also matches before a final newline).
    static func padTrailingCommaColon(_ t: Scalars) -> Scalars {
        var k = t.count - 1
        if k >= 1 && t[k] == "\n" && (t[k - 1] == "," || t[k - 1] == ":") { k -= 1 }
        guard k >= 0, t[k] == "," || t[k] == ":" else { return t }
        var o = t
        o.replaceSubrange(k...k, with: [" ", t[k], " "])
        return o
    }

    /// `\.{2,}` -> `" \g<0> "`.
    static func padDotRuns(_ t: Scalars) -> Scalars {
        guard t.contains(".") else { return t }
        var o = Scalars()
        o.reserveCapacity(t.count + 4)
        var i = 0
        while i < t.count {
            if t[i] == "." {
                var j = i
                while j < t.count && t[j] == "." { j += 1 }
                if j - i >= 2 { o.append(" "); o.append(contentsOf: t[i..<j]); o.append(" ") } else { o.append(".") }
                i = j
            } else {
                o.append(t[i]); i += 1
            }
        }
        return o
    }

    /// `([^'])' ` -> `"\1 ' "`.
    static func splitQuoteBeforeSpace(_ t: Scalars) -> Scalars {
        guard t.contains("'") else { return t }
        var o = Scalars()
        o.reserveCapacity(t.count + 4)
        var i = 0
        while i < t.count {
            if t[i] != "'" && i + 2 < t.count && t[i + 1] == "'" && t[i + 2] == " " {
                o.append(contentsOf: [t[i], " ", "'", " "]); i += 3
            } else {
                o.append(t[i]); i += 1
            }
        }
        return o
    }

    // MARK: - ending quotes and clitics

    static let clitics1: [Scalars] = ["'s", "'S", "'m", "'M", "'d", "'D", "'"].map { Array($0.unicodeScalars) }
    static let clitics2: [Scalars] = ["'ll", "'LL", "'re", "'RE", "'ve", "'VE", "n't", "N'T"].map { Array($0.unicodeScalars) }

    static func endingQuotes(_ input: Scalars) -> Scalars {
        var t = pad(input) { $0 == "»" || $0 == "”" || $0 == "’" }
        t = replacePairs(t, "'", "'", with: Array(" '' ".unicodeScalars))
        if t.contains("\"") {
            var o = Scalars()
            for c in t { if c == "\"" { o.append(contentsOf: " '' ".unicodeScalars) } else { o.append(c) } }
            t = o
        }
        t = splitClitics(t, clitics1)
        t = splitClitics(t, clitics2)
        return t
    }

    /// `([^' ])(clitic) ` -> `"\1 \2 "`, trying the alternatives in order.
    static func splitClitics(_ t: Scalars, _ alternatives: [Scalars]) -> Scalars {
        guard t.contains("'") else { return t }
        var o = Scalars()
        o.reserveCapacity(t.count + 8)
        var i = 0
        outer: while i < t.count {
            let c = t[i]
            if c != "'" && c != " " {
                for alt in alternatives {
                    let end = i + 1 + alt.count
                    if end < t.count && t[end] == " " && matches(t, at: i + 1, alt) {
                        o.append(c); o.append(" "); o.append(contentsOf: alt); o.append(" ")
                        i = end + 1
                        continue outer
                    }
                }
            }
            o.append(c); i += 1
        }
        return o
    }

    /// MacIntyre's contractions ("cannot" -> "can not", "gonna" -> "gon na", " 'tis" -> " 't is").
    static let contractionPairs: [(String, String, Bool)] = [
        ("can", "not", false), ("d", "'ye", false), ("gim", "me", false), ("gon", "na", false),
        ("got", "ta", false), ("lem", "me", false), ("more", "'n", false), ("wan", "na", true),
    ]

    static let contractionTriggers: [Scalars] = ["cannot", "d'ye", "gimme", "gonna", "gotta", "lemme", "more'n", "wanna", "'t"]
        .map { Array($0.unicodeScalars) }

    static func contractions(_ input: Scalars) -> Scalars {
        var t = input
        guard contractionTriggers.contains(where: { containsIgnoringASCIICase(t, $0) }) else { return t }
        for (a, b, needsSpaceAfter) in contractionPairs {
            let whole = Array((a + b).unicodeScalars)
            let lowerNow = lowercasedScalars(t)
            guard contains(lowerNow, whole) else { continue }
            var o = Scalars()
            var i = 0
            while i < t.count {
                let end = i + whole.count
                if end <= t.count && matches(lowerNow, at: i, whole)
                    && (i == 0 || !isWord(t[i - 1]))
                    && (needsSpaceAfter ? (end < t.count && isSpace(t[end])) : (end == t.count || !isWord(t[end]))) {
                    let cut = i + a.unicodeScalars.count
                    o.append(" "); o.append(contentsOf: t[i..<cut]); o.append(" ")
                    o.append(contentsOf: t[cut..<end]); o.append(" ")
                    i = end
                } else {
                    o.append(t[i]); i += 1
                }
            }
            t = o
        }
        for word in ["is", "was"] {
            let whole = Array((" 't" + word).unicodeScalars)
            let lowerNow = lowercasedScalars(t)
            guard contains(lowerNow, whole) else { continue }
            var o = Scalars()
            var i = 0
            while i < t.count {
                let end = i + whole.count
                if end <= t.count && matches(lowerNow, at: i, whole) && (end == t.count || !isWord(t[end])) {
                    o.append(" "); o.append(contentsOf: t[(i + 1)..<(i + 3)]); o.append(" ")
                    o.append(contentsOf: t[(i + 3)..<end]); o.append(" ")
                    i = end
                } else {
                    o.append(t[i]); i += 1
                }
            }
            t = o
        }
        return t
    }

    /// Lower-cases scalar by scalar so indices stay aligned with the original.
    static func lowercasedScalars(_ t: Scalars) -> Scalars {
        t.map { c in
            if c.value < 128 { return (c.value >= 65 && c.value <= 90) ? Unicode.Scalar(c.value + 32)! : c }
            let l = c.properties.lowercaseMapping.unicodeScalars
            return l.count == 1 ? l.first! : c
        }
    }

    static func contains(_ hay: Scalars, _ needle: Scalars) -> Bool {
        guard !needle.isEmpty, needle.count <= hay.count else { return false }
        for i in 0...(hay.count - needle.count) where matches(hay, at: i, needle) { return true }
        return false
    }

    /// `contains` with ASCII letters of `hay` compared lower-cased (`needle` is lower-case), without copying.
    static func containsIgnoringASCIICase(_ hay: Scalars, _ needle: Scalars) -> Bool {
        guard !needle.isEmpty, needle.count <= hay.count else { return false }
        outer: for i in 0...(hay.count - needle.count) {
            for k in 0..<needle.count {
                var c = hay[i + k].value
                if c >= 65 && c <= 90 { c += 32 }
                if c != needle[k].value {
                    // Non-ASCII capitals: fall back to the full lower-case mapping.
                    if c >= 128 && lowercasedScalars([hay[i + k]])[0] == needle[k] { continue }
                    continue outer
                }
            }
            return true
        }
        return false
    }

    /// Whether `needle` occurs in `hay` starting at `i`.
    static func matches(_ hay: Scalars, at i: Int, _ needle: Scalars) -> Bool {
        guard i >= 0, i + needle.count <= hay.count else { return false }
        for k in 0..<needle.count where hay[i + k] != needle[k] { return false }
        return true
    }
}
