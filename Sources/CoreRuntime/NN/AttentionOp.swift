import Foundation

/// Scaled dot-product attention as one fused op, with causal and key-padding masks and grouped-query
/// heads. The probabilities are kept for the backward pass and can be returned as attention weights.
extension Tensor {
    /// `q [B, H, Tq, D]`, `k, v [B, Hkv, Tk, D]` (H a multiple of Hkv). With `causal`, query i sees keys
    /// j <= i + (Tk - Tq). `keyMask` (B*Tk entries, true = attend) masks padding. Fully masked rows
    /// give zeros. Returns the output `[B, H, Tq, D]` and the probabilities `[B, H, Tq, Tk]`.
    public static func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, causal: Bool, keyMask: [Bool]? = nil,
                                 scale: Float? = nil) throws -> (output: Tensor, weights: Tensor) {
        guard q.rank == 4, k.rank == 4, v.rank == 4, k.shape == v.shape, q.shape[0] == k.shape[0],
              q.shape[3] == k.shape[3], k.shape[1] > 0, q.shape[1] % k.shape[1] == 0 else {
            throw HalluError("attention: incompatible shapes q \(q.shape), k \(k.shape), v \(v.shape)")
        }
        let (b, h, tq, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let (hkv, tk) = (k.shape[1], k.shape[2])
        if let keyMask, keyMask.count != b * tk {
            throw HalluError("attention: key mask of \(keyMask.count) entries for batch \(b) x keys \(tk)")
        }
        let group = h / hkv, sc = scale ?? 1 / Float(d).squareRoot(), shift = tk - tq
        let out = Tensor.zeros([b, h, tq, d]), probs = Tensor.zeros([b, h, tq, tk])
        for bi in 0..<b {
            for hi in 0..<h {
                let qh = q.data + (bi * h + hi) * tq * d
                let kh = k.data + (bi * hkv + hi / group) * tk * d, vh = v.data + (bi * hkv + hi / group) * tk * d
                let ph = probs.data + (bi * h + hi) * tq * tk, oh = out.data + (bi * h + hi) * tq * d
                for i in 0..<tq {
                    let prow = ph + i * tk
                    var m = -Float.infinity
                    for j in 0..<tk {
                        if (causal && j > i + shift) || (keyMask.map { !$0[bi * tk + j] } ?? false) { prow[j] = -.infinity; continue }
                        var s: Float = 0
                        for c in 0..<d { s += qh[i * d + c] * kh[j * d + c] }
                        prow[j] = s * sc
                        m = Swift.max(m, prow[j])
                    }
                    if m == -.infinity { for j in 0..<tk { prow[j] = 0 }; continue }
                    var z: Float = 0
                    for j in 0..<tk { let e = prow[j] == -.infinity ? 0 : Foundation.exp(prow[j] - m); prow[j] = e; z += e }
                    let inv = 1 / z
                    for j in 0..<tk where prow[j] != 0 {
                        prow[j] *= inv
                        let p = prow[j]
                        for c in 0..<d { oh[i * d + c] += p * vh[j * d + c] }
                    }
                }
            }
        }
        let result = record(out, "attention", [q, k, v]) { g in
            let gq = Tensor.zeros(q.shape), gk = Tensor.zeros(k.shape), gv = Tensor.zeros(v.shape)
            var dp = [Float](repeating: 0, count: tk)
            for bi in 0..<b {
                for hi in 0..<h {
                    let kvOff = (bi * hkv + hi / group) * tk * d, qOff = (bi * h + hi) * tq * d
                    let ph = probs.data + (bi * h + hi) * tq * tk
                    for i in 0..<tq {
                        let prow = ph + i * tk, dout = g.data + qOff + i * d
                        var dot: Float = 0
                        for j in 0..<tk {
                            if prow[j] == 0 { dp[j] = 0; continue }
                            var s: Float = 0
                            for c in 0..<d { s += dout[c] * v.data[kvOff + j * d + c]; gv.data[kvOff + j * d + c] += prow[j] * dout[c] }
                            dp[j] = s
                            dot += prow[j] * s
                        }
                        for j in 0..<tk where prow[j] != 0 {
                            let ds = prow[j] * (dp[j] - dot) * sc
                            for c in 0..<d {
                                gq.data[qOff + i * d + c] += ds * k.data[kvOff + j * d + c]
                                gk.data[kvOff + j * d + c] += ds * q.data[qOff + i * d + c]
                            }
                        }
                    }
                }
            }
            return [gq, gk, gv]
        }
        return (result, probs)
    }
}
