/// Text as it moves through the tokenizer pipeline: Unicode scalars, each remembering which scalars of
/// the original input it came from. Normalizers and pre-tokenizers rewrite the scalars; the origins let
/// a token be traced back to the input span it covers (what the chat template needs for labels).
struct AlignedText {
    /// Half-open range of scalar offsets in the original input.
    struct Origin: Equatable {
        var lo: Int32
        var hi: Int32
    }

    var scalars: [Unicode.Scalar]
    var origins: [Origin]
    /// Offset in the original input where this piece starts (meaningful even when the piece is empty).
    var start: Int

    init(scalars: [Unicode.Scalar], origins: [Origin], start: Int) {
        self.scalars = scalars
        self.origins = origins
        self.start = start
    }

    /// A slice of the original input, aligned one to one.
    init(original: ArraySlice<Unicode.Scalar>) {
        scalars = Array(original)
        origins = original.indices.map { Origin(lo: Int32($0), hi: Int32($0 + 1)) }
        start = original.startIndex
    }

    var isEmpty: Bool { scalars.isEmpty }
    var count: Int { scalars.count }
    var string: String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars)
        return String(s)
    }

    /// The input span covered by the scalars in `range` (empty span at `start` for an empty range).
    func span(_ range: Range<Int>) -> Range<Int> {
        guard !range.isEmpty else {
            let at = range.lowerBound < origins.count ? Int(origins[range.lowerBound].lo)
                : (origins.last.map { Int($0.hi) } ?? start)
            return at..<at
        }
        var lo = Int32.max, hi = Int32.min
        for o in origins[range] {
            lo = min(lo, o.lo)
            hi = max(hi, o.hi)
        }
        return Int(lo)..<Int(max(lo, hi))
    }

    func slice(_ range: Range<Int>) -> AlignedText {
        let st = range.lowerBound < origins.count ? Int(origins[range.lowerBound].lo) : span(range).lowerBound
        return AlignedText(scalars: Array(scalars[range]), origins: Array(origins[range]), start: range.isEmpty ? span(range).lowerBound : st)
    }

    /// Inserts `prefix` in front; the new scalars point at the first scalar's origin.
    /// Empty text stays empty, as in HF.
    mutating func prepend(_ prefix: [Unicode.Scalar]) {
        guard !prefix.isEmpty, let o = origins.first else { return }
        scalars.insert(contentsOf: prefix, at: 0)
        origins.insert(contentsOf: Array(repeating: o, count: prefix.count), at: 0)
    }

    /// Replaces every non-overlapping occurrence of `pattern` (left to right) with `replacement`.
    /// Replacement scalars point at the whole matched span.
    mutating func replace(_ pattern: [Unicode.Scalar], with replacement: [Unicode.Scalar]) {
        guard !pattern.isEmpty, scalars.count >= pattern.count else { return }
        if pattern.count == 1, replacement.count == 1 {
            let p = pattern[0], r = replacement[0]
            for k in scalars.indices where scalars[k] == p { scalars[k] = r }
            return
        }
        var outS: [Unicode.Scalar] = []
        var outO: [Origin] = []
        outS.reserveCapacity(scalars.count)
        outO.reserveCapacity(scalars.count)
        var i = 0
        while i < scalars.count {
            if i + pattern.count <= scalars.count, scalars[i] == pattern[0],
               scalars[i..<(i + pattern.count)].elementsEqual(pattern) {
                let sp = span(i..<(i + pattern.count))
                let o = Origin(lo: Int32(sp.lowerBound), hi: Int32(sp.upperBound))
                outS.append(contentsOf: replacement)
                outO.append(contentsOf: Array(repeating: o, count: replacement.count))
                i += pattern.count
            } else {
                outS.append(scalars[i])
                outO.append(origins[i])
                i += 1
            }
        }
        scalars = outS
        origins = outO
    }

    /// Replaces the scalars in each of `ranges` (sorted, disjoint) with the corresponding output.
    mutating func rewrite(_ ranges: [Range<Int>], with outputs: [[Unicode.Scalar]]) {
        var outS: [Unicode.Scalar] = []
        var outO: [Origin] = []
        var i = 0
        for (r, rep) in zip(ranges, outputs) {
            outS.append(contentsOf: scalars[i..<r.lowerBound])
            outO.append(contentsOf: origins[i..<r.lowerBound])
            let sp = span(r)
            let o = Origin(lo: Int32(sp.lowerBound), hi: Int32(sp.upperBound))
            outS.append(contentsOf: rep)
            outO.append(contentsOf: Array(repeating: o, count: rep.count))
            i = r.upperBound
        }
        outS.append(contentsOf: scalars[i...])
        outO.append(contentsOf: origins[i...])
        scalars = outS
        origins = outO
    }

    /// Maps each scalar to zero or more scalars that inherit its origin.
    mutating func mapScalars(_ f: (Unicode.Scalar) -> [Unicode.Scalar]) {
        var outS: [Unicode.Scalar] = []
        var outO: [Origin] = []
        outS.reserveCapacity(scalars.count)
        outO.reserveCapacity(scalars.count)
        for (s, o) in zip(scalars, origins) {
            let m = f(s)
            outS.append(contentsOf: m)
            outO.append(contentsOf: Array(repeating: o, count: m.count))
        }
        scalars = outS
        origins = outO
    }
}

/// A string key compared and hashed by its exact scalars, never by canonical equivalence
/// (Swift's `String ==` would merge "é" and "e\u{301}", which are different tokens).
struct ExactKey: Hashable {
    let text: String

    init(_ text: String) { self.text = text }

    init(_ scalars: some Sequence<Unicode.Scalar>) {
        var v = String.UnicodeScalarView()
        v.append(contentsOf: scalars)
        text = String(v)
    }

    static func == (a: ExactKey, b: ExactKey) -> Bool { a.text.utf8.elementsEqual(b.text.utf8) }

    func hash(into hasher: inout Hasher) {
        var t = text
        t.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
