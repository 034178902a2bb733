/// Last stage of decoding: turns token strings back into text (HF "decoder"). Each step maps the
/// list of token strings to a new list; the final list is concatenated.
protocol TokenDecoder {
    func decodeChain(_ tokens: [String]) -> [String]
    var json: OrderedJSON { get }
}

enum TokenDecoders {
    static func make(_ s: JSONSection) throws -> TokenDecoder {
        let type = try s.typeName()
        switch type {
        case "Sequence":
            return SequenceDecoder(steps: try s.section("decoders").items().map(make))
        case "ByteLevel":
            return ByteLevelDecoder(addPrefixSpace: try s.bool("add_prefix_space", default: true),
                                    trimOffsets: try s.bool("trim_offsets", default: true),
                                    useRegex: try s.bool("use_regex", default: true))
        case "Replace":
            guard let lit = try s.pattern("pattern").literal else {
                throw s.fail("unsupported decoder \"Replace\" with a Regex pattern")
            }
            return ReplaceDecoder(pattern: lit, content: try s.string("content"))
        case "ByteFallback":
            return ByteFallbackDecoder()
        case "Fuse":
            return FuseDecoder()
        case "Strip":
            return StripDecoder(content: try s.string("content"), start: try s.int("start"), stop: try s.int("stop"))
        case "Metaspace":
            let m = try MetaspacePreTokenizer(s)
            return MetaspaceDecoder(pre: m)
        case "BPEDecoder":
            return SuffixDecoder(suffix: try s.optionalString("suffix") ?? "</w>")
        default:
            throw s.fail("unsupported decoder \"\(type)\" (supported: Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, BPEDecoder)")
        }
    }
}

struct SequenceDecoder: TokenDecoder {
    let steps: [TokenDecoder]
    func decodeChain(_ tokens: [String]) -> [String] { steps.reduce(tokens) { $1.decodeChain($0) } }
    var json: OrderedJSON { .object([("type", .string("Sequence")), ("decoders", .array(steps.map(\.json)))]) }
}

/// Maps byte-level scalars back to bytes and reads the bytes as UTF-8 (invalid sequences become U+FFFD).
/// A token with a scalar outside the byte alphabet passes through as its own UTF-8.
struct ByteLevelDecoder: TokenDecoder {
    /// Kept only so that a saved file says what the loaded one said; decoding ignores them.
    var addPrefixSpace = true
    var trimOffsets = true
    var useRegex = true

    func decodeChain(_ tokens: [String]) -> [String] {
        var bytes: [UInt8] = []
        for t in tokens {
            var mapped: [UInt8] = []
            var ok = true
            for s in t.unicodeScalars {
                guard let b = ByteLevel.byte(for: s) else { ok = false; break }
                mapped.append(b)
            }
            bytes.append(contentsOf: ok ? mapped : Array(t.utf8))
        }
        return [String(decoding: bytes, as: UTF8.self)]
    }
    var json: OrderedJSON {
        .object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(addPrefixSpace)),
                 ("trim_offsets", .bool(trimOffsets)), ("use_regex", .bool(useRegex))])
    }
}

struct ReplaceDecoder: TokenDecoder {
    let pattern: String
    let content: String
    func decodeChain(_ tokens: [String]) -> [String] {
        let p = Array(pattern.unicodeScalars), c = Array(content.unicodeScalars)
        return tokens.map { t in
            var a = AlignedText(original: Array(t.unicodeScalars)[...])
            a.replace(p, with: c)
            return a.string
        }
    }
    var json: OrderedJSON {
        .object([("type", .string("Replace")), ("pattern", .object([("String", .string(pattern))])), ("content", .string(content))])
    }
}

/// Turns runs of `<0xNN>` tokens back into text; a run that is not valid UTF-8 gives one U+FFFD per byte.
struct ByteFallbackDecoder: TokenDecoder {
    static func byteValue(_ t: String) -> UInt8? {
        let u = Array(t.utf8)
        guard u.count == 6, u[0] == UInt8(ascii: "<"), u[1] == UInt8(ascii: "0"), u[2] == UInt8(ascii: "x"),
              u[5] == UInt8(ascii: ">") else { return nil }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }

    func decodeChain(_ tokens: [String]) -> [String] {
        var out: [String] = []
        var pending: [UInt8] = []
        func flush() {
            guard !pending.isEmpty else { return }
            if let s = String(validating: pending, as: UTF8.self) {
                out.append(s)
            } else {
                out.append(contentsOf: Array(repeating: "\u{FFFD}", count: pending.count))
            }
            pending.removeAll()
        }
        for t in tokens {
            if let b = ByteFallbackDecoder.byteValue(t) { pending.append(b); continue }
            flush()
            out.append(t)
        }
        flush()
        return out
    }
    var json: OrderedJSON { .object([("type", .string("ByteFallback"))]) }
}

struct FuseDecoder: TokenDecoder {
    func decodeChain(_ tokens: [String]) -> [String] { [tokens.joined()] }
    var json: OrderedJSON { .object([("type", .string("Fuse"))]) }
}

/// Removes up to `start` leading and `stop` trailing occurrences of `content` from each token.
struct StripDecoder: TokenDecoder {
    let content: String
    let start: Int
    let stop: Int
    func decodeChain(_ tokens: [String]) -> [String] {
        guard let c = content.unicodeScalars.first else { return tokens }
        return tokens.map { t in
            let s = Array(t.unicodeScalars)
            var lo = 0, hi = s.count
            while lo < min(start, s.count), s[lo] == c { lo += 1 }
            var cut = 0
            while cut < stop, hi > lo, s[hi - 1] == c { hi -= 1; cut += 1 }
            return ExactKey(s[lo..<hi]).text
        }
    }
    var json: OrderedJSON {
        .object([("type", .string("Strip")), ("content", .string(content)), ("start", .int(start)), ("stop", .int(stop))])
    }
}

/// "▁" back to spaces; the first token loses the space the pre-tokenizer put in front.
struct MetaspaceDecoder: TokenDecoder {
    let pre: MetaspacePreTokenizer
    func decodeChain(_ tokens: [String]) -> [String] {
        tokens.enumerated().map { i, t in
            var out = String.UnicodeScalarView()
            for s in t.unicodeScalars {
                if s == pre.replacement {
                    // HF drops every "▁" of the first token, not only a leading one.
                    if i == 0 && pre.prepend != .never { continue }
                    out.append(" ")
                } else {
                    out.append(s)
                }
            }
            return String(out)
        }
    }
    var json: OrderedJSON { pre.json }
}

/// Classic BPE end-of-word suffix: the suffix becomes a space, except on the last token.
struct SuffixDecoder: TokenDecoder {
    let suffix: String
    func decodeChain(_ tokens: [String]) -> [String] {
        tokens.enumerated().map { i, t in
            let s = Array(t.unicodeScalars), sfx = Array(suffix.unicodeScalars)
            guard s.count >= sfx.count, s[(s.count - sfx.count)...].elementsEqual(sfx) else { return t }
            let body = ExactKey(s[0..<(s.count - suffix.unicodeScalars.count)]).text
            return i + 1 == tokens.count ? body : body + " "
        }
    }
    var json: OrderedJSON { .object([("type", .string("BPEDecoder")), ("suffix", .string(suffix))]) }
}
