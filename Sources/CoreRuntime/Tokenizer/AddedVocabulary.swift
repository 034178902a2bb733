/// A token matched in the text before any other stage runs (HF "added_tokens"): special tokens such as
/// `<s>` and `</s>`, and any extra whole strings that must map to one id.
public struct AddedToken: Equatable {
    public let id: Int
    public let content: String
    /// Only match when not inside a word.
    public var singleWord = false
    /// Swallow the whitespace on the left / right of a match.
    public var lstrip = false
    public var rstrip = false
    /// Match in the normalized text rather than in the raw input.
    public var normalized = false
    /// Special tokens are dropped by `decode(skipSpecialTokens: true)`.
    public var special = true

    public init(id: Int, content: String, singleWord: Bool = false, lstrip: Bool = false, rstrip: Bool = false,
                normalized: Bool = false, special: Bool = true) {
        self.id = id
        self.content = content
        self.singleWord = singleWord
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
        self.special = special
    }

    var json: OrderedJSON {
        .object([("id", .int(id)), ("content", .string(content)), ("single_word", .bool(singleWord)),
                 ("lstrip", .bool(lstrip)), ("rstrip", .bool(rstrip)), ("normalized", .bool(normalized)),
                 ("special", .bool(special))])
    }

    static func read(_ s: JSONSection) throws -> AddedToken {
        let content = try s.string("content")
        guard !content.isEmpty else { throw s.fail("added token with empty content") }
        let special = try s.bool("special", default: false)
        let id = try s.int("id")
        guard id >= 0 else { throw s.fail("added token \"\(content)\" has a negative id \(id)") }
        try Limits.tokenId.check(id, "\(s.file): \(s.keyPath): added token \"\(content)\" has id \(id)")
        return AddedToken(id: id, content: content,
                          singleWord: try s.bool("single_word", default: false),
                          lstrip: try s.bool("lstrip", default: false), rstrip: try s.bool("rstrip", default: false),
                          normalized: try s.bool("normalized", default: !special), special: special)
    }
}

/// The added tokens and the splitting of text around them.
struct AddedVocabulary {
    enum Section {
        case token(id: Int, span: Range<Int>)
        case text(AlignedText)
    }

    let tokens: [AddedToken]
    private let byId: [Int: AddedToken]
    private let byContent: [ExactKey: Int]
    private let rawMatcher: Matcher
    private let normalizedMatcher: Matcher

    init(_ tokens: [AddedToken]) {
        self.tokens = tokens.sorted { $0.id < $1.id }
        var ids: [Int: AddedToken] = [:]
        var contents: [ExactKey: Int] = [:]
        for t in self.tokens {
            ids[t.id] = t
            contents[ExactKey(t.content)] = t.id
        }
        byId = ids
        byContent = contents
        rawMatcher = Matcher(self.tokens.filter { !$0.normalized })
        normalizedMatcher = Matcher(self.tokens.filter { $0.normalized })
    }

    func token(forId id: Int) -> AddedToken? { byId[id] }
    func id(of content: String) -> Int? { byContent[ExactKey(content)] }
    var maxId: Int { tokens.last?.id ?? -1 }

    /// Cuts `text` at the added tokens matched in it (raw tokens before normalization, normalized after).
    func split(_ text: AlignedText, normalizedPass: Bool) -> [Section] {
        let m = normalizedPass ? normalizedMatcher : rawMatcher
        if m.isEmpty { return [.text(text)] }
        return m.split(text)
    }

    /// Leftmost-longest matching of a set of strings, with HF's single_word / lstrip / rstrip rules.
    struct Matcher {
        private var byFirst: [Unicode.Scalar: [(scalars: [Unicode.Scalar], token: AddedToken)]] = [:]
        /// Quick rejection of ASCII scalars that start no token (most text never reaches the dictionary).
        private var asciiStarts = [Bool](repeating: false, count: 128)

        init(_ tokens: [AddedToken]) {
            for t in tokens {
                let sc = Array(t.content.unicodeScalars)
                byFirst[sc[0], default: []].append((sc, t))
                if sc[0].value < 128 { asciiStarts[Int(sc[0].value)] = true }
            }
            for k in byFirst.keys { byFirst[k]!.sort { $0.scalars.count > $1.scalars.count } }
        }

        var isEmpty: Bool { byFirst.isEmpty }

        private static func isWordScalar(_ s: Unicode.Scalar) -> Bool {
            s == "_" || s.properties.isAlphabetic || s.properties.numericType != nil
        }

        func split(_ text: AlignedText) -> [Section] {
            let s = text.scalars
            var out: [Section] = []
            var textStart = 0
            var i = 0
            while i < s.count {
                if s[i].value < 128 && !asciiStarts[Int(s[i].value)] { i += 1; continue }
                guard let cands = byFirst[s[i]],
                      let hit = cands.first(where: { i + $0.scalars.count <= s.count && s[i..<(i + $0.scalars.count)].elementsEqual($0.scalars) })
                else { i += 1; continue }
                let end = i + hit.scalars.count
                let tok = hit.token
                if tok.singleWord {
                    let leftOK = i == 0 || !Matcher.isWordScalar(s[i - 1])
                    let rightOK = end == s.count || !Matcher.isWordScalar(s[end])
                    if !(leftOK && rightOK) { i = end; continue }
                }
                var lo = i, hi = end
                if tok.lstrip { while lo > textStart, s[lo - 1].properties.isWhitespace { lo -= 1 } }
                if tok.rstrip { while hi < s.count, s[hi].properties.isWhitespace { hi += 1 } }
                if lo > textStart { out.append(.text(text.slice(textStart..<lo))) }
                out.append(.token(id: tok.id, span: text.span(lo..<hi)))
                textStart = hi
                i = hi
            }
            if textStart < s.count { out.append(.text(text.slice(textStart..<s.count))) }
            return out
        }
    }
}
