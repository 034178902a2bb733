import CoreRuntime
import Foundation

/// Detects hallucinated sentences of scene-world responses from the export's ground truth
/// (`scenes.jsonl`). Whether a sentence is hallucinated is SHR's ground-truth verdict
/// (`SceneGroundTruthJudge`, which parses object words with CHAIR's parser); the type is the first of
/// these that applies, in this order:
/// - object: it names a CHAIR object that is not drawn;
/// - attribute: a colour or size word before an object word fits no drawn object of that category;
/// - relation: "X left of / right of / above / below / next to Y" holds for no such pair.
/// The severity is the world's mapping (docs/DATA.md): object 3, attribute 2, relation 1.
/// On the world's own labelled data this reproduces the labels exactly (tested), so its detection
/// quality is 1 by construction; it is the reference the other detectors are measured against.
public final class GroundTruthDetector: HallucinationDetector {
    public let truth: SceneTruth
    public let judge: SceneGroundTruthJudge
    public var name: String { "ground-truth" }

    public init(truth: SceneTruth, judge: SceneGroundTruthJudge = SceneGroundTruthJudge()) {
        self.truth = truth
        self.judge = judge
    }

    public func detect(_ queries: [DetectionQuery]) throws -> [[DetectionSentence]] {
        try queries.map { q in
            guard let facts = truth.facts(image: q.image) else {
                throw HalluError("ground-truth detector: \(q.id): image \(q.image) is not in scenes.jsonl")
            }
            return q.sentences.map { classify($0, scene: facts) }
        }
    }

    /// The label of one sentence against one scene.
    public func classify(_ sentence: String, scene: SceneFacts) -> DetectionSentence {
        let judged = GroundTruthDetector.judgeable(sentence)
        guard judge.judge(sentence: judged, scene: scene) == .hallucination else { return .correct(sentence) }
        let parse = judge.parser.parse(judged)
        let mentions = GroundTruthDetector.objectMentions(parse)
        let present = Set(scene.objects.map(\.category))
        if let m = mentions.first(where: { !present.contains($0.node) }) {
            return .hallucination(sentence, .object, reason: "There is no \(m.node) in the image.")
        }
        if let m = mentions.first(where: { judge.attributesContradict($0, words: parse.words, scene: scene) }) {
            let truth = scene.objects.filter { $0.category == m.node }.map { "\($0.size) \($0.colour)" }
            return .hallucination(sentence, .attribute, reason: "The \(m.node) is \(truth.joined(separator: " or ")).")
        }
        if judge.relationIsFalse(words: parse.words, mentions: mentions, scene: scene) {
            return .hallucination(sentence, .relation, reason: "The stated spatial relation does not hold in the image.")
        }
        // The judge found a problem none of the checks above names (cannot happen with the current
        // judge); the most severe type keeps such a sentence out of the chosen answer.
        return .hallucination(sentence, .object, reason: "The sentence does not match the image.")
    }

    /// The sentence as the judge should see it. CHAIR merges only some two-word names into one token;
    /// "dining table" stays two words whose second ("table") is the mention, so the judge would read
    /// "dining" as the word before the object and miss "a purple dining table" or "left of the dining
    /// table". Such names are shortened to their last word, a synonym of the same category.
    public static func judgeable(_ sentence: String) -> String {
        var s = sentence
        for (phrase, short) in shortenedNames {
            s = s.replacingOccurrences(of: phrase, with: short, options: [.caseInsensitive])
        }
        return s
    }

    /// Two-word category names CHAIR does not merge, whose last word is a synonym of the same category.
    static let shortenedNames: [(String, String)] = {
        let v = CHAIRVocabulary.standard
        return v.categories.compactMap { name -> (String, String)? in
            let parts = name.split(separator: " ").map(String.init)
            guard parts.count == 2, v.doubleWords[name] == nil, let last = parts.last, v.nodeWord[last] == name else { return nil }
            return (name, last)
        }
    }()

    /// CHAIR mentions as the ground-truth judge reads them: "orange" directly before another object
    /// word, a colour or a size is a colour, not the fruit.
    static func objectMentions(_ parse: CaptionParse) -> [CHAIRMention] {
        let words = parse.words
        let indices = Set(parse.mentions.map(\.index))
        return parse.mentions.filter { m in
            guard SceneGroundTruthJudge.colourWords[m.word] != nil, m.index + 1 < words.count else { return true }
            let next = words[m.index + 1]
            return !(indices.contains(m.index + 1) || SceneGroundTruthJudge.colourWords[next] != nil
                     || SceneGroundTruthJudge.sizeWords[next] != nil)
        }
    }
}
