import Foundation

/// Draws a scene: the scene type's muted background and texture, each object's glyph in its colour
/// (doubled for large objects, a plain block for tiny ones), then pixel noise.
public struct WorldRenderer: Sendable {
    public let world: WorldModel

    public init(world: WorldModel) { self.world = world }

    /// Renders `scene`; all randomness (the noise) comes from `rng`.
    public func render(_ scene: WorldScene, rng: inout WorldRNG) -> RGBImage {
        let size = world.config.imageSize
        let cell = world.config.cellSize
        let type = WorldCatalog.sceneType(named: scene.sceneType) ?? world.sceneTypes[0]
        var img = RGBImage(width: size, height: size)
        let amp = world.config.textureAmplitude
        for y in 0..<size {
            for x in 0..<size {
                let t = Self.texture(type.texture, x: x, y: y, size: size, amplitude: amp)
                img[x, y] = RGB(Self.clamp(Int(type.background.r) + t), Self.clamp(Int(type.background.g) + t),
                                Self.clamp(Int(type.background.b) + t))
            }
        }
        for o in scene.objects {
            guard let glyph = world.glyphs.glyph(for: o.category), let color = world.palette[o.color] else { continue }
            let side = o.span * cell
            let x0 = o.col * cell, y0 = o.row * cell
            if o.tiny {
                let middle = (cell / 4)..<(cell - cell / 4)
                for dy in middle { for dx in middle { img[x0 + dx, y0 + dy] = color } }
                continue
            }
            for dy in 0..<side {
                for dx in 0..<side {
                    let gx = dx * GlyphSet.side / side, gy = dy * GlyphSet.side / side
                    if glyph[gy * GlyphSet.side + gx] { img[x0 + dx, y0 + dy] = color }
                }
            }
        }
        // Noise: the sum of four 16-bit uniforms from one 64-bit draw, centred and scaled to the
        // configured sigma (an Irwin-Hall approximation of a Gaussian). Integers plus one multiply
        // and a rounding: bit-identical on every machine.
        let sumSD = 65_536 / 3.0.squareRoot()
        let scale = world.config.noiseSigma * 255 / sumSD
        if scale > 0 {
            for i in 0..<img.pixels.count {
                let r = rng.next()
                let n = Int(r & 0xFFFF) + Int((r >> 16) & 0xFFFF) + Int((r >> 32) & 0xFFFF) + Int(r >> 48) - 131_070
                img.pixels[i] = Self.clamp(Int(img.pixels[i]) + Int((Double(n) * scale).rounded()))
            }
        }
        return img
    }

    static func clamp(_ v: Int) -> UInt8 { UInt8(max(0, min(255, v))) }

    /// Texture offset (in 0-255 levels) of a pixel. Patterns are fixed per scene type, so the
    /// background alone tells the scene.
    static func texture(_ kind: SceneTexture, x: Int, y: Int, size: Int, amplitude a: Int) -> Int {
        func sign(_ b: Bool) -> Int { b ? a : -a }
        switch kind {
        case .checker: return sign((x / 2 + y / 2) % 2 == 0)
        case .hStripes: return sign((y / 2) % 2 == 0)
        case .vStripes: return sign((x / 2) % 2 == 0)
        case .tiles: return (x % 4 == 0 || y % 4 == 0) ? -a : a / 2
        case .speckle:
            // A fixed hash of the position: grass-like, the same in every park image.
            var h = UInt32(truncatingIfNeeded: x &* 73_856_093 ^ y &* 19_349_663)
            h = (h ^ (h >> 13)) &* 0x5BD1_E995
            h ^= h >> 15
            return sign(h & 1 == 0)
        case .diagonal: return sign(((x + y) / 2) % 2 == 0)
        case .dots: return (x % 4 == 1 && y % 4 == 1) ? 2 * a : 0
        case .antiDiagonal: return sign(((x - y + 4 * size) / 2) % 2 == 0)
        case .bigChecker: return sign((x / 4 + y / 4) % 2 == 0)
        case .mown: return sign((x / 8) % 2 == 0)
        case .gradient: return size > 1 ? a * (2 * y - (size - 1)) / (size - 1) : 0
        case .waves:
            let shift = abs(x % 8 - 4) / 2
            return sign(((y + shift) / 2) % 2 == 0)
        }
    }
}
