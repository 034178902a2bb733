import Foundation

/// The text handling of SHR (Zhao et al.'s (2023) `shr_eval`): sentence splitting with repetition removal, word
/// counts and n-gram repetition.
public enum SHRText {
    /// Splits a response on '.', trims each piece, drops empty pieces and drops any piece equal to or
    /// contained in an earlier kept sentence (repetition removal). Sentences are returned without the
    /// period.
    public static func sentences(_ response: String) -> [String] {
        var kept: [String] = []
        for piece in response.components(separatedBy: ".") {
            let sentence = piece.trimmingCharacters(in: .whitespacesAndNewlines)
            if sentence.isEmpty { continue }
            if kept.contains(where: { $0.contains(sentence) }) { continue }
            kept.append(sentence)
        }
        return kept
    }

    /// "1. first\n2. second\n": the numbered list the judge sees.
    public static func numbered(_ sentences: [String]) -> String {
        sentences.enumerated().map { "\($0.offset + 1). \($0.element)\n" }.joined()
    }

    /// Words as SHR counts them: the sentence with its period, split on single spaces.
    public static func wordCount(_ sentence: String) -> Int {
        (sentence + ".").split(separator: " ", omittingEmptySubsequences: false).count
    }

    /// Unique n-grams / n-grams of the response, after deleting '.', ':', '\n', '?' and ',' and
    /// splitting on whitespace (their `cal_repetition`); nil when the response has no n-gram.
    public static func repetition(_ response: String, n: Int) -> Double? {
        var text = response
        for mark in [".", ":", "\n", "?", ","] { text = text.replacingOccurrences(of: mark, with: "") }
        let words = text.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        guard n >= 1, words.count >= n else { return nil }
        var grams: [[String]] = []
        for i in 0...(words.count - n) { grams.append(Array(words[i..<(i + n)])) }
        return Double(Set(grams).count) / Double(grams.count)
    }
}
