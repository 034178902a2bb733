import Foundation

/// RMSNorm (Llama) and LayerNorm (CLIP) over the last axis.
extension Tensor {
    /// `x / sqrt(mean(x^2) + eps) * weight`, computed in float32 as Hugging Face's LlamaRMSNorm does.
    public static func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float) throws -> Tensor {
        let n = x.lastDim, rows = x.rowCount
        guard weight.shape == [n] else { throw HalluError("rmsNorm: weight \(weight.shape) for input \(x.shape)") }
        let out = Tensor(uninitializedShape: x.shape)
        var rstd = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            let p = x.data + r * n, y = out.data + r * n
            var ss: Float = 0
            for j in 0..<n { ss += p[j] * p[j] }
            let rs = 1 / (ss / Float(n) + eps).squareRoot()
            rstd[r] = rs
            for j in 0..<n { y[j] = p[j] * rs * weight.data[j] }
        }
        return record(out, "rms_norm", [x, weight]) { g in
            let gx = Tensor(uninitializedShape: x.shape), gw = Tensor.zeros([n])
            for r in 0..<rows {
                let p = x.data + r * n, dy = g.data + r * n, dx = gx.data + r * n, rs = rstd[r]
                var dot: Float = 0
                for j in 0..<n { dot += dy[j] * weight.data[j] * p[j]; gw.data[j] += dy[j] * p[j] * rs }
                let c = dot * rs * rs * rs / Float(n)
                for j in 0..<n { dx[j] = dy[j] * weight.data[j] * rs - p[j] * c }
            }
            return [gx, gw]
        }
    }

    /// `(x - mean) / sqrt(var + eps) * weight + bias` (biased variance, as PyTorch).
    public static func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float) throws -> Tensor {
        let n = x.lastDim, rows = x.rowCount
        guard weight.shape == [n], bias.shape == [n] else {
            throw HalluError("layerNorm: weight \(weight.shape), bias \(bias.shape) for input \(x.shape)")
        }
        let out = Tensor(uninitializedShape: x.shape)
        let xhat = Tensor(uninitializedShape: x.shape)
        var rstd = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            let p = x.data + r * n, y = out.data + r * n, h = xhat.data + r * n
            var mean: Float = 0
            for j in 0..<n { mean += p[j] }
            mean /= Float(n)
            var v: Float = 0
            for j in 0..<n { let d = p[j] - mean; v += d * d }
            let rs = 1 / (v / Float(n) + eps).squareRoot()
            rstd[r] = rs
            for j in 0..<n { h[j] = (p[j] - mean) * rs; y[j] = h[j] * weight.data[j] + bias.data[j] }
        }
        return record(out, "layer_norm", [x, weight, bias]) { g in
            let gx = Tensor(uninitializedShape: x.shape), gw = Tensor.zeros([n]), gb = Tensor.zeros([n])
            for r in 0..<rows {
                let h = xhat.data + r * n, dy = g.data + r * n, dx = gx.data + r * n
                var s1: Float = 0, s2: Float = 0
                for j in 0..<n {
                    let dh = dy[j] * weight.data[j]
                    s1 += dh; s2 += dh * h[j]
                    gw.data[j] += dy[j] * h[j]; gb.data[j] += dy[j]
                }
                let rs = rstd[r], inv = 1 / Float(n)
                for j in 0..<n { dx[j] = rs * (dy[j] * weight.data[j] - inv * s1 - h[j] * inv * s2) }
            }
            return [gx, gw, gb]
        }
    }
}
