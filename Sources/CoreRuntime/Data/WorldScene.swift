import Foundation

/// Where a scene-world image belongs.
public enum WorldSplit: String, Sendable, CaseIterable { case train, eval }

/// A spatial relation between two objects, as the world's text says it.
public enum SpatialRelation: String, Sendable, CaseIterable {
    case leftOf = "left of", rightOf = "right of", above, below, nextTo = "next to"

    /// The phrase before the other object's name ("to the left of").
    public var phrase: String {
        switch self {
        case .leftOf: return "to the left of"
        case .rightOf: return "to the right of"
        case .above: return "above"
        case .below: return "below"
        case .nextTo: return "next to"
        }
    }

    /// The clearly false relation used for relation hallucinations (left <-> right, above <-> below).
    public var opposite: SpatialRelation {
        switch self {
        case .leftOf: return .rightOf
        case .rightOf: return .leftOf
        case .above: return .below
        case .below: return .above
        case .nextTo: return .nextTo
        }
    }
}

/// One drawn object: a category glyph in a colour, covering one cell or a 2x2 block of cells.
public struct WorldObject: Equatable, Sendable {
    public var category: String
    public var color: String
    public var large: Bool
    /// Top-left cell.
    public var row: Int
    public var col: Int
    /// Drawn as a blob of its colour without its glyph (never together with `large`).
    public var tiny = false

    /// "large", "tiny" or "small", as scenes.jsonl writes it.
    public var sizeName: String { large ? "large" : tiny ? "tiny" : "small" }

    /// Cells per side (1, or 2 when large).
    public var span: Int { large ? 2 : 1 }

    /// Pixel box `[x, y, width, height]` (COCO order).
    public func box(cellSize: Int) -> [Int] { [col * cellSize, row * cellSize, span * cellSize, span * cellSize] }

    /// Centre in half-cell units (exact integers).
    var center2: (x: Int, y: Int) { (2 * col + span, 2 * row + span) }

    /// The dominant-axis relation of this object to `other`: the axis with the larger centre
    /// distance decides, ties go to left/right.
    public func relation(to other: WorldObject) -> SpatialRelation {
        let dx = other.center2.x - center2.x, dy = other.center2.y - center2.y
        if abs(dx) >= abs(dy) { return dx > 0 ? .leftOf : .rightOf }
        return dy > 0 ? .above : .below
    }

    /// Whether the two boxes share part of an edge (side by side, or one on top of the other).
    public func touches(_ o: WorldObject) -> Bool {
        let rowsOverlap = row < o.row + o.span && o.row < row + span
        let colsOverlap = col < o.col + o.span && o.col < col + span
        let sideBySide = (col + span == o.col || o.col + o.span == col) && rowsOverlap
        let stacked = (row + span == o.row || o.row + o.span == row) && colsOverlap
        return sideBySide || stacked
    }
}

/// A relation fact: `objects[subject]` is `relation` `objects[object]`.
public struct WorldRelation: Equatable, Sendable {
    public let subject: Int
    public let relation: SpatialRelation
    public let object: Int
}

/// The ground truth of one image.
public struct WorldScene: Equatable, Sendable {
    public let id: Int
    public let split: WorldSplit
    public let sceneType: String
    /// Objects in reading order (top-left cell, row first), the order the text describes them in.
    public let objects: [WorldObject]

    /// Every pair once (i < j): its dominant-axis relation, plus "next to" when the boxes touch.
    public var relations: [WorldRelation] {
        var out: [WorldRelation] = []
        for i in 0..<objects.count {
            for j in (i + 1)..<objects.count {
                out.append(WorldRelation(subject: i, relation: objects[i].relation(to: objects[j]), object: j))
                if objects[i].touches(objects[j]) { out.append(WorldRelation(subject: i, relation: .nextTo, object: j)) }
            }
        }
        return out
    }

    /// Categories drawn in the image.
    public var categories: [String] { objects.map(\.category) }
}

