import Foundation

/// Judges sentences against a scene's ground truth (`SHRImage.scene`). A sentence is a hallucination
/// when it
/// - mentions a CHAIR-vocabulary object that the scene does not contain (found with the CHAIR parser
///   reading every word as a noun, `CaptionParser.nounPhrases`, so no object the world wrote is missed),
/// - puts a colour or size word directly before an object word (possibly a run such as "small red")
///   that no object of that category has, or
/// - states "X is left of / right of / above / below / next to Y" and no pair of such objects stands in
///   that relation;
/// otherwise it is correct. This judge never answers "cannot judge".
public final class SceneGroundTruthJudge: SentenceJudge {
    public let parser: CaptionParser
    public var name: String { "ground-truth" }

    public init(parser: CaptionParser = .nounPhrases()) { self.parser = parser }

    public static let colourWords: [String: String] = {
        var out: [String: String] = [:]
        for c in ["red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white",
                  "gray", "cyan", "magenta", "violet", "teal", "beige", "tan", "navy", "gold", "silver",
                  "maroon", "olive", "turquoise", "lime", "indigo"] { out[c] = c }
        out["grey"] = "gray"
        out["golden"] = "gold"
        return out
    }()

    public static let sizeWords: [String: String] = [
        "small": "small", "little": "small", "tiny": "small", "smaller": "small", "smallest": "small",
        "medium": "medium", "medium-sized": "medium", "mid-sized": "medium", "midsize": "medium",
        "large": "large", "big": "large", "huge": "large", "giant": "large", "enormous": "large",
        "larger": "large", "largest": "large", "bigger": "large", "biggest": "large",
    ]

    /// Words allowed between the subject and the relation phrase ("the dog is sitting to the left of").
    static let relationFillers: Set<String> = [
        "is", "are", "was", "were", "be", "sits", "sit", "sitting", "stands", "stand", "standing", "lies",
        "lie", "lying", "located", "placed", "positioned", "situated", "appears", "appear", "to", "the",
        "directly", "just", "slightly", "immediately", "also",
    ]
    static let articles: Set<String> = ["the", "a", "an", "one", "another"]

    public static func normalisedColour(_ s: String) -> String { colourWords[s.lowercased()] ?? s.lowercased() }
    public static func normalisedSize(_ s: String) -> String { sizeWords[s.lowercased()] ?? s.lowercased() }

    public func judge(sentences: [String], image: SHRImage) throws -> [SentenceJudgement?] {
        guard let scene = image.scene else {
            throw HalluError("the ground-truth judge needs scene facts for image \(image.id)")
        }
        try scene.validate(imageId: image.id, vocabulary: parser.vocabulary)
        return sentences.map { judge(sentence: $0, scene: scene) }
    }

    /// The verdict on one sentence.
    public func judge(sentence: String, scene: SceneFacts) -> SentenceJudgement {
        let parse = parser.parse(sentence)
        let words = parse.words
        // "orange" directly before another object or adjective is a colour, not the fruit.
        let mentions = parse.mentions.filter { m in
            guard SceneGroundTruthJudge.colourWords[m.word] != nil, m.index + 1 < words.count else { return true }
            let next = words[m.index + 1]
            let nextIsObject = parse.mentions.contains { $0.index == m.index + 1 }
            return !(nextIsObject || SceneGroundTruthJudge.colourWords[next] != nil || SceneGroundTruthJudge.sizeWords[next] != nil)
        }
        let present = Set(scene.objects.map(\.category))
        for m in mentions where !present.contains(m.node) { return .hallucination }
        for m in mentions where attributesContradict(m, words: words, scene: scene) { return .hallucination }
        if relationIsFalse(words: words, mentions: mentions, scene: scene) { return .hallucination }
        return .correct
    }

    /// Whether the colour/size words right before mention `m` fit no object of its category.
    public func attributesContradict(_ m: CHAIRMention, words: [String], scene: SceneFacts) -> Bool {
        let candidates = scene.objects.filter { $0.category == m.node }
        var k = m.index - 1
        while k >= 0 {
            let w = words[k]
            if w == "," || w == "and" { k -= 1; continue }
            if let colour = SceneGroundTruthJudge.colourWords[w] {
                if !candidates.contains(where: { SceneGroundTruthJudge.normalisedColour($0.colour) == colour }) { return true }
            } else if let size = SceneGroundTruthJudge.sizeWords[w] {
                if !candidates.contains(where: { SceneGroundTruthJudge.normalisedSize($0.size) == size }) { return true }
            } else {
                break
            }
            k -= 1
        }
        return false
    }

    /// Finds "X ... <relation> ... Y" with only filler words around the relation phrase and checks it.
    public func relationIsFalse(words: [String], mentions: [CHAIRMention], scene: SceneFacts) -> Bool {
        let phrases: [(tokens: [String], relation: String)] = [
            (["left", "of"], "left of"), (["right", "of"], "right of"), (["next", "to"], "next to"),
            (["above"], "above"), (["below"], "below"),
        ]
        let mentionAt = Dictionary(mentions.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
        for start in words.indices {
            for phrase in phrases where start + phrase.tokens.count <= words.count
                && Array(words[start..<(start + phrase.tokens.count)]) == phrase.tokens {
                // Subject: the closest object word before the phrase, reached over fillers only.
                var s = start - 1
                while s >= 0 && mentionAt[s] == nil && SceneGroundTruthJudge.relationFillers.contains(words[s]) { s -= 1 }
                guard s >= 0, let subject = mentionAt[s] else { continue }
                // Object: the first object word after it, reached over articles and adjectives only.
                var o = start + phrase.tokens.count
                while o < words.count && mentionAt[o] == nil
                    && (SceneGroundTruthJudge.articles.contains(words[o]) || SceneGroundTruthJudge.colourWords[words[o]] != nil
                        || SceneGroundTruthJudge.sizeWords[words[o]] != nil) { o += 1 }
                guard o < words.count, let object = mentionAt[o] else { continue }
                if !holds(subject.node, phrase.relation, object.node, scene: scene) { return true }
            }
        }
        return false
    }

    /// Whether some object of category `a` stands in `relation` to a different object of category `b`.
    public func holds(_ a: String, _ relation: String, _ b: String, scene: SceneFacts) -> Bool {
        let inverse = ["left of": "right of", "right of": "left of", "above": "below", "below": "above", "next to": "next to"]
        for r in scene.relations {
            guard scene.objects.indices.contains(r.subject), scene.objects.indices.contains(r.object), r.subject != r.object else { continue }
            let rel = SceneFacts.normaliseRelation(r.relation)
            let s = scene.objects[r.subject].category, o = scene.objects[r.object].category
            if rel == relation && s == a && o == b { return true }
            if rel == inverse[relation] && s == b && o == a { return true }
        }
        return false
    }
}
