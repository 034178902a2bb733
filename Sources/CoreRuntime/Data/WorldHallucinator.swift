import Foundation

/// A rejected description and the hallucinations substituted into it.
public struct HallucinatedDescription: Equatable, Sendable {
    public var description: WorldDescription
    /// One entry per substitution (a renamed object also taints the next sentence, which refers to
    /// it, but counts once here).
    public var injected: [SentenceLabel]

    /// The description's severity score: total severity of the substitutions over 3, capped at 1, so
    /// one object hallucination (severity 3) scores 1.0, one attribute 0.6667, one relation 0.3333
    /// (the `rejected_score` of severity-weighted preference data).
    public var score: Double { Self.score(severities: injected.map(\.severity)) }

    /// The severity-to-score mapping, rounded to 4 decimals.
    public static func score(severities: [Int]) -> Double {
        let raw = min(1.0, Double(severities.reduce(0, +)) / 3.0)
        return (raw * 10_000).rounded() / 10_000
    }
}

/// Makes rejected texts by substituting, never adding: a wrong object name, colour, size or
/// relation replaces the true one, so the rejected text names as many objects as the chosen one
/// and length alone cannot tell them apart (plain DPO collapses on pairs that differ by length).
public struct WorldHallucinator: Sendable {
    public let writer: WorldWriter
    var world: WorldModel { writer.world }

    public init(writer: WorldWriter) { self.writer = writer }

    /// Substitutes `hallucinations_min...max` hallucinations into the faithful clauses.
    func rejected(_ scene: WorldScene, clauses faithful: [ObjectClause], words faithfulWords: [Int: String],
                  rng: inout WorldRNG) -> HallucinatedDescription {
        var clauses = faithful
        var words = faithfulWords
        var injected: [SentenceLabel] = []
        var used = Set<Int>()
        var renamed = Set<Int>()
        var taken = scene.categories
        let c = world.config
        let rates = [c.objectHallucinationRate, c.attributeHallucinationRate, c.relationHallucinationRate]
        let want = rng.int(in: c.hallucinationsMin...c.hallucinationsMax)
        for _ in 0..<want {
            let first = rng.weightedIndex(rates)
            // Try the drawn type first, then the others in a fixed order.
            var done = false
            for t in [first, 0, 1, 2] where rates[t] > 0 && !done {
                switch HallucinationType.allCases[t] {
                case .object: done = renameObject(scene, &clauses, &words, &used, &renamed, &taken, &injected, &rng)
                case .attribute: done = changeAttribute(scene, &clauses, &used, &injected, &rng)
                case .relation: done = flipRelation(scene, &clauses, &used, renamed, &injected, &rng)
                }
            }
            if !done { break }
        }
        let text = [writer.intro(scene)] + writer.sentences(clauses, words: words)
        return HallucinatedDescription(description: WorldDescription(sentences: text), injected: injected)
    }

    private func renameObject(_ scene: WorldScene, _ clauses: inout [ObjectClause], _ words: inout [Int: String],
                              _ used: inout Set<Int>, _ renamed: inout Set<Int>, _ taken: inout [String],
                              _ injected: inout [SentenceLabel], _ rng: inout WorldRNG) -> Bool {
        // The next clause names this object too, so it must be free as well.
        let free = clauses.indices.filter { !used.contains($0) && !used.contains($0 + 1) }
        guard !free.isEmpty, let s = world.sceneIndex(scene.sceneType) else { return false }
        let weights = world.weights(scene: s, excluding: taken)
        guard weights.contains(where: { $0 > 0 }) else { return false }
        let k = rng.pick(free)
        let new = world.categories[rng.weightedIndex(weights)].name
        taken.append(new)
        let label = SentenceLabel(type: .object, severity: HallucinationType.object.severity,
                                  reason: "There is no \(new) in the image; the \(clauses[k].color) object is \(WorldCatalog.article(clauses[k].category)) \(clauses[k].category).")
        clauses[k].category = new
        words[clauses[k].object] = writer.word(new, rng: &rng)
        clauses[k].labels.append(label)
        used.insert(k)
        renamed.insert(k)
        if k + 1 < clauses.count, case .relation(_, let ref) = clauses[k + 1].anchor, ref == clauses[k].object {
            clauses[k + 1].labels.append(SentenceLabel(type: .object, severity: label.severity,
                                                       reason: "There is no \(new) in the image."))
            used.insert(k + 1)
        }
        injected.append(label)
        return true
    }

