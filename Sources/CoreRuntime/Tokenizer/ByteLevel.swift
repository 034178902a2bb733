/// GPT-2's byte-level alphabet and its pre-tokenization split.
enum ByteLevel {
    /// Byte -> printable scalar: printable Latin-1 bytes map to themselves, the other 68 bytes to
    /// U+0100 onwards in byte order (space becomes "Ġ", newline "Ċ").
    static let byteToScalar: [Unicode.Scalar] = {
        var printable = [Bool](repeating: false, count: 256)
        for b in 0x21...0x7E { printable[b] = true }
        for b in 0xA1...0xAC { printable[b] = true }
        for b in 0xAE...0xFF { printable[b] = true }
        var out = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if printable[b] {
                out[b] = Unicode.Scalar(UInt32(b))!
            } else {
                out[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return out
    }()

    /// Inverse of `byteToScalar`, indexed by scalar value (all are below U+0144).
    static let scalarToByte: [Int16] = {
        var out = [Int16](repeating: -1, count: 0x144)
        for (b, s) in byteToScalar.enumerated() { out[Int(s.value)] = Int16(b) }
        return out
    }()

    /// The 256 alphabet scalars as one-character strings.
    static var alphabet: [String] { byteToScalar.map { String($0) } }

    /// The byte a byte-level scalar stands for, nil for scalars outside the alphabet.
    @inline(__always) static func byte(for s: Unicode.Scalar) -> UInt8? {
        let v = Int(s.value)
        guard v < scalarToByte.count, scalarToByte[v] >= 0 else { return nil }
        return UInt8(scalarToByte[v])
    }

    private enum Kind: UInt8 { case letter, number, space, other }

    private static let asciiKinds: [Kind] = (0..<128).map { v in
        let s = Unicode.Scalar(UInt8(v))
        if (s >= "a" && s <= "z") || (s >= "A" && s <= "Z") { return .letter }
        if s >= "0" && s <= "9" { return .number }
        if v == 0x20 || (0x09...0x0D).contains(v) { return .space }
        return .other
    }

    @inline(__always) private static func kind(_ s: Unicode.Scalar) -> Kind {
        if s.value < 128 { return asciiKinds[Int(s.value)] }
        let p = s.properties
        if p.isWhitespace { return .space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// Splits like the regex `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`,
    /// with \s meaning Unicode White_Space (what HF's Oniguruma build matches). Returns scalar ranges.
    static func split(_ s: [Unicode.Scalar]) -> [Range<Int>] {
        let n = s.count
        var out: [Range<Int>] = []
        out.reserveCapacity(n / 3 + 1)
        var kinds = [Kind](repeating: .other, count: n)
        for k in 0..<n { kinds[k] = kind(s[k]) }
        let apostrophe: Unicode.Scalar = "'"
        var i = 0
        while i < n {
            // Contractions.
            if s[i] == apostrophe, i + 1 < n {
                let c = s[i + 1]
                if c == "s" || c == "t" || c == "m" || c == "d" { out.append(i..<(i + 2)); i += 2; continue }
                if i + 2 < n {
                    let c2 = s[i + 2]
                    if (c == "r" && c2 == "e") || (c == "v" && c2 == "e") || (c == "l" && c2 == "l") {
                        out.append(i..<(i + 3)); i += 3; continue
                    }
                }
            }
            // An optional single space (U+0020 only) followed by a run of one class.
            let lead = s[i] == " " && i + 1 < n ? 1 : 0
            let k = kinds[i + lead]
            if k != .space && (lead == 1 || k == kinds[i]) {
                var j = i + lead + 1
                while j < n, kinds[j] == k { j += 1 }
                out.append(i..<j)
                i = j
                continue
            }
            // Whitespace: the run, minus its last scalar when non-whitespace follows.
            var j = i
            while j < n, kinds[j] == .space { j += 1 }
            if j < n, j - i > 1 { j -= 1 }
            out.append(i..<j)
            i = j
        }
        return out
    }
}
