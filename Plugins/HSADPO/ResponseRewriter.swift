import CoreRuntime
import Foundation

/// The chosen answer made from a labelled response, and what was done to get it.
public struct RewriteOutcome: Equatable, Sendable {
    public var chosen: String
    /// Flagged sentences dropped.
    public var removed: Int
    /// Flagged sentences edited and kept.
    public var corrected: Int
    /// Flagged sentences kept unchanged because the ground truth found them faithful (correct mode only).
    public var keptAsFaithful: Int
}

/// HSA-DPO's rewrite stage: the rejected answer is the original response, the chosen one is the
/// response as a rewriter leaves it. Rewriters are chosen by name (`Rewriters`, `hsadpo.rewrite`).
public protocol ResponseRewriter {
    /// The name `hsadpo.rewrite` gives.
    var name: String { get }
    /// The chosen answer for one labelled response; `scene` is its ground truth when known.
    func rewrite(_ labels: [DetectionSentence], scene: SceneFacts?) throws -> RewriteOutcome
}

/// The rewriters the pipeline can use, by name.
public enum Rewriters {
    public static let all: [ResponseRewriter] = [RemovingRewriter(), CorrectingRewriter()]
    public static var names: [String] { all.map(\.name) }

    public static func make(_ name: String) throws -> ResponseRewriter {
        guard let r = all.first(where: { $0.name == name }) else {
            throw HalluError("hsadpo.rewrite: unknown rewriter \"\(name)\"; known: \(names.joined(separator: ", "))")
        }
        return r
    }
}

/// Drops every flagged sentence (works with any detector, no ground truth needed).
public struct RemovingRewriter: ResponseRewriter {
    public init() {}
    public var name: String { "remove" }

    public func rewrite(_ labels: [DetectionSentence], scene: SceneFacts?) throws -> RewriteOutcome {
        var out = RewriteOutcome(chosen: "", removed: 0, corrected: 0, keptAsFaithful: 0)
        var kept: [String] = []
        for l in labels {
            if l.hallucinated { out.removed += 1 } else { kept.append(l.text) }
        }
        out.chosen = DescriptionSentences.join(kept)
        return out
    }
}

/// Edits a flagged sentence from the scene's ground truth (renames an absent object to a drawn one
/// the response does not describe yet, fixes a colour or size, fixes a relation) and keeps it when
/// the ground-truth judge then finds it faithful; otherwise drops it. Needs `scenes.jsonl`.
public struct CorrectingRewriter: ResponseRewriter {
    public let judge: SceneGroundTruthJudge

    public init(judge: SceneGroundTruthJudge = SceneGroundTruthJudge()) { self.judge = judge }
    public var name: String { "correct" }

    /// Rewrites one labelled response; throws without a scene.
    public func rewrite(_ labels: [DetectionSentence], scene: SceneFacts?) throws -> RewriteOutcome {
        guard let scene else { throw HalluError("hsadpo rewrite=correct needs the scene's ground truth (scenes.jsonl); use rewrite=remove") }
        var out = RewriteOutcome(chosen: "", removed: 0, corrected: 0, keptAsFaithful: 0)
        var kept: [String] = []
        let renames = renameMap(labels, scene: scene)
        for l in labels {
            guard l.hallucinated else { kept.append(l.text); continue }
            if isFaithful(l.text, scene) {
                kept.append(l.text); out.keptAsFaithful += 1
            } else if let fixed = correct(l.text, scene: scene, renames: renames),
                      isFaithful(fixed, scene) {
                kept.append(fixed); out.corrected += 1
            } else {
                out.removed += 1
            }
        }
        out.chosen = DescriptionSentences.join(kept)
        return out
    }

    // MARK: correction

    func isFaithful(_ sentence: String, _ scene: SceneFacts) -> Bool {
        judge.judge(sentence: GroundTruthDetector.judgeable(sentence), scene: scene) == .correct
    }

