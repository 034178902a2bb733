/// Second stage: cuts normalized text into words; the BPE model never merges across words.
protocol PreTokenizer {
    func split(_ text: AlignedText) -> [AlignedText]
    var json: OrderedJSON { get }
}

enum PreTokenizers {
    static func make(_ s: JSONSection) throws -> PreTokenizer {
        let type = try s.typeName()
        switch type {
        case "Sequence":
            return SequencePreTokenizer(steps: try s.section("pretokenizers").items().map(make))
        case "ByteLevel":
            return ByteLevelPreTokenizer(addPrefixSpace: try s.bool("add_prefix_space", default: true),
                                         trimOffsets: try s.bool("trim_offsets", default: true),
                                         useRegex: try s.bool("use_regex", default: true))
        case "Metaspace":
            return try MetaspacePreTokenizer(s)
        case "Split":
            return try SplitPreTokenizer(s)
        case "WhitespaceSplit":
            return WhitespaceSplitPreTokenizer()
        default:
            throw s.fail("unsupported pre_tokenizer \"\(type)\" (supported: Sequence, ByteLevel, Metaspace, Split, WhitespaceSplit)")
        }
    }
}

struct SequencePreTokenizer: PreTokenizer {
    let steps: [PreTokenizer]
    func split(_ text: AlignedText) -> [AlignedText] {
        var pieces = [text]
        for step in steps { pieces = pieces.flatMap(step.split) }
        return pieces
    }
    var json: OrderedJSON { .object([("type", .string("Sequence")), ("pretokenizers", .array(steps.map(\.json)))]) }
}

/// GPT-2's pre-tokenizer: the regex split, then every UTF-8 byte becomes one alphabet scalar.
struct ByteLevelPreTokenizer: PreTokenizer {
    var addPrefixSpace = false
    var trimOffsets = true
    var useRegex = true

    func split(_ text: AlignedText) -> [AlignedText] {
        var t = text
        if addPrefixSpace, t.scalars.first != " " { t.prepend([" "]) }
        let ranges = useRegex ? ByteLevel.split(t.scalars) : [0..<t.count]
        let table = ByteLevel.byteToScalar
        var out: [AlignedText] = []
        out.reserveCapacity(ranges.count)
        var bytes: [UInt8] = []
        for r in ranges where !r.isEmpty {
            // Every UTF-8 byte becomes one alphabet scalar that keeps the origin of its source scalar.
            var sc: [Unicode.Scalar] = []
            var og: [AlignedText.Origin] = []
            sc.reserveCapacity(r.count + 2)
            og.reserveCapacity(r.count + 2)
            for k in r {
                let s = t.scalars[k]
                if s.value < 0x80 {
                    sc.append(table[Int(s.value)])
                    og.append(t.origins[k])
                } else {
                    bytes.removeAll(keepingCapacity: true)
                    ExactKey.appendUTF8(s, to: &bytes)
                    for b in bytes {
                        sc.append(table[Int(b)])
                        og.append(t.origins[k])
                    }
                }
            }
            out.append(AlignedText(scalars: sc, origins: og, start: Int(t.origins[r.lowerBound].lo)))
        }
        return out
    }

    var json: OrderedJSON {
        .object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(addPrefixSpace)),
                 ("trim_offsets", .bool(trimOffsets)), ("use_regex", .bool(useRegex))])
    }
}

/// SentencePiece-style: spaces become "▁", a "▁" goes in front, optionally a split before each "▁".
struct MetaspacePreTokenizer: PreTokenizer {
    enum Prepend: String { case always, first, never }
    let replacement: Unicode.Scalar
    let prepend: Prepend
    let splitWords: Bool
    /// Whether the file used the old `add_prefix_space` key (kept on save).
    let legacyKey: Bool

    init(replacement: Unicode.Scalar = "\u{2581}", prepend: Prepend = .always, split: Bool = true) {
        self.replacement = replacement
        self.prepend = prepend
        splitWords = split
        legacyKey = false
    }

    init(_ s: JSONSection) throws {
        let rep = Array(try s.string("replacement").unicodeScalars)
        guard rep.count == 1 else { throw s.fail("Metaspace replacement must be one character") }
        replacement = rep[0]
        if let scheme = try s.optionalString("prepend_scheme") {
            guard let p = Prepend(rawValue: scheme) else { throw s.fail("unsupported Metaspace prepend_scheme \"\(scheme)\"") }
            prepend = p
            legacyKey = false
        } else {
            prepend = try s.bool("add_prefix_space", default: true) ? .always : .never
            legacyKey = s.has("add_prefix_space")
        }
        splitWords = try s.bool("split", default: true)
    }

