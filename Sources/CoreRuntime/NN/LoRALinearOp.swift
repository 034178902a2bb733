import Foundation

/// A linear layer with its low-rank adapter as one op: `residual + x Wᵀ + bias + s·(x Aᵀ) Bᵀ`.
/// The adapter's product is added inside the GEMM (alpha = s, beta = 1) instead of through a
/// scaled copy and a sum, and the backward pass shares `g B` between the input's and A's gradients.
extension Tensor {
    /// `x [..., in]`, `weight [out, in]`, `bias [out]`, `loraA [r, in]`, `loraB [out, r]`, `scaling`
    /// (alpha / r); `residual` (the output's shape) is added when given. `savedInput` (x itself,
    /// rebuilt) lets the backward pass recompute x instead of keeping it.
    public static func loraLinear(_ x: Tensor, weight: Tensor, bias: Tensor?, loraA: Tensor, loraB: Tensor, scaling: Float,
                                  residual: Tensor? = nil, savedInput: Recomputable? = nil) throws -> Tensor {
        guard loraA.rank == 2, loraB.rank == 2, loraA.shape[1] == weight.shape[1], loraB.shape[0] == weight.shape[0],
              loraB.shape[1] == loraA.shape[0] else {
            throw HalluError("loraLinear: adapter A \(loraA.shape), B \(loraB.shape) do not fit weight \(weight.shape)")
        }
        // The base product's step handles the weight, bias and residual; the input's gradient is
        // summed here (base share and adapter share in one buffer), so the base step gets a detached x.
        let base = try linear(x.detach(), weight, bias, residual: residual, savedInput: savedInput)
        let (inF, outF, r) = (weight.shape[1], weight.shape[0], loraA.shape[0])
        let rows = x.count / Swift.max(inF, 1)
        let t = Tensor(uninitializedShape: [rows, r])
        gemm(transA: false, transB: true, m: rows, n: r, k: inF, a: x.data, lda: inF, b: loraA.data, ldb: inF,
             c: t.data, ldc: r)
        gemm(transA: false, transB: true, m: rows, n: outF, k: r, alpha: scaling, a: t.data, lda: r, b: loraB.data, ldb: r,
             beta: 1, c: base.data, ldc: outF)
        // `base` carries the base layer's step; the adapter's step is chained after it.
        guard recording([base, x, loraA, loraB]) else { return base }
        let out = Tensor(storage: base.storage, shape: base.shape)
        let needX = x.isTracked, needA = loraA.isTracked, needB = loraB.isTracked
        let (leafX, leafA, leafB, xShape) = (leaf(x), leaf(loraA), leaf(loraB), x.shape)
        // A's gradient reads the input.
        var xs = needA ? savedInput ?? Recomputable(keeping: x) : nil
        out.gradFn = GradFn("lora_linear", [base, x, loraA, loraB]) { g in
            var gx: Tensor? = nil, ga: Tensor? = nil, gb: Tensor? = nil
            if needB {
                let target = gradientTarget(leaf: leafB, shape: [outF, r])
                gemm(transA: true, transB: false, m: outF, n: r, k: rows, alpha: scaling, a: g.data, lda: outF, b: t.data, ldb: r,
                     beta: target.beta, c: target.pointer, ldc: r)
                gb = target.tensor
            }
            if needX || needA {
                let u = Tensor(uninitializedShape: [rows, r])   // g B
                gemm(transA: false, transB: false, m: rows, n: r, k: outF, a: g.data, lda: outF, b: loraB.data, ldb: r,
                     c: u.data, ldc: r)
                if let saved = xs {
                    let target = gradientTarget(leaf: leafA, shape: [r, inF])
                    let x = try saved.tensor()
                    gemm(transA: true, transB: false, m: r, n: inF, k: rows, alpha: scaling, a: u.data, lda: r, b: x.data,
                         ldb: inF, beta: target.beta, c: target.pointer, ldc: inF)
                    // Let go of the input before the input's gradient is allocated.
                    if !BackwardPass.retainsGraph { xs = nil }
                    ga = target.tensor
                }
                if needX {
                    // dx = g W + s (g B) A.
                    let target = gradientTarget(leaf: leafX, shape: xShape)
                    gemm(transA: false, transB: false, m: rows, n: inF, k: outF, a: g.data, lda: outF, b: weight.data, ldb: inF,
                         beta: target.beta, c: target.pointer, ldc: inF)
                    gemm(transA: false, transB: false, m: rows, n: inF, k: r, alpha: scaling, a: u.data, lda: r, b: loraA.data, ldb: inF,
                         beta: 1, c: target.pointer, ldc: inF)
                    gx = target.tensor
                }
            }
            // The base step receives the same output gradient.
            return [g, gx, ga, gb]
        }
        return out
    }
}
