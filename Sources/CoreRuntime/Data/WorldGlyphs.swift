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
        var masks: [UInt64] = []
        var tries = 0
        while masks.count < WorldCatalog.categories.count {
            tries += 1
            guard tries < 500_000 else {
                throw HalluError("cannot draw \(WorldCatalog.categories.count) glyphs at least \(minHamming) pixels apart; lower glyph_min_hamming")
            }
            // 32 random bits fill the left half; the right half mirrors it.
            let bits = rng.next()
            var m: UInt64 = 0
            for row in 0..<8 {
                for col in 0..<4 where (bits >> UInt64(row * 4 + col)) & 1 == 1 {
                    m |= 1 << UInt64(row * 8 + col)
                    m |= 1 << UInt64(row * 8 + 7 - col)
                }
            }
            guard (22...42).contains(m.nonzeroBitCount) else { continue }
            guard masks.allSatisfy({ ($0 ^ m).nonzeroBitCount >= minHamming }) else { continue }
            masks.append(m)
        }
        glyphs = masks.map { m in (0..<64).map { (m >> UInt64($0)) & 1 == 1 } }
        var d = Int.max
        for i in 0..<masks.count { for j in (i + 1)..<masks.count { d = min(d, (masks[i] ^ masks[j]).nonzeroBitCount) } }
        minDistance = d
    }

    /// Number of differing pixels.
    public static func distance(_ a: [Bool], _ b: [Bool]) -> Int { zip(a, b).reduce(0) { $0 + ($1.0 != $1.1 ? 1 : 0) } }

    /// The glyph of a category by COCO name.
    public func glyph(for category: String) -> [Bool]? {
        WorldCatalog.categories.firstIndex { $0.name == category }.map { glyphs[$0] }
    }
}
