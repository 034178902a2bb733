import Foundation

/// First stage: rewrites each span of input text that is not an added token (HF "normalizer").
protocol Normalizer {
    func normalize(_ text: inout AlignedText)
    /// The tokenizer.json form, for saving.
    var json: OrderedJSON { get }
}

/// Builds the normalizer a tokenizer.json section describes.
enum Normalizers {
    static func make(_ s: JSONSection) throws -> Normalizer {
        let type = try s.typeName()
        switch type {
        case "Sequence":
            return SequenceNormalizer(steps: try s.section("normalizers").items().map(make))
        case "Prepend":
            return PrependNormalizer(prefix: Array(try s.string("prepend").unicodeScalars))
        case "Replace":
            return ReplaceNormalizer(pattern: try TextPattern.read(s, key: "pattern"),
                                     content: Array(try s.string("content").unicodeScalars))
        case "NFC", "NFD", "NFKC", "NFKD":
            return UnicodeFormNormalizer(form: type)
        case "Lowercase":
            return LowercaseNormalizer()
        case "Strip":
            return StripNormalizer(left: try s.bool("strip_left", default: true), right: try s.bool("strip_right", default: true))
        case "StripAccents":
            return StripAccentsNormalizer()
        default:
            throw s.fail("unsupported normalizer \"\(type)\" (supported: Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents)")
        }
    }
}

struct SequenceNormalizer: Normalizer {
    let steps: [Normalizer]
    func normalize(_ text: inout AlignedText) { for n in steps { n.normalize(&text) } }
    var json: OrderedJSON { .object([("type", .string("Sequence")), ("normalizers", .array(steps.map(\.json)))]) }
}

/// Puts a prefix in front of non-empty text (Llama's "▁" before the first word).
struct PrependNormalizer: Normalizer {
    let prefix: [Unicode.Scalar]
    func normalize(_ text: inout AlignedText) {
        if !text.isEmpty { text.prepend(prefix) }
    }
    var json: OrderedJSON { .object([("type", .string("Prepend")), ("prepend", .string(ExactKey(prefix).text))]) }
}

struct ReplaceNormalizer: Normalizer {
    let pattern: TextPattern
    let content: [Unicode.Scalar]
    func normalize(_ text: inout AlignedText) {
        switch pattern {
        case let .literal(p): text.replace(p, with: content)
        case .regex:
            let ranges = pattern.matches(in: text.scalars)
            if !ranges.isEmpty { text.rewrite(ranges, with: Array(repeating: content, count: ranges.count)) }
        }
    }
    var json: OrderedJSON {
        .object([("type", .string("Replace")), ("pattern", pattern.json), ("content", .string(ExactKey(content).text))])
    }
}

/// Unicode normalization forms, applied per grapheme cluster so every output scalar keeps an origin.
struct UnicodeFormNormalizer: Normalizer {
    let form: String

    private func apply(_ s: String) -> String {
        switch form {
        case "NFC": return s.precomposedStringWithCanonicalMapping
        case "NFD": return s.decomposedStringWithCanonicalMapping
        case "NFKC": return s.precomposedStringWithCompatibilityMapping
        default: return s.decomposedStringWithCompatibilityMapping
        }
    }

    func normalize(_ text: inout AlignedText) {
        if text.scalars.allSatisfy({ $0.isASCII }) { return }
        var ranges: [Range<Int>] = []
        var outputs: [[Unicode.Scalar]] = []
        var i = 0
        for ch in text.string {
            let n = ch.unicodeScalars.count
            let mapped = Array(apply(String(ch)).unicodeScalars)
            if !mapped.elementsEqual(ch.unicodeScalars) {
                ranges.append(i..<(i + n))
                outputs.append(mapped)
            }
            i += n
        }
        if !ranges.isEmpty { text.rewrite(ranges, with: outputs) }
    }

    var json: OrderedJSON { .object([("type", .string(form))]) }
}

struct LowercaseNormalizer: Normalizer {
    func normalize(_ text: inout AlignedText) {
        text.mapScalars { s in
            if s.isASCII { return [Unicode.Scalar(UInt8(ascii: "A") <= UInt8(s.value) && UInt8(s.value) <= UInt8(ascii: "Z") ? UInt8(s.value) + 32 : UInt8(s.value))] }
            return Array(s.properties.lowercaseMapping.unicodeScalars)
        }
    }
    var json: OrderedJSON { .object([("type", .string("Lowercase"))]) }
}

struct StripNormalizer: Normalizer {
    let left: Bool
    let right: Bool
    func normalize(_ text: inout AlignedText) {
        var lo = 0, hi = text.count
        if left { while lo < hi, text.scalars[lo].properties.isWhitespace { lo += 1 } }
        if right { while hi > lo, text.scalars[hi - 1].properties.isWhitespace { hi -= 1 } }
        if lo != 0 || hi != text.count { text = text.slice(lo..<hi) }
    }
    var json: OrderedJSON {
        .object([("type", .string("Strip")), ("strip_left", .bool(left)), ("strip_right", .bool(right))])
    }
}

/// Drops combining marks (meant to follow NFD, as in HF).
struct StripAccentsNormalizer: Normalizer {
    func normalize(_ text: inout AlignedText) {
        text.mapScalars { $0.properties.generalCategory == .nonspacingMark ? [] : [$0] }
    }
    var json: OrderedJSON { .object([("type", .string("StripAccents"))]) }
}
