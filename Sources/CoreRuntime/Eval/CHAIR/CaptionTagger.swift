/// Chooses the part of speech that CHAIR's lemmatiser uses for a token.
///
/// chair.py tags captions with NLTK's averaged-perceptron tagger, whose trained weights are not
/// available here. A tag only matters where WordNet gives different lemmas per part of speech and one of
/// them is a CHAIR word (see `WordNetLemmatizer.isAmbiguous`), so this tagger decides just those few
/// cases by context, the way the perceptron tends to on captions:
/// - "-ing" forms are gerunds/participles (verbs: "skiing" -> "ski", "seating" -> "seat") unless a
///   determiner precedes them or they sit between two nouns ("the skiing trip", "water skiing abilities");
/// - "-ed" forms are participles ("seated" -> "seat") unless a noun follows ("a potted plant");
/// - a plural after he/she/it/who/which is a verb ("it bows");
/// - irregular past forms (born, lit, sank, sunk) are verbs.
/// Everything else is a noun. On the Less-is-More Table 1 captions this reproduces the reference
/// CHAIR numbers of chair.py within a few mentions (see the CHAIR tests).
enum CaptionTagger {
    static let determiners: Set<String> = [
        "the", "a", "an", "this", "that", "these", "those", "his", "her", "their", "its", "my", "your",
        "our", "some", "any", "no", "each", "every", "another", "whose",
    ]
    static let functionWords: Set<String> = determiners.union([
        "and", "or", "but", "nor", "so", "yet", "of", "in", "on", "at", "by", "for", "with", "from", "to",
        "into", "onto", "over", "under", "down", "up", "out", "off", "through", "across", "along", "around",
        "behind", "near", "towards", "toward", "while", "as", "than", "like", "about", "above", "below",
        "between", "among", "beside", "next", "during", "is", "are", "was", "were", "be", "been", "being",
        "has", "have", "had", "it", "he", "she", "they", "we", "i", "you", "him", "them", "who", "which",
        "where", "when", "there", "here", "not", "also", "very", "too", "just", "then", "both", "all",
    ])
    static let subjectPronouns: Set<String> = ["he", "she", "it", "who", "which"]
    static let irregularVerbForms: Set<String> = ["born", "borne", "lit", "sank", "sunk"]
    static let punctuation = Set(",.;:!?()[]{}\"'`-".unicodeScalars)

    /// Whether a token could be a noun heading or continuing a noun phrase.
    static func isNounLike(_ w: String?) -> Bool {
        guard let w, !w.isEmpty else { return false }
        if functionWords.contains(w) || w.unicodeScalars.allSatisfy({ punctuation.contains($0) }) { return false }
        if w.hasPrefix("'") || w.hasSuffix("ly") || w.hasSuffix("ing") || w.hasSuffix("ed") { return false }
        return true
    }

    /// The part of speech for each token (only meaningful for tokens whose lemma depends on it).
    static func tags(_ tokens: [String]) -> [WordNetPOS] {
        var out = [WordNetPOS](repeating: .noun, count: tokens.count)
        for (i, w) in tokens.enumerated() where WordNetLemmatizer.isAmbiguous(w) {
            let prev = i > 0 ? tokens[i - 1] : nil
            let next = i + 1 < tokens.count ? tokens[i + 1] : nil
            out[i] = tag(w, prev: prev, next: next)
        }
        return out
    }

    static func tag(_ w: String, prev: String?, next: String?) -> WordNetPOS {
        let length = w.unicodeScalars.count
        if irregularVerbForms.contains(w) { return .verb }
        if w.hasSuffix("ing") && length > 4 {
            if let prev, determiners.contains(prev) { return .noun }
            if isNounLike(prev) && isNounLike(next) { return .noun }
            return .verb
        }
        if w.hasSuffix("ed") && length > 3 {
            return isNounLike(next) ? .adjective : .verb
        }
        if w.hasSuffix("s"), let prev, subjectPronouns.contains(prev) { return .verb }
        return .noun
    }
}
