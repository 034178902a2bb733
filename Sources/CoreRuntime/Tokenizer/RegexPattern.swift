import Foundation

/// A regular expression from a tokenizer.json ({"Regex": ...}), matched over scalar arrays.
///
/// HF `tokenizers` uses Oniguruma; this uses ICU through NSRegularExpression. Both support the Unicode
/// classes and look-arounds real tokenizer files use; exotic Oniguruma-only syntax fails at load time.
struct RegexPattern {
    let source: String
    private let regex: NSRegularExpression

    init(_ source: String, file: String, keyPath: String) throws {
        self.source = source
        do { regex = try NSRegularExpression(pattern: source, options: []) } catch {
            throw HalluError.file(file, "\(keyPath): regex not supported by this engine: \(source)")
        }
    }

    /// Non-overlapping matches, as scalar index ranges into `scalars`.
    func matches(in scalars: [Unicode.Scalar]) -> [Range<Int>] {
        guard !scalars.isEmpty else { return [] }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        let text = String(view)
        // UTF-16 offset -> scalar index.
        var utf16ToScalar = [Int](repeating: 0, count: text.utf16.count + 1)
        var u = 0
        for (k, s) in scalars.enumerated() {
            let w = s.utf16.count
            for j in 0..<w { utf16ToScalar[u + j] = k }
            u += w
        }
        utf16ToScalar[u] = scalars.count
        let ns = text as NSString
        return regex.matches(in: text, options: [], range: NSRange(location: 0, length: ns.length)).compactMap { m in
            let r = m.range
            guard r.location != NSNotFound, r.length > 0 else { return nil }
            return utf16ToScalar[r.location]..<utf16ToScalar[r.location + r.length]
        }
    }
}

/// Matches of a literal pattern, left to right, non-overlapping.
func literalMatches(of pattern: [Unicode.Scalar], in scalars: [Unicode.Scalar]) -> [Range<Int>] {
    guard !pattern.isEmpty, scalars.count >= pattern.count else { return [] }
    var out: [Range<Int>] = []
    var i = 0
    while i + pattern.count <= scalars.count {
        if scalars[i] == pattern[0], scalars[i..<(i + pattern.count)].elementsEqual(pattern) {
            out.append(i..<(i + pattern.count))
            i += pattern.count
        } else {
            i += 1
        }
    }
    return out
}

/// `{"String": s}` or `{"Regex": r}` as written in tokenizer.json.
enum TextPattern {
    case literal([Unicode.Scalar])
    case regex(RegexPattern)

    static func read(_ section: JSONSection, key: String) throws -> TextPattern {
        let p = try section.pattern(key)
        if let s = p.literal { return .literal(Array(s.unicodeScalars)) }
        return .regex(try RegexPattern(p.regex!, file: section.file, keyPath: "\(section.keyPath).\(key)"))
    }

    func matches(in scalars: [Unicode.Scalar]) -> [Range<Int>] {
        switch self {
        case let .literal(p): return literalMatches(of: p, in: scalars)
        case let .regex(r): return r.matches(in: scalars)
        }
    }

    var json: OrderedJSON {
        switch self {
        case let .literal(p): return .object([("String", .string(ExactKey(p).text))])
        case let .regex(r): return .object([("Regex", .string(r.source))])
        }
    }
}