    /// For each absent category named by a flagged sentence, a drawn category the response does not
    /// mention yet: the one whose colour matches the colour word before the mention, else the first
    /// in reading order. A category is given out once.
    func renameMap(_ labels: [DetectionSentence], scene: SceneFacts) -> [String: String] {
        let present = scene.objects.map(\.category)
        var described = Set<String>()
        for l in labels {
            for m in GroundTruthDetector.objectMentions(judge.parser.parse(GroundTruthDetector.judgeable(l.text))) where present.contains(m.node) { described.insert(m.node) }
        }
        var map: [String: String] = [:]
        var free = scene.objects.filter { !described.contains($0.category) }
        for l in labels where l.hallucinated {
            let parse = judge.parser.parse(GroundTruthDetector.judgeable(l.text))
            for m in GroundTruthDetector.objectMentions(parse) where !present.contains(m.node) && map[m.node] == nil {
                guard !free.isEmpty else { continue }
                let colour = m.index > 0 ? SceneGroundTruthJudge.colourWords[parse.words[m.index - 1]] : nil
                let pick = free.firstIndex { SceneGroundTruthJudge.normalisedColour($0.colour) == colour } ?? 0
                map[m.node] = free[pick].category
                free.remove(at: pick)
            }
        }
        return map
    }

    /// The sentence with absent objects renamed, wrong colours and sizes fixed and a false relation
    /// replaced by the true one; nil when an absent object has no replacement or cannot be found in
    /// the text. The caller re-judges the result.
    func correct(_ sentence: String, scene: SceneFacts, renames: [String: String]) -> String? {
        var t = SurfaceTokens(sentence)
        let present = Set(scene.objects.map(\.category))
        for m in t.mentions().reversed() where !present.contains(m.node) {
            guard let new = renames[m.node] else { return nil }
            t.replace(m.range, with: new.split(separator: " ").map(String.init))
        }
        fixAttributes(&t, scene: scene)
        fixRelation(&t, scene: scene)
        t.fixArticles()
        return t.text
    }

    private func fixAttributes(_ t: inout SurfaceTokens, scene: SceneFacts) {
        for m in t.mentions().reversed() {
            guard let truth = scene.objects.first(where: { $0.category == m.node }) else { continue }
            var k = m.range.lowerBound - 1
            while k >= 0 {
                let w = t.core(k)
                if w == "and" || w.isEmpty { k -= 1; continue }
                if let c = SceneGroundTruthJudge.colourWords[w] {
                    if !scene.objects.contains(where: { $0.category == m.node && SceneGroundTruthJudge.normalisedColour($0.colour) == c }) {
                        t.replace(k..<(k + 1), with: [truth.colour])
                    }
                } else if let s = SceneGroundTruthJudge.sizeWords[w] {
                    if !scene.objects.contains(where: { $0.category == m.node && SceneGroundTruthJudge.normalisedSize($0.size) == s }) {
                        // The world writes no size word for a small object: dropping the word is faithful.
                        if SceneGroundTruthJudge.normalisedSize(truth.size) == "large" { t.replace(k..<(k + 1), with: ["large"]) } else { t.remove(k) }
                    }
                } else {
                    break
                }
                k -= 1
            }
        }
    }

    private func fixRelation(_ t: inout SurfaceTokens, scene: SceneFacts) {
        let mentions = t.mentions()
        guard let phrase = t.relationPhrase(),
              let subject = mentions.last(where: { $0.range.upperBound <= phrase.range.lowerBound }),
              let object = mentions.first(where: { $0.range.lowerBound >= phrase.range.upperBound }),
              !judge.holds(subject.node, phrase.relation, object.node, scene: scene),
              let truth = trueRelation(subject.node, object.node, scene: scene) else { return }
        t.replace(phrase.range, with: SurfaceTokens.phraseWords(truth))
    }

    /// The dominant-axis relation of an object of category `a` to one of category `b` (not "next to").
    func trueRelation(_ a: String, _ b: String, scene: SceneFacts) -> String? {
        let inverse = ["left of": "right of", "right of": "left of", "above": "below", "below": "above"]
        for r in scene.relations {
            guard scene.objects.indices.contains(r.subject), scene.objects.indices.contains(r.object) else { continue }
            let rel = SceneFacts.normaliseRelation(r.relation)
            guard let inv = inverse[rel] else { continue }
            let s = scene.objects[r.subject].category, o = scene.objects[r.object].category
            if s == a && o == b { return rel }
            if s == b && o == a { return inv }
        }
        return nil
    }
}

