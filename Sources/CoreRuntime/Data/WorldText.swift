import Foundation

/// The kinds of hallucination the world injects and labels: a made-up object, a wrong attribute,
/// a wrong spatial relation.
public enum HallucinationType: String, Sendable, CaseIterable, Codable {
    case object, attribute, relation

    /// Severity on a 1-3 scale (Xiao et al. 2025 rate hallucinations so): a made-up object is worst,
    /// a wrong colour or size moderate, a wrong spatial relation minor.
    public var severity: Int {
        switch self {
        case .object: return 3
        case .attribute: return 2
        case .relation: return 1
        }
    }
}

/// A hallucination carried by one sentence, with why it is wrong.
public struct SentenceLabel: Equatable, Sendable {
    public var type: HallucinationType
    public var severity: Int
    public var reason: String
}

/// One sentence of generated text with what it mentions and whether it is faithful.
public struct WorldSentence: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        case intro
        case object(Int)
        /// An "overly detailed" sentence about an undrawn, scene-typical category.
        case extra(String)
    }
    public var text: String
    public var kind: Kind
    /// Categories (COCO names) the sentence names, in order, repeats included.
    public var mentions: [String]
    /// Empty for a faithful sentence.
    public var labels: [SentenceLabel] = []
}

/// A description: sentences joined by single spaces.
public struct WorldDescription: Equatable, Sendable {
    public var sentences: [WorldSentence]
    public var text: String { sentences.map(\.text).joined(separator: " ") }
    /// Categories named by "overly detailed" sentences (not drawn).
    public var undrawnMentions: [String] {
        sentences.compactMap { if case .extra(let c) = $0.kind { return c } else { return nil } }
    }
    /// Every category mention, repeats included.
    public var mentions: [String] { sentences.flatMap(\.mentions) }
}

/// How an object sentence places its object.
enum ClauseAnchor: Equatable {
    case position(String)
    /// Relation of this object to an earlier object (by index into the scene's objects).
    case relation(SpatialRelation, ref: Int)
}

/// The editable content of one object sentence: hallucinations are substitutions into these fields.
struct ObjectClause: Equatable {
    var object: Int
    var category: String
    var color: String
    var large: Bool
    var anchor: ClauseAnchor
    var labels: [SentenceLabel] = []
}

/// Writes the world's English. Templates are few and regular on purpose: a 0.5M-parameter model
/// must learn them in minutes, and CHAIR must find every object word in them.
public struct WorldWriter: Sendable {
    public let world: WorldModel

    /// Prompts of detailed-description conversations: CHAIR's, SHR's, and the four of Zhao et al.'s
    /// (2023) description pairs.
    public static let detailPrompts = [
        "Please describe this image in detail.",
        "Describe this image in detail.",
        "Take a look at this image and describe what you notice.",
        "Please provide a detailed description of the picture.",
        "Could you describe the contents of this image for me?",
    ]
    /// Prompts of short-caption conversations (the first is the one of Jiang et al.'s (2023) caption data).
    public static let captionPrompts = ["Give a brief description of the image.", "Describe the image briefly."]

    public init(world: WorldModel) { self.world = world }

    /// "Is there a cup in the image?"
    public static func question(_ word: String) -> String { "Is there \(WorldCatalog.article(word)) \(word) in the image?" }
    /// The answer to `question(word)`, worded as `style` (`WorldConfig.yesNoAnswers`):
    /// "object_first": "A cup appears in the image." / "A cup does not appear in the image.";
    /// "sentence": "Yes, there is a cup in the image." / "No, there is no cup in the image."
    public static func answer(_ word: String, yes: Bool, style: String) -> String {
        let a = WorldCatalog.article(word)
        if style == "sentence" { return yes ? "Yes, there is \(a) \(word) in the image." : "No, there is no \(word) in the image." }
        return "\(a.prefix(1).uppercased() + a.dropFirst()) \(word) \(yes ? "appears" : "does not appear") in the image."
    }

    /// The word for a category: its COCO name, or with `synonym_share` a CHAIR synonym.
    func word(_ category: String, rng: inout WorldRNG) -> String {
        guard world.config.synonymShare > 0, let c = WorldCatalog.category(named: category), !c.synonyms.isEmpty,
              rng.chance(world.config.synonymShare) else { return category }
        return rng.pick(c.synonyms)
    }

    /// Position phrase of an object from its centre relative to the image centre.
    func position(_ o: WorldObject) -> String {
        let c = o.center2, mid = world.grid
        let h = c.x < mid ? "left" : (c.x > mid ? "right" : "")
        let v = c.y < mid ? "top" : (c.y > mid ? "bottom" : "")
        switch (v.isEmpty, h.isEmpty) {
        case (false, false): return "at the \(v) \(h)"
        case (false, true): return "at the \(v)"
        case (true, false): return "on the \(h)"
        case (true, true): return "in the middle"
        }
    }

