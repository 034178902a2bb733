import Foundation

extension Kernels {
    /// Memory layout of a `[batch, heads, seq, headDim]`-like tensor given to the rotary and
    /// attention kernels.
    public enum HeadLayout: Sendable {
        /// `[B, H, T, D]`: Hugging Face's layout after `transpose(1, 2)`.
        case bhtd
        /// `[B, T, H, D]`: the layout straight out of the q/k projections.
        case bthd
    }

    /// The rotary kernels' name for `HeadLayout`.
    public typealias RotaryLayout = HeadLayout

    /// Cosines and sines of the rotary angles for positions `0..<maxPositions`.
    ///
    /// Hugging Face Llama convention: inv_freq[i] = 1 / theta^(2i/D) computed in float32, angle =
    /// float32(position) · inv_freq[i] (one float32 product, as HF's matmul does), and
    /// dimensions i and i + D/2 rotate together (`rotate_half`). Positions outside the table are
    /// computed on the fly with the same formula.
    public final class RotaryTable: @unchecked Sendable {
        public let headDim: Int
        public let theta: Float
        public let maxPositions: Int
        let half: Int
        let invFreq: [Float]
        /// `[maxPositions, headDim/2]`
        let cos: [Float]
        let sin: [Float]

        /// - Parameters:
        ///   - headDim: even head dimension D.
        ///   - theta: the base (`rope_theta`, 10000 for Llama 2).
        ///   - maxPositions: positions precomputed.
        public init(headDim: Int, theta: Float = 10_000, maxPositions: Int) throws {
            guard headDim > 0, headDim % 2 == 0 else {
                throw HalluError("rotary embedding: head dimension must be even and positive, got \(headDim)")
            }
            guard theta > 0, theta.isFinite else { throw HalluError("rotary embedding: rope_theta must be positive, got \(theta)") }
            self.headDim = headDim
            self.theta = theta
            self.maxPositions = max(0, maxPositions)
            half = headDim / 2
            let inv = (0..<half).map { i -> Float in 1 / powf(theta, Float(2 * i) / Float(headDim)) }
            invFreq = inv
            var c = [Float](repeating: 0, count: self.maxPositions * half)
            var s = c
            for p in 0..<self.maxPositions {
                for i in 0..<half {
                    let a = Double(Float(p) * inv[i])
                    c[p * half + i] = Float(Foundation.cos(a))
                    s[p * half + i] = Float(Foundation.sin(a))
                }
            }
            cos = c
            sin = s
        }

        /// Writes cos/sin of `position` for every frequency into `c`/`s` (`headDim/2` each).
        @inline(__always)
        func angles(position: Int32, _ c: UnsafeMutablePointer<Float>, _ s: UnsafeMutablePointer<Float>) {
            let p = Int(position)
            if p >= 0 && p < maxPositions {
                cos.withUnsafeBufferPointer { c.update(from: $0.baseAddress! + p * half, count: half) }
                sin.withUnsafeBufferPointer { s.update(from: $0.baseAddress! + p * half, count: half) }
            } else {
                for i in 0..<half {
                    let a = Double(Float(position) * invFreq[i])
                    c[i] = Float(Foundation.cos(a)); s[i] = Float(Foundation.sin(a))
                }
            }
        }
    }

    /// Applies rotary embeddings: for i < D/2, with (c, s) the cos/sin of position·inv_freq[i],
    /// y[i] = x[i]·c - x[i+D/2]·s and y[i+D/2] = x[i+D/2]·c + x[i]·s.
    ///
    /// - Parameters:
    ///   - x, y: `[B, H, T, D]` or `[B, T, H, D]` per `layout`, D = `table.headDim`; y may alias x.
    ///   - positions: `[B, T]` position of every token (any Int32; outside the table is computed).
    public static func rotaryForward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, table: RotaryTable,
                                     positions: UnsafePointer<Int32>, batch: Int, heads: Int, seq: Int,
                                     layout: RotaryLayout) {
        rotary(x: x, y: y, table: table, positions: positions, batch: batch, heads: heads, seq: seq, layout: layout, sign: 1)
    }

    /// Gradient of `rotaryForward` (the inverse rotation): dx[i] = dy[i]·c + dy[i+D/2]·s,
    /// dx[i+D/2] = dy[i+D/2]·c - dy[i]·s. dx may alias dy.
    public static func rotaryBackward(dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, table: RotaryTable,
                                      positions: UnsafePointer<Int32>, batch: Int, heads: Int, seq: Int,
                                      layout: RotaryLayout) {
        rotary(x: dy, y: dx, table: table, positions: positions, batch: batch, heads: heads, seq: seq, layout: layout, sign: -1)
    }

    private static func rotary(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, table: RotaryTable,
                               positions: UnsafePointer<Int32>, batch: Int, heads: Int, seq: Int,
                               layout: RotaryLayout, sign: Float) {
        let d = table.headDim, h2 = table.half
        if batch <= 0 || heads <= 0 || seq <= 0 { return }
        // One unit = one (b, t) token: its angles are loaded once and applied to every head.
        Parallel.forEach(count: batch * seq, minChunk: max(1, grainSimple / (heads * d))) { range in
            let c = UnsafeMutablePointer<Float>.allocate(capacity: h2)
            let s = UnsafeMutablePointer<Float>.allocate(capacity: h2)
            defer { c.deallocate(); s.deallocate() }
            for bt in range {
                let b = bt / seq, t = bt % seq
                table.angles(position: positions[bt], c, s)
                if sign < 0 { for i in 0..<h2 { s[i] = -s[i] } }
                for h in 0..<heads {
                    let off = layout == .bhtd ? ((b * heads + h) * seq + t) * d : ((b * seq + t) * heads + h) * d
                    rotateHalf(x + off, y + off, c, s, h2)
                }
            }
        }
    }

    @inline(__always)
    private static func rotateHalf(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                   _ c: UnsafePointer<Float>, _ s: UnsafePointer<Float>, _ h2: Int) {
        var i = 0
        while i + 8 <= h2 {
            let a = ld8(x + i), b = ld8(x + h2 + i), cv = ld8(c + i), sv = ld8(s + i)
            st8(y + i, vfma(a, cv, -(b * sv)))
            st8(y + h2 + i, vfma(b, cv, a * sv))
            i += 8
        }
        while i < h2 {
            let a = x[i], b = x[h2 + i]
            y[i] = (-(b * s[i])).addingProduct(a, c[i])
            y[h2 + i] = (a * s[i]).addingProduct(b, c[i])
            i += 1
        }
    }
}
