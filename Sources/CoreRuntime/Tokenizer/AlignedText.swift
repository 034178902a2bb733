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
    var string: String { ExactKey.string(scalars) }

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
        text = ExactKey.string(scalars)
    }

    /// Builds a String from scalars through UTF-8 bytes (much faster than appending to a scalar view).
    static func string(_ scalars: some Sequence<Unicode.Scalar>) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(scalars.underestimatedCount * 2)
        for s in scalars { appendUTF8(s, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    @inline(__always) static func appendUTF8(_ s: Unicode.Scalar, to bytes: inout [UInt8]) {
        let v = s.value
        if v < 0x80 {
            bytes.append(UInt8(v))
        } else if v < 0x800 {
            bytes.append(UInt8(0xC0 | (v >> 6)))
            bytes.append(UInt8(0x80 | (v & 0x3F)))
        } else if v < 0x10000 {
            bytes.append(UInt8(0xE0 | (v >> 12)))
            bytes.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            bytes.append(UInt8(0x80 | (v & 0x3F)))
        } else {
            bytes.append(UInt8(0xF0 | (v >> 18)))
            bytes.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            bytes.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            bytes.append(UInt8(0x80 | (v & 0x3F)))
        }
    }

    static func == (a: ExactKey, b: ExactKey) -> Bool { a.text.utf8.elementsEqual(b.text.utf8) }

    func hash(into hasher: inout Hasher) {
        var t = text
        t.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// A word as cache key: its scalars, hashed as raw memory.
struct ScalarsKey: Hashable {
    let scalars: [Unicode.Scalar]

    static func == (a: ScalarsKey, b: ScalarsKey) -> Bool { a.scalars == b.scalars }

    func hash(into hasher: inout Hasher) {
        scalars.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