    /// The faithful object clauses: the first object placed in the image, each later one relative
    /// to the one before it ("next to" for touching objects with `next_to_share`).
    func clauses(_ scene: WorldScene, rng: inout WorldRNG) -> [ObjectClause] {
        scene.objects.enumerated().map { i, o in
            let anchor: ClauseAnchor
            if i == 0 {
                anchor = .position(position(o))
            } else {
                let prev = scene.objects[i - 1]
                var rel = o.relation(to: prev)
                if o.touches(prev), rng.chance(world.config.nextToShare) { rel = .nextTo }
                anchor = .relation(rel, ref: i - 1)
            }
            return ObjectClause(object: i, category: o.category, color: o.color, large: o.large, anchor: anchor)
        }
    }

    /// "The image shows a kitchen."
    func intro(_ scene: WorldScene) -> WorldSentence {
        WorldSentence(text: "The image shows \(WorldCatalog.article(scene.sceneType)) \(scene.sceneType).", kind: .intro, mentions: [])
    }

    /// Renders clauses to sentences; `words` gives the word used for each object index.
    func sentences(_ clauses: [ObjectClause], words: [Int: String]) -> [WorldSentence] {
        clauses.map { c in
            let w = words[c.object] ?? c.category
            let adjectives = (c.large ? "large " : "") + c.color
            var text = "There is \(WorldCatalog.article(adjectives)) \(adjectives) \(w) "
            var mentions = [c.category]
            switch c.anchor {
            case .position(let p): text += p
            case .relation(let rel, let ref):
                let refClause = clauses.first { $0.object == ref }
                let refWord = words[ref] ?? refClause?.category ?? "object"
                text += "\(rel.phrase) the \(refWord)"
                mentions.append(refClause?.category ?? refWord)
            }
            return WorldSentence(text: text + ".", kind: .object(c.object), mentions: mentions, labels: c.labels)
        }
    }

    /// Words for every object of a scene, chosen once so references stay consistent.
    func objectWords(_ scene: WorldScene, rng: inout WorldRNG) -> [Int: String] {
        var words: [Int: String] = [:]
        for (i, o) in scene.objects.enumerated() { words[i] = word(o.category, rng: &rng) }
        return words
    }

    /// Undrawn typical categories for an "overly detailed" ending, most likely first; empty when the
    /// scene has no undrawn typical category left.
    func extraCategories(_ scene: WorldScene, rng: inout WorldRNG) -> [String] {
        guard let s = world.sceneIndex(scene.sceneType) else { return [] }
        let typical = world.typical[s]
        let drawn = scene.categories
        let weights = zip(world.categories, world.priors[s]).map { c, w in
            typical.contains(c.name) && !drawn.contains(c.name) ? w : 0
        }
        let available = weights.filter { $0 > 0 }.count
        guard available > 0 else { return [] }
        let k = min(available, rng.int(in: world.config.extraMentionsMin...world.config.extraMentionsMax))
        return rng.weightedSample(weights, count: k).map { world.categories[$0].name }
    }

    /// "There is also a sink in the kitchen."
    func extraSentence(_ category: String, word: String, scene: WorldScene) -> WorldSentence {
        WorldSentence(text: "There is also \(WorldCatalog.article(word)) \(word) in the \(scene.sceneType).",
                      kind: .extra(category), mentions: [category],
                      labels: [SentenceLabel(type: .object, severity: HallucinationType.object.severity,
                                             reason: "There is no \(category) in the image.")])
    }

    /// A faithful description, and (with the object-count share) an "overly detailed" ending.
    public func description(_ scene: WorldScene, overDetailed: Bool, rng: inout WorldRNG) -> WorldDescription {
        let words = objectWords(scene, rng: &rng)
        var s = [intro(scene)] + sentences(clauses(scene, rng: &rng), words: words)
        if overDetailed {
            for c in extraCategories(scene, rng: &rng) { s.append(extraSentence(c, word: word(c, rng: &rng), scene: scene)) }
        }
        return WorldDescription(sentences: s)
    }

    /// Whether a training description of this scene is overly detailed (share by object count).
    public func isOverDetailed(_ scene: WorldScene, rng: inout WorldRNG) -> Bool {
        let i = scene.objects.count - world.config.minObjects
        let shares = world.config.overDescriptionShare
        guard i >= 0, i < shares.count else { return false }
        return rng.chance(shares[i])
    }

    /// "A kitchen with a red cup, a large blue bowl and a green bottle."
    public func caption(_ scene: WorldScene, objects: [(color: String, large: Bool, word: String)]) -> String {
        let parts = objects.map { o -> String in
            let adj = (o.large ? "large " : "") + o.color
            return "\(WorldCatalog.article(adj)) \(adj) \(o.word)"
        }
        let list: String
        switch parts.count {
        case 0: list = "nothing"
        case 1: list = parts[0]
        default: list = parts.dropLast().joined(separator: ", ") + " and " + parts.last!
        }
        let place = scene.sceneType
        let head = "\(WorldCatalog.article(place).capitalized) \(place)"
        return "\(head) with \(list)."
    }

    /// Facts for SHR's judge: one per object, one per relation.
    public func facts(_ scene: WorldScene) -> [String] {
        var out = scene.objects.map { o in
            let adj = (o.large ? "large " : "") + o.color
            return "There is \(WorldCatalog.article(adj)) \(adj) \(o.category)."
        }
        for r in scene.relations {
            out.append("The \(scene.objects[r.subject].category) is \(r.relation.phrase) the \(scene.objects[r.object].category).")
        }
        return out
    }
}