    func split(_ text: AlignedText) -> [AlignedText] {
        var t = text
        t.replace([" "], with: [replacement])
        let starts = t.scalars.first == replacement
        switch prepend {
        case .always: if !starts { t.prepend([replacement]) }
        case .first: if !starts && t.start == 0 { t.prepend([replacement]) }
        case .never: break
        }
        guard splitWords, !t.isEmpty else { return t.isEmpty ? [] : [t] }
        var out: [AlignedText] = []
        var begin = 0
        for k in 1..<max(t.count, 1) where t.scalars[k] == replacement {
            out.append(t.slice(begin..<k))
            begin = k
        }
        out.append(t.slice(begin..<t.count))
        return out
    }

    var json: OrderedJSON {
        var e: [(String, OrderedJSON)] = [("type", .string("Metaspace")), ("replacement", .string(String(replacement)))]
        if legacyKey {
            e.append(("add_prefix_space", .bool(prepend != .never)))
        } else {
            e.append(("prepend_scheme", .string(prepend.rawValue)))
        }
        e.append(("split", .bool(splitWords)))
        return .object(e)
    }
}

/// Splits on a pattern, keeping or dropping the matches as `behavior` says.
struct SplitPreTokenizer: PreTokenizer {
    enum Behavior: String { case Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }
    let pattern: TextPattern
    let behavior: Behavior
    let invert: Bool

    init(_ s: JSONSection) throws {
        pattern = try TextPattern.read(s, key: "pattern")
        let b = try s.string("behavior")
        guard let beh = Behavior(rawValue: b) else { throw s.fail("unsupported Split behavior \"\(b)\"") }
        behavior = beh
        invert = try s.bool("invert", default: false)
    }

    func split(_ text: AlignedText) -> [AlignedText] {
        // Segments covering the text, flagged as match or not.
        var segs: [(Range<Int>, Bool)] = []
        var at = 0
        for m in pattern.matches(in: text.scalars) {
            if m.lowerBound > at { segs.append((at..<m.lowerBound, invert)) }
            segs.append((m, !invert))
            at = m.upperBound
        }
        if at < text.count { segs.append((at..<text.count, invert)) }
        var ranges: [Range<Int>] = []
        switch behavior {
        case .Removed:
            ranges = segs.filter { !$0.1 }.map(\.0)
        case .Isolated:
            ranges = segs.map(\.0)
        case .MergedWithPrevious:
            var cur: Range<Int>? = nil
            for (r, isMatch) in segs {
                if isMatch, let c = cur { ranges.append(c.lowerBound..<r.upperBound); cur = nil; continue }
                if let c = cur { ranges.append(c) }
                cur = isMatch ? nil : r
                if isMatch { ranges.append(r) }
            }
            if let c = cur { ranges.append(c) }
        case .MergedWithNext:
            var pending: Range<Int>? = nil
            for (r, isMatch) in segs {
                if isMatch {
                    if let p = pending { ranges.append(p) }
                    pending = r
                } else if let p = pending {
                    ranges.append(p.lowerBound..<r.upperBound)
                    pending = nil
                } else {
                    ranges.append(r)
                }
            }
            if let p = pending { ranges.append(p) }
        case .Contiguous:
            var last: (Range<Int>, Bool)? = nil
            for (r, isMatch) in segs {
                if let l = last, l.1 && isMatch && l.0.upperBound == r.lowerBound {
                    last = (l.0.lowerBound..<r.upperBound, true)
                } else {
                    if let l = last { ranges.append(l.0) }
                    last = (r, isMatch)
                }
            }
            if let l = last { ranges.append(l.0) }
        }
        return ranges.filter { !$0.isEmpty }.map { text.slice($0) }
    }

    var json: OrderedJSON {
        .object([("type", .string("Split")), ("pattern", pattern.json), ("behavior", .string(behavior.rawValue)),
                 ("invert", .bool(invert))])
    }
}

/// Splits on Unicode whitespace, dropping it.
struct WhitespaceSplitPreTokenizer: PreTokenizer {
    func split(_ text: AlignedText) -> [AlignedText] {
        var out: [AlignedText] = []
        var begin: Int? = nil
        for (k, s) in text.scalars.enumerated() {
            if s.properties.isWhitespace {
                if let b = begin { out.append(text.slice(b..<k)); begin = nil }
            } else if begin == nil { begin = k }
        }
        if let b = begin { out.append(text.slice(b..<text.count)) }
        return out
    }
    var json: OrderedJSON { .object([("type", .string("WhitespaceSplit"))]) }
}
