import Foundation

/// The binary glyph ("icon") of every category: a left-right symmetric 8x8 pattern, fixed for the
/// category whatever the world's seed, so worlds with different seeds share one visual vocabulary.
/// Glyphs are drawn greedily in catalogue order, keeping only candidates that differ from every
/// earlier glyph in at least `minHamming` pixels: glyph identity is what a small model learns last.
public struct GlyphSet: Sendable {
    /// Side of a glyph in pixels.
    public static let side = 8
    /// One glyph per catalogue category (`WorldCatalog.categories` order), 64 booleans row-major.
    public let glyphs: [[Bool]]
    /// The smallest pixel distance between any two glyphs.
    public let minDistance: Int

    private static let seed: UInt64 = 0x6861_6C6C_755F_6731  // fixed: glyphs never follow the world seed

    /// Draws the glyphs; fails when `minHamming` is too strict to fill all 80.
    public init(minHamming: Int) throws {
        var rng = WorldRNG(seed: Self.seed)
        var out: [[Bool]] = []
        var tries = 0
        while out.count < WorldCatalog.categories.count {
            tries += 1
            guard tries < 2_000_000 else {
                throw HalluError("cannot draw \(WorldCatalog.categories.count) glyphs at least \(minHamming) pixels apart; lower glyph_min_hamming")
            }
            let bits = rng.next()
            var g = [Bool](repeating: false, count: 64)
            for row in 0..<8 {
                for col in 0..<4 {
                    let on = (bits >> UInt64(row * 4 + col)) & 1 == 1
                    g[row * 8 + col] = on
                    g[row * 8 + 7 - col] = on
                }
            }
            let filled = g.filter { $0 }.count
            guard filled >= 22, filled <= 42 else { continue }
            guard out.allSatisfy({ Self.distance($0, g) >= minHamming }) else { continue }
            out.append(g)
        }
        glyphs = out
        var m = Int.max
        for i in 0..<out.count { for j in (i + 1)..<out.count { m = min(m, Self.distance(out[i], out[j])) } }
        minDistance = m
    }

    /// Number of differing pixels.
    public static func distance(_ a: [Bool], _ b: [Bool]) -> Int { zip(a, b).reduce(0) { $0 + ($1.0 != $1.1 ? 1 : 0) } }

    /// The glyph of a category by COCO name.
    public func glyph(for category: String) -> [Bool]? {
        WorldCatalog.categories.firstIndex { $0.name == category }.map { glyphs[$0] }
    }
}