/// A sentence as space-separated tokens, with CHAIR object words found on the surface text so that
/// edits keep the rest of the sentence byte for byte.
struct SurfaceTokens {
    var tokens: [String]
    let vocabulary = CHAIRVocabulary.standard

    init(_ sentence: String) { tokens = sentence.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }

    var text: String { tokens.joined(separator: " ") }

    /// The token lower-cased without surrounding punctuation.
    func core(_ i: Int) -> String {
        tokens[i].lowercased().trimmingCharacters(in: CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-")).inverted)
    }

    struct Mention { var node: String; var range: Range<Int> }

    /// Object words in order (two-token names first, as CHAIR's double-word merge does, and two-word
    /// category names such as "dining table" as one mention).
    func mentions() -> [Mention] {
        var out: [Mention] = []
        var i = 0
        while i < tokens.count {
            // chair.py's table makes "" an object word; only real words count.
            guard !core(i).isEmpty else { i += 1; continue }
            let pair = i + 1 < tokens.count && !core(i + 1).isEmpty ? core(i) + " " + core(i + 1) : ""
            if !pair.isEmpty, let merged = vocabulary.doubleWords[pair] ?? (vocabulary.objectWords.contains(pair) ? pair : nil),
               vocabulary.objectWords.contains(merged), let node = vocabulary.nodeWord[merged] {
                out.append(Mention(node: node, range: i..<(i + 2))); i += 2; continue
            }
            if vocabulary.objectWords.contains(core(i)), let node = vocabulary.nodeWord[core(i)] {
                out.append(Mention(node: node, range: i..<(i + 1)))
            }
            i += 1
        }
        return out
    }

    /// Replaces a token range, keeping the punctuation around the replaced text.
    mutating func replace(_ range: Range<Int>, with words: [String]) {
        guard !range.isEmpty, !words.isEmpty else { return }
        let first = tokens[range.lowerBound], last = tokens[range.upperBound - 1]
        let lead = String(first.prefix { !$0.isLetter && !$0.isNumber })
        let trail = String(last.reversed().prefix { !$0.isLetter && !$0.isNumber }.reversed())
        var new = words
        if first.first?.isUppercase == true, let c = new[0].first { new[0] = c.uppercased() + new[0].dropFirst() }
        new[0] = lead + new[0]
        new[new.count - 1] += trail
        tokens.replaceSubrange(range, with: new)
    }

    /// Drops one token, handing its trailing punctuation to the token before it.
    mutating func remove(_ i: Int) {
        let trail = String(tokens[i].reversed().prefix { !$0.isLetter && !$0.isNumber }.reversed())
        tokens.remove(at: i)
        if !trail.isEmpty, i > 0 { tokens[i - 1] += trail }
    }

    /// "a"/"an" agreeing with the word after it, as the world writes them.
    mutating func fixArticles() {
        for i in tokens.indices.dropLast() {
            let a = core(i)
            guard a == "a" || a == "an" else { continue }
            let want = WorldCatalog.article(core(i + 1))
            guard want != a else { continue }
            replace(i..<(i + 1), with: [want])
        }
    }

    /// The first spatial relation phrase: its token range (with a leading "to the" for left/right)
    /// and the relation it states.
    func relationPhrase() -> (range: Range<Int>, relation: String)? {
        for i in tokens.indices {
            let w = core(i), next = i + 1 < tokens.count ? core(i + 1) : ""
            var relation: String? = nil, end = i + 1
            if (w == "left" || w == "right") && next == "of" { relation = "\(w) of"; end = i + 2 }
            if w == "next" && next == "to" { relation = "next to"; end = i + 2 }
            if w == "above" || w == "below" { relation = w }
            guard let relation else { continue }
            var start = i
            if relation.hasSuffix(" of"), i >= 2, core(i - 2) == "to", core(i - 1) == "the" { start = i - 2 }
            return (start..<end, relation)
        }
        return nil
    }

    /// The world's words for a relation.
    static func phraseWords(_ relation: String) -> [String] {
        switch relation {
        case "left of": return ["to", "the", "left", "of"]
        case "right of": return ["to", "the", "right", "of"]
        default: return relation.split(separator: " ").map(String.init)
        }
    }
}
