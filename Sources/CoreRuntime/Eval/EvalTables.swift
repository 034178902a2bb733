import Foundation

/// Plain-text tables of evaluation reports for terminals and logs (percentages with one or two
/// decimals; the JSON encodings keep fractions).
public extension CHAIRReport {
    func renderTable() -> String {
        var lines = ["CHAIR (\(n) captions)"]
        lines.append(row("CHAIRs", pct(chairS, 1), "\(hallucinatedCaptions) of \(n) captions hallucinate"))
        lines.append(row("CHAIRi", pct(chairI, 1), "\(hallucinatedMentions) of \(mentions) object mentions"))
        lines.append(row("Recall", pct(recall, 1), "\(recalledObjects) of \(groundTruthObjects) ground-truth objects"))
        lines.append(row("Len", String(format: "%.1f", len), "tokens per caption (chair.py's Len)"))
        if let length {
            lines.append(row("Length", String(format: "%.1f", length.wordsPerResponse),
                             String(format: "words, %.2f sentences per caption", length.sentencesPerResponse)))
        }
        if let images, let digest = imageIdsSHA256 {
            lines.append(row("Images", String(images), "image ids sha256 \(digest.prefix(16)) (compare results on equal sets only)"))
        }
        if unknownImages > 0 {
            lines.append("  \(unknownImages) caption(s) for images missing from the ground truth (all their mentions count "
                + "as hallucinated), e.g. \(unknownImageExamples.prefix(5).joined(separator: ", "))")
        }
        return lines.joined(separator: "\n")
    }
}

public extension POPEMetrics {
    func renderTable(title: String = "POPE") -> String {
        EvalTableFormat.popeHeader(title) + "\n" + EvalTableFormat.popeRow("", self)
    }
}

public extension POPEReport {
    func renderTable() -> String {
        var lines = [EvalTableFormat.popeHeader("POPE")]
        for name in splitNames { if let m = splits[name] { lines.append(EvalTableFormat.popeRow(name, m)) } }
        if splitNames.count > 1 {
            lines.append(EvalTableFormat.popeRow("average", average))
            lines.append(String(format: "mean of the %d splits: F1 %.2f, accuracy %.2f (the POPE numbers LLaVA-1.5 and TinyLLaVA report)",
                                splitNames.count, average.f1 * 100, average.accuracy * 100))
        }
        return lines.joined(separator: "\n")
    }
}

public extension SHRReport {
    func renderTable() -> String {
        var lines = ["SHR (\(n) images, judge \(judge))"]
        lines.append(row("SHR", pct(shr, 1), "\(hallucinated) of \(sentences) judged sentences"))
        lines.append(row("Hal. words", pct(hallucinatedWordsRatio, 1), "share of judged words in hallucinated sentences"))
        lines.append(row("Sent/img", String(format: "%.2f", sentencesPerImage), String(format: "%.2f words per image", wordsPerImage)))
        if let length {
            lines.append(row("Length", String(format: "%.1f", length.wordsPerResponse),
                             String(format: "words, %.2f sentences per response (Punkt)", length.sentencesPerResponse)))
        }
        let reps = (1...4).map { String(format: "%d-gram %.3f", $0, ngramRepetition[String($0)] ?? 0) }
        lines.append(row("Unique", "", reps.joined(separator: ", ")))
        if unjudged > 0 { lines.append("  \(unjudged) sentence(s) got no usable verdict and are left out of SHR") }
        return lines.joined(separator: "\n")
    }
}

private func pct(_ x: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", x * 100) }

private func row(_ name: String, _ value: String, _ note: String) -> String {
    "  " + name.padding(toLength: 11, withPad: " ", startingAt: 0)
        + String(repeating: " ", count: max(0, 6 - value.count)) + value + "   " + note
}

enum EvalTableFormat {
    static func cell(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }

    static func popeHeader(_ title: String) -> String {
        title.padding(toLength: 12, withPad: " ", startingAt: 0)
            + ["Accuracy", "Precision", "Recall", "F1", "Yes%", "n"].map { cell($0, 10) }.joined()
    }

    static func popeRow(_ name: String, _ m: POPEMetrics) -> String {
        name.padding(toLength: 12, withPad: " ", startingAt: 0)
            + [m.accuracy, m.precision, m.recall, m.f1, m.yesRatio].map { cell(pct($0, 2), 10) }.joined()
            + cell(String(m.n), 10)
    }
}
