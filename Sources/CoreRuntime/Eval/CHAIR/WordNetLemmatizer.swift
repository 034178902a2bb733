/// The coarse part of speech that chooses a WordNet lemmatisation (NLTK maps Penn tags J*, V*, N*, R*
/// to these; every other tag lemmatises as a noun).
public enum WordNetPOS: Int, Sendable {
    case noun = 0, verb, adjective, adverb

    /// The part of speech chair.py lemmatises a Penn Treebank tag as: J* adjective, V* verb, N* noun,
    /// R* adverb, anything else noun.
    public init(pennTag tag: String) {
        switch tag.unicodeScalars.first {
        case "J": self = .adjective
        case "V": self = .verb
        case "R": self = .adverb
        default: self = .noun
        }
    }
}

/// WordNet 3.0 lemmatisation ("morphy", as NLTK's WordNetLemmatizer applies it) restricted to the words
/// that can change a CHAIR score.
///
/// The full WordNet database is not shipped. `scripts/eval_wordnet_table.py` runs morphy over every
/// surface form whose lemma, under some part of speech, is a CHAIR vocabulary word, a part of a double
/// word or "seat"/"toilet", and records the lemmas that differ from the surface form. Any other word
/// either lemmatises to itself or to a word CHAIR ignores, so returning it unchanged gives the same
/// CHAIR result.
public enum WordNetLemmatizer {
    private static let lemmas: [String: [String?]] = {
        var out: [String: [String?]] = [:]
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count == 5 else { continue }
            out[fields[0]] = fields[1...].map { $0 == "=" ? nil : $0 }
        }
        return out
    }()

    /// The lemma of `word` for the given part of speech.
    public static func lemmatize(_ word: String, as pos: WordNetPOS) -> String {
        guard let row = lemmas[word] else { return word }
        return row[pos.rawValue] ?? word
    }
}
