import CoreRuntime
import Foundation

/// The text format detectors answer in, one line per numbered sentence:
///
///     1. correct
///     2. hallucination: object: 3
///     3. hallucination: attribute: 2: the cup is red, not blue
///
/// (type, then severity 1-3, then an optional reason). The model detector is trained to write it;
/// the chat detector is asked for it. Parsing is lenient, because chat models paraphrase: numbering
/// as "2." "2)" or "2:", any case, markdown bullets, a "Judgement:" header, lines in any order, words
/// instead of a severity digit (minor/moderate/major).
public enum DetectionFormat {
    /// The answer for labelled sentences.
    public static func render(_ labels: [DetectionSentence], reasons: Bool = false) -> String {
        labels.enumerated().map { i, l in "\(i + 1). " + line(l, reason: reasons) }.joined(separator: "\n")
    }

    /// One verdict without its number: "correct" or "hallucination: <type>: <severity>[: <reason>]".
    public static func line(_ l: DetectionSentence, reason: Bool = false) -> String {
        guard l.hallucinated else { return "correct" }
        var s = "hallucination: \(l.type?.rawValue ?? "object"): \(l.severity)"
        if reason && !l.reason.isEmpty { s += ": " + l.reason }
        return s
    }

    /// The verdicts of a reply for sentences 1...count; nil where the reply gives none for a number
    /// (or says "cannot judge"). The first usable line for a number wins. `text` of each label is empty.
    public static func parse(_ reply: String, count: Int) -> [DetectionSentence?] {
        var out = [DetectionSentence?](repeating: nil, count: count)
        for raw in reply.components(separatedBy: .newlines) {
            guard let (number, rest) = numbered(raw), number >= 1, number <= count,
                  out[number - 1] == nil, let verdict = verdict(rest) else { continue }
            out[number - 1] = verdict
        }
        return out
    }

    /// Parses a verdict without a number ("correct", "hallucination: relation: 1", ...).
    public static func verdict(_ text: String) -> DetectionSentence? {
        let s = text.lowercased().trimmingCharacters(in: .whitespaces)
        let words = s.split { !$0.isLetter && !$0.isNumber }.map(String.init)
        guard let first = words.first else { return nil }
        if first == "correct" || first == "faithful" || s.hasPrefix("no hallucination") || s.hasPrefix("not hallucinated") { return .correct("") }
        guard first.hasPrefix("hallucinat") || first == "incorrect" || first == "wrong" else { return nil }
        let type = words.lazy.compactMap(typeWord).first
        var severity = words.lazy.compactMap { Int($0) }.first { (1...3).contains($0) }
        if severity == nil { severity = words.lazy.compactMap(severityWord).first }
        // The reason is what follows the type and severity fields.
        let fields = text.components(separatedBy: ":")
        let reason = fields.count > 3 ? fields[3...].joined(separator: ":").trimmingCharacters(in: .whitespaces) : ""
        return DetectionSentence(text: "", hallucinated: true, type: type ?? .object,
                                 severity: severity ?? (type ?? .object).severity, reason: reason)
    }

    /// "2. rest", "2) rest", "2: rest", "- 2. rest", "**2.** rest" -> (2, "rest").
    static func numbered(_ line: String) -> (Int, String)? {
        var s = Substring(line.trimmingCharacters(in: .whitespaces))
        while let c = s.first, c == "-" || c == "*" || c == "#" || c == " " { s = s.dropFirst() }
        let digits = s.prefix { $0.isNumber }
        guard !digits.isEmpty, let n = Int(digits) else { return nil }
        s = s.dropFirst(digits.count)
        guard let sep = s.first, sep == "." || sep == ")" || sep == ":" else { return nil }
        s = s.dropFirst()
        while let c = s.first, c == "*" || c == " " { s = s.dropFirst() }
        return (n, String(s))
    }

    static func typeWord(_ w: String) -> HallucinationType? {
        switch w {
        case "object", "objects", "existence": return .object
        case "attribute", "attributes", "color", "colour", "size": return .attribute
        case "relation", "relations", "relationship", "spatial", "position": return .relation
        default: return nil
        }
    }

    static func severityWord(_ w: String) -> Int? {
        switch w {
        case "minor", "low", "mild": return 1
        case "moderate", "medium": return 2
        case "major", "high", "severe": return 3
        default: return nil
        }
    }
}
