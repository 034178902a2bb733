import Foundation

/// Summary statistics of an exported scene world (`hallu data stats`).
public struct WorldStats: Codable, Equatable, Sendable {
    public struct PairCount: Codable, Equatable, Sendable {
        public var a: String
        public var b: String
        public var count: Int
    }

    public var trainImages = 0
    public var evalImages = 0
    /// Images by object count ("2" -> n).
    public var objectsPerImage: [String: Int] = [:]
    public var meanObjectsPerImage = 0.0
    /// Images by scene type.
    public var sceneTypes: [String: Int] = [:]
    /// Drawn objects by category.
    public var categories: [String: Int] = [:]
    /// Share of drawn objects that are typical of their image's scene type.
    public var typicalShare = 0.0
    /// Most frequent co-occurring category pairs (same image).
    public var topCooccurrences: [PairCount] = []
    /// Share of training descriptions that are overly detailed, overall and by object count.
    public var overDetailedShare = 0.0
    public var overDetailedShareByCount: [String: Double] = [:]
    /// Undrawn objects named by training descriptions over all objects they name.
    public var undrawnMentionShare = 0.0
    /// Hallucinated sentences of the labelled responses (detection data), by type.
    public var rejectedHallucinationTypes: [String: Int] = [:]
    /// Mean `rejected_score` of the preference pairs that carry one, and those pairs by score.
    public var meanRejectedScore = 0.0
    public var rejectedScores: [String: Int] = [:]
    /// POPE questions per split.
    public var popeQuestions: [String: Int] = [:]
    /// Training samples per kind as the Dataset loader reads them.
    public var samples: [String: Int] = [:]

    /// Reads `folder` (a scene world export) and computes the statistics; training files are read
    /// through `catalog` (the formats plugins registered).
    public static func compute(folder: String, catalog: DataCatalog = DataCatalog()) throws -> WorldStats {
        let root = URL(fileURLWithPath: folder)
        func path(_ n: String) -> String { root.appendingPathComponent(n).path }
        var s = WorldStats()
        let config = try WorldConfig.load(path(SceneWorld.Files.world))
        let world = try WorldModel(config: config)
        var pairCounts: [String: Int] = [:]
        var drawn = 0, typical = 0, train = 0, over = 0, namedDrawn = 0, namedUndrawn = 0
        var overByCount: [Int: (Int, Int)] = [:]
        for r in try DataRecord.readAll(path(SceneWorld.Files.scenes)) {
            let split = try r.string("split")
            let objects = try r.objects("objects").map { try $0.string("category") }
            let scene = try r.string("scene")
            if split == "train" { s.trainImages += 1 } else { s.evalImages += 1 }
            s.objectsPerImage[String(objects.count), default: 0] += 1
            s.sceneTypes[scene, default: 0] += 1
            let typ = world.sceneIndex(scene).map { world.typical[$0] } ?? []
            for o in objects {
                s.categories[o, default: 0] += 1
                drawn += 1
                if typ.contains(o) { typical += 1 }
            }
            let sorted = objects.sorted()
            for i in 0..<sorted.count { for j in (i + 1)..<sorted.count { pairCounts["\(sorted[i])|\(sorted[j])", default: 0] += 1 } }
            if split == "train" {
                train += 1
                let isOver = try r.bool("over_detailed")
                let undrawn = try r.strings("undrawn_mentions")
                if isOver { over += 1 }
                var e = overByCount[objects.count] ?? (0, 0)
                e.0 += isOver ? 1 : 0; e.1 += 1
                overByCount[objects.count] = e
                namedDrawn += objects.count
                namedUndrawn += undrawn.count
            }
        }
        let images = s.trainImages + s.evalImages
        s.meanObjectsPerImage = rounded(Double(drawn) / Double(max(1, images)))
        s.typicalShare = rounded(Double(typical) / Double(max(1, drawn)))
        s.topCooccurrences = pairCounts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .prefix(10).map { kv in
                let p = kv.key.split(separator: "|").map(String.init)
                return PairCount(a: p[0], b: p[1], count: kv.value)
            }
        s.overDetailedShare = rounded(Double(over) / Double(max(1, train)))
        for (k, v) in overByCount { s.overDetailedShareByCount[String(k)] = rounded(Double(v.0) / Double(max(1, v.1))) }
        s.undrawnMentionShare = rounded(Double(namedUndrawn) / Double(max(1, namedDrawn + namedUndrawn)))
        for strategy in POPEStrategy.allCases {
            let p = path(SceneWorld.Files.pope(strategy))
            if FileManager.default.fileExists(atPath: p) { s.popeQuestions[strategy.rawValue] = try DataRecord.readAll(p).count }
        }
        let ds = try Dataset.load(folder, checkImages: false, catalog: catalog)
        for k in catalog.kinds.map(\.kind) { s.samples[k.rawValue] = ds.count(k) }
        for ex in ds.detection {
            for sentence in ex.sentences { if let t = sentence.type { s.rejectedHallucinationTypes[t.rawValue, default: 0] += 1 } }
        }
        let scores = ds.preferences.compactMap(\.rejectedScore)
        for v in scores { s.rejectedScores[String(format: "%.4f", v), default: 0] += 1 }
        s.meanRejectedScore = rounded(scores.reduce(0, +) / Double(max(1, scores.count)))
        return s
    }

    static func rounded(_ d: Double) -> Double { (d * 10_000).rounded() / 10_000 }

    /// A plain-text report.
    public func text() -> String {
        func sortedByKey<V>(_ d: [String: V]) -> [(String, V)] {
            d.sorted { (Int($0.key) ?? 0, $0.key) < (Int($1.key) ?? 0, $1.key) }.map { ($0.key, $0.value) }
        }
        var out = "images: \(trainImages) train, \(evalImages) eval\n"
        out += "objects per image: " + sortedByKey(objectsPerImage).map { "\($0.0): \($0.1)" }.joined(separator: ", ") + " (mean \(meanObjectsPerImage))\n"
        out += "scene types: " + sceneTypes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
        out += "categories (most drawn first): " + categories.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
        out += "objects typical of their scene: \(typicalShare)\n"
        out += "top co-occurring pairs: " + topCooccurrences.map { "\($0.a)+\($0.b) \($0.count)" }.joined(separator: ", ") + "\n"
        out += "overly detailed training descriptions: \(overDetailedShare) (by object count: "
            + sortedByKey(overDetailedShareByCount).map { "\($0.0): \($0.1)" }.joined(separator: ", ") + ")\n"
        out += "undrawn objects among those named by training descriptions: \(undrawnMentionShare)\n"
        out += "hallucinated sentences in labelled responses: " + rejectedHallucinationTypes.sorted { $0.key < $1.key }
            .map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
        out += "rejected_score of scored pairs: mean \(meanRejectedScore) (" + rejectedScores.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + ")\n"
        out += "POPE questions: " + popeQuestions.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
        out += "training samples: " + samples.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
        return out
    }
}