    private func changeAttribute(_ scene: WorldScene, _ clauses: inout [ObjectClause], _ used: inout Set<Int>,
                                 _ injected: inout [SentenceLabel], _ rng: inout WorldRNG) -> Bool {
        let colors = world.config.colors
        let free = clauses.indices.filter { !used.contains($0) && (colors.count > 1 || !clauses[$0].large) }
        guard !free.isEmpty else { return false }
        let k = rng.pick(free)
        let name = clauses[k].category
        let label: SentenceLabel
        if !clauses[k].large && (colors.count == 1 || rng.chance(0.25)) {
            clauses[k].large = true
            label = SentenceLabel(type: .attribute, severity: HallucinationType.attribute.severity,
                                  reason: "The \(name) is small, not large.")
        } else {
            let truth = clauses[k].color
            let others = colors.filter { $0 != truth }
            let new = rng.pick(others)
            clauses[k].color = new
            label = SentenceLabel(type: .attribute, severity: HallucinationType.attribute.severity,
                                  reason: "The \(name) is \(truth), not \(new).")
        }
        clauses[k].labels.append(label)
        used.insert(k)
        injected.append(label)
        return true
    }

    private func flipRelation(_ scene: WorldScene, _ clauses: inout [ObjectClause], _ used: inout Set<Int>,
                              _ renamed: Set<Int>, _ injected: inout [SentenceLabel], _ rng: inout WorldRNG) -> Bool {
        let free = clauses.indices.filter { k in
            guard !used.contains(k), case .relation(_, let ref) = clauses[k].anchor else { return false }
            return !renamed.contains(where: { clauses[$0].object == ref })
        }
        guard !free.isEmpty else { return false }
        let k = rng.pick(free)
        guard case .relation(_, let ref) = clauses[k].anchor else { return false }
        let truth = scene.objects[clauses[k].object].relation(to: scene.objects[ref])
        let wrong = truth.opposite
        clauses[k].anchor = .relation(wrong, ref: ref)
        let label = SentenceLabel(type: .relation, severity: HallucinationType.relation.severity,
                                  reason: "The \(clauses[k].category) is \(truth.phrase) the \(scene.objects[ref].category), not \(wrong.phrase) it.")
        clauses[k].labels.append(label)
        used.insert(k)
        injected.append(label)
        return true
    }

    /// A caption with one object renamed (to a plausible undrawn category) or one colour changed (a
    /// hard negative for contrastive methods). Returns the caption and what was substituted.
    func hallucinatedCaption(_ scene: WorldScene, words: [Int: String], rng: inout WorldRNG) -> (String, SentenceLabel) {
        var parts = scene.objects.enumerated().map { i, o in (color: o.color, large: o.large, word: words[i] ?? o.category) }
        let c = world.config
        let k = rng.below(parts.count)
        let s = world.sceneIndex(scene.sceneType) ?? 0
        let weights = world.weights(scene: s, excluding: scene.categories)
        let objectRate = c.objectHallucinationRate, attributeRate = c.attributeHallucinationRate
        let canRename = weights.contains { $0 > 0 }
        let canRecolor = c.colors.count > 1
        let rename = canRename && (!canRecolor || rng.weightedIndex([objectRate, attributeRate]) == 0 || objectRate + attributeRate == 0)
        let label: SentenceLabel
        if rename {
            let new = world.categories[rng.weightedIndex(weights)].name
            label = SentenceLabel(type: .object, severity: 3, reason: "There is no \(new) in the image.")
            parts[k].word = writer.word(new, rng: &rng)
        } else {
            let truth = parts[k].color
            let new = rng.pick(c.colors.filter { $0 != truth })
            label = SentenceLabel(type: .attribute, severity: 2, reason: "The \(scene.objects[k].category) is \(truth), not \(new).")
            parts[k].color = new
        }
        return (writer.caption(scene, objects: parts), label)
    }
}
