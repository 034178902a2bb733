import Foundation

/// Rotary position embedding in the Hugging Face Llama convention ("rotate half": element i pairs
/// with element i + D/2).
extension Tensor {
    /// Cosine and sine tables `[positions.count, D/2]`, computed in float32 as transformers does.
    static func ropeTables(positions: [Int], dim: Int, theta: Float) -> (cos: [Float], sin: [Float]) {
        let half = dim / 2
        var invFreq = [Float](repeating: 0, count: half)
        for i in 0..<half { invFreq[i] = 1 / Foundation.pow(theta, Float(2 * i) / Float(dim)) }
        var c = [Float](repeating: 0, count: positions.count * half), s = c
        for (t, p) in positions.enumerated() {
            for i in 0..<half {
                let a = Float(p) * invFreq[i]
                c[t * half + i] = Foundation.cos(a)
                s[t * half + i] = Foundation.sin(a)
            }
        }
        return (c, s)
    }

    /// Rotates `x [B, H, T, D]`; `positions` has T entries (shared by the batch) or B*T entries.
    public static func rope(_ x: Tensor, positions: [Int], theta: Float) throws -> Tensor {
        guard x.rank == 4, x.shape[3] % 2 == 0 else { throw HalluError("rope: expected [B, H, T, D] with even D, got \(x.shape)") }
        let (b, h, t, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        guard positions.count == t || positions.count == b * t else {
            throw HalluError("rope: \(positions.count) positions for input \(x.shape)")
        }
        let (cosT, sinT) = ropeTables(positions: positions, dim: d, theta: theta)
        let half = d / 2
        func rotate(_ src: UnsafeMutablePointer<Float>, _ dst: UnsafeMutablePointer<Float>, inverse: Bool) {
            for bi in 0..<b {
                for hi in 0..<h {
                    for ti in 0..<t {
                        let row = ((bi * h + hi) * t + ti) * d
                        let pr = (positions.count == t ? ti : bi * t + ti) * half
                        for i in 0..<half {
                            let c = cosT[pr + i], s = inverse ? -sinT[pr + i] : sinT[pr + i]
                            let x1 = src[row + i], x2 = src[row + i + half]
                            dst[row + i] = x1 * c - x2 * s
                            dst[row + i + half] = x2 * c + x1 * s
                        }
                    }
                }
            }
        }
        let out = Tensor(uninitializedShape: x.shape)
        rotate(x.data, out.data, inverse: false)
        return record(out, "rope", [x]) { g in
            let gi = Tensor(uninitializedShape: x.shape)
            rotate(g.data, gi.data, inverse: true)
            return [gi]
        }
    }
}
