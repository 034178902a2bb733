/// How long a set of responses is. Hallucination rates grow with length (a longer description names
/// more objects and makes more claims), so CHAIR and SHR report it beside the score: two results are
/// comparable only at similar lengths.
public struct ResponseLength: Codable, Equatable, Sendable {
    /// Number of responses.
    public var responses: Int
    /// Whitespace-separated words, over all responses (Python's `len(text.split())`).
    public var words: Int
    /// Sentences, over all responses, as NLTK's `sent_tokenize` (Punkt, English model) splits them.
    public var sentences: Int
    public var wordsPerResponse: Double
    public var sentencesPerResponse: Double

    enum CodingKeys: String, CodingKey {
        case responses, words, sentences
        case wordsPerResponse = "words_per_response", sentencesPerResponse = "sentences_per_response"
    }

    /// The length statistics of `texts`.
    public static func of(_ texts: [String], punkt: PunktSentenceTokenizer = .english) -> ResponseLength {
        var words = 0, sentences = 0
        for text in texts {
            let s = Array(text.unicodeScalars)
            var inWord = false
            for c in s {
                let space = PythonText.isSpace(c)
                if !space && !inWord { words += 1 }
                inWord = !space
            }
            sentences += punkt.spans(s).count
        }
        let n = Double(max(texts.count, 1))
        return ResponseLength(responses: texts.count, words: words, sentences: sentences,
                              wordsPerResponse: Double(words) / n, sentencesPerResponse: Double(sentences) / n)
    }
}