/// The world's fixed choices derived from a config: category set, scene priors, palette, glyphs.
public struct WorldModel: Sendable {
    public let config: WorldConfig
    public let categories: [ObjectCategory]
    public let sceneTypes: [SceneType]
    /// Prior weight of each category (in `categories` order) for each scene type.
    public let priors: [[Double]]
    /// Typical categories of each scene type in the world's category set, most typical first.
    public let typical: [[String]]
    public let palette: [String: RGB]
    public let glyphs: GlyphSet
    public var grid: Int { config.imageSize / config.cellSize }

    public init(config: WorldConfig) throws {
        try config.validate()
        self.config = config
        categories = config.resolvedCategories
        sceneTypes = config.resolvedSceneTypes
        let names = categories.map(\.name)
        var priors: [[Double]] = []
        var typical: [[String]] = []
        for s in sceneTypes {
            let t = s.typical.filter(names.contains)
            typical.append(t + config.ubiquitous.filter { !t.contains($0) })
            priors.append(names.map { n in
                // Both rankings decay alike: weight / (1 + typical_rank_decay * rank).
                func ranked(_ weight: Double, _ rank: Int) -> Double { weight / (1 + config.typicalRankDecay * Double(rank)) }
                var w = t.firstIndex(of: n).map { ranked(config.typicalWeight, $0) } ?? config.otherWeight
                if let r = config.ubiquitous.firstIndex(of: n) { w += ranked(config.ubiquitousWeight, r) }
                return w
            })
        }
        self.priors = priors
        self.typical = typical
        var pal: [String: RGB] = [:]
        for c in WorldCatalog.colors where config.colors.contains(c.name) { pal[c.name] = c.rgb }
        palette = pal
        glyphs = try GlyphSet(minHamming: config.glyphMinHamming)
    }

    /// Index of a scene type by name.
    public func sceneIndex(_ name: String) -> Int? { sceneTypes.firstIndex { $0.name == name } }

    /// Prior weights of the categories for a scene type, with the given categories zeroed (uniform
    /// over the rest when every remaining prior weight is zero).
    public func weights(scene: Int, excluding: [String]) -> [Double] {
        let w = zip(categories, priors[scene]).map { excluding.contains($0.name) ? 0 : $1 }
        if w.contains(where: { $0 > 0 }) { return w }
        return categories.map { excluding.contains($0.name) ? 0 : 1 }
    }

    /// Samples the ground truth of one image from its own random stream.
    public func sampleScene(id: Int, split: WorldSplit, rng: inout WorldRNG) -> WorldScene {
        let s = rng.below(sceneTypes.count)
        let n = rng.int(in: config.minObjects...config.maxObjects)
        let picks = rng.weightedSample(priors[s], count: n)
        var free = [Bool](repeating: true, count: grid * grid)
        var objects: [WorldObject] = []
        for p in picks {
            let color = rng.pick(config.colors)
            var large = rng.chance(config.largeObjectShare)
            var spots: [(Int, Int)] = []
            if large {
                for r in 0..<(grid - 1) { for c in 0..<(grid - 1)
                    where free[r * grid + c] && free[r * grid + c + 1] && free[(r + 1) * grid + c] && free[(r + 1) * grid + c + 1] {
                    spots.append((r, c))
                } }
                if spots.isEmpty { large = false }
            }
            if !large {
                for r in 0..<grid { for c in 0..<grid where free[r * grid + c] { spots.append((r, c)) } }
            }
            guard !spots.isEmpty else { break }
            let (r, c) = rng.pick(spots)
            let span = large ? 2 : 1
            for rr in r..<(r + span) { for cc in c..<(c + span) { free[rr * grid + cc] = false } }
            // Drawn only when the share is set, so that worlds without tiny objects keep their streams.
            let tiny = !large && config.tinyObjectShare > 0 && rng.chance(config.tinyObjectShare)
            objects.append(WorldObject(category: categories[p].name, color: color, large: large, row: r, col: c, tiny: tiny))
        }
        objects.sort { ($0.row, $0.col) < ($1.row, $1.col) }
        return WorldScene(id: id, split: split, sceneType: sceneTypes[s].name, objects: objects)
    }
}
