import Foundation

/// RMSNorm (Llama) and LayerNorm (CLIP) over the last axis (row kernels in `Kernels`). Only the
/// per-row statistics are saved for the backward pass, and only when a graph is recorded.
extension Tensor {
    /// A weight-like gradient for a column-reduction kernel: the leaf's own buffer, or a fresh
    /// tensor for the engine; nil when `t` needs no gradient.
    static func reductionTarget(_ t: Tensor) -> (tensor: Tensor?, pointer: UnsafeMutablePointer<Float>, accumulate: Bool)? {
        guard t.isTracked else { return nil }
        if let leaf = t.leafGradTarget() { return (nil, leaf.pointer, leaf.accumulate) }
        let g = Tensor(uninitializedShape: t.shape)
        return (g, g.data, false)
    }

    /// `x / sqrt(mean(x^2) + eps) * weight`, computed in float32 as Hugging Face's LlamaRMSNorm does.
    public static func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float) throws -> Tensor {
        let n = x.lastDim, rows = x.rowCount
        guard weight.shape == [n] else { throw HalluError("rmsNorm: weight \(weight.shape) for input \(x.shape)") }
        let out = Tensor(uninitializedShape: x.shape)
        guard recording(x, weight) else {
            Kernels.rmsNormForward(x: x.data, weight: weight.data, y: out.data, rstd: nil, rows: rows, cols: n, eps: eps)
            return out
        }
        let rstd = Tensor(uninitializedShape: [rows])
        Kernels.rmsNormForward(x: x.data, weight: weight.data, y: out.data, rstd: rstd.data, rows: rows, cols: n, eps: eps)
        out.gradFn = GradFn("rms_norm", [x, weight]) { g in
            let gx = Tensor(uninitializedShape: x.shape)
            let gw = reductionTarget(weight)
            Kernels.rmsNormBackward(x: x.data, weight: weight.data, rstd: rstd.data, dy: g.data, dx: gx.data,
                                    dWeight: gw?.pointer, accumulate: gw?.accumulate ?? false, rows: rows, cols: n)
            return [x.isTracked ? gx : nil, gw?.tensor]
        }
        return out
    }

    /// `(x - mean) / sqrt(var + eps) * weight + bias` (biased variance, as PyTorch).
    public static func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float) throws -> Tensor {
        let n = x.lastDim, rows = x.rowCount
        guard weight.shape == [n], bias.shape == [n] else {
            throw HalluError("layerNorm: weight \(weight.shape), bias \(bias.shape) for input \(x.shape)")
        }
        let out = Tensor(uninitializedShape: x.shape)
        guard recording([x, weight, bias]) else {
            Kernels.layerNormForward(x: x.data, weight: weight.data, bias: bias.data, y: out.data, mean: nil, rstd: nil,
                                     rows: rows, cols: n, eps: eps)
            return out
        }
        let stats = Tensor(uninitializedShape: [2, rows])
        let mean = stats.data, rstd = stats.data + rows
        Kernels.layerNormForward(x: x.data, weight: weight.data, bias: bias.data, y: out.data, mean: mean, rstd: rstd,
                                 rows: rows, cols: n, eps: eps)
        out.gradFn = GradFn("layer_norm", [x, weight, bias]) { g in
            _ = stats
            let gx = Tensor(uninitializedShape: x.shape)
            let gw = reductionTarget(weight), gb = reductionTarget(bias)
            // The kernel accumulates both or neither; a fresh buffer is zeroed instead.
            let accumulate = (gw?.accumulate ?? false) || (gb?.accumulate ?? false)
            if accumulate {
                if let gw, !gw.accumulate { gw.pointer.update(repeating: 0, count: n) }
                if let gb, !gb.accumulate { gb.pointer.update(repeating: 0, count: n) }
            }
            Kernels.layerNormBackward(x: x.data, weight: weight.data, mean: mean, rstd: rstd, dy: g.data, dx: gx.data,
                                      dWeight: gw?.pointer, dBias: gb?.pointer, accumulate: accumulate, rows: rows, cols: n)
            return [x.isTracked ? gx : nil, gw?.tensor, gb?.tensor]
        }
        return out
    }
}
