import Foundation

/// The prompt a chat judge receives and the parsing of its answer, laid out as the SHR evaluation of Zhao et al. (2023)
/// evaluation does: region boxes, factual statements, numbered sentences, and a reply that starts with
/// a "Judgement:" line followed by one "N. <class>: <reason>" line per sentence.
public enum ChatJudgePrompt {
    /// The default template; `{regions}`, `{facts}` and `{sentences}` are replaced.
    public static let defaultTemplate = """
    You are checking a description of an image for hallucinations.

    Below are region descriptions of the image, one per line, written as [x1, y1, x2, y2]: description, \
    where the box corners are fractions of the image width and height. Boxes that overlap heavily may show \
    the same object. Take these regions and the facts after them as the truth about the image. They cover \
    what is in the image, not its mood, style or atmosphere; for sentences about those, answer "cannot judge".

    Judge every numbered sentence of the description as hallucination, correct or cannot judge, and give a \
    reason for each.

    Reply in exactly this format:
    Judgement:
    1. hallucination or correct or cannot judge: <reason>
    2. ...

    Region descriptions:
    {regions}

    Facts:
    {facts}

    Sentences to judge (hallucination, correct, or cannot judge):
    {sentences}
    """

    /// Renders the template for one image.
    public static func render(template: String = defaultTemplate, regions: [SHRRegion], facts: [String],
                              sentences: [String]) -> String {
        let regionText = regions.map { "\(formatBox($0.box)): \($0.phrase)\n" }.joined()
        let factText = facts.map { "\($0)\n" }.joined()
        return template.replacingOccurrences(of: "{regions}", with: regionText)
            .replacingOccurrences(of: "{facts}", with: factText)
            .replacingOccurrences(of: "{sentences}", with: SHRText.numbered(sentences))
    }

    /// "[0.1, 0.25, 1.0, 1.0]": two decimals, printed the way Python prints such floats.
    public static func formatBox(_ box: [Double]) -> String {
        "[" + box.map { v -> String in
            var s = String(format: "%.2f", v)
            while s.hasSuffix("0") && !s.hasSuffix(".0") { s.removeLast() }
            return s
        }.joined(separator: ", ") + "]"
    }

    /// Reads the judge's reply: the lines after the first line containing "Judgement:", each with its
    /// leading number dropped; the class is the text before the first ':' in lower case. When the reply
    /// has no such line or the number of verdicts differs from `sentenceCount`, every sentence gets nil.
    public static func parse(reply: String, sentenceCount: Int) -> [SentenceJudgement?] {
        let none = [SentenceJudgement?](repeating: nil, count: sentenceCount)
        let lines = reply.components(separatedBy: "\n").filter { !$0.isEmpty }
        guard let header = lines.firstIndex(where: { $0.contains("Judgement:") }) else { return none }
        let verdicts = lines[(header + 1)...]
            .map { $0.components(separatedBy: " ").dropFirst().joined(separator: " ").trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.isEmpty }
        guard verdicts.count == sentenceCount else { return none }
        return verdicts.map { line in
            let cls = line.components(separatedBy: ":")[0].lowercased()
            return SentenceJudgement(rawValue: cls)
        }
    }
}
