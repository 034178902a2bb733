import Foundation

/// Matrix products: plain, batched (with broadcast of a 2-D right operand), and the fused linear layer.
extension Tensor {
    /// Row-major C = alpha * op(A) op(B) + beta * C; the single entry point into BLAS for all ops.
    @inline(__always)
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                     a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                     beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                   b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    /// The gradient buffer for a GEMM to write into: the leaf's own `grad` (beta 1 when it already
    /// holds a gradient) or a fresh tensor of `shape` handed back to the engine.
    static func gradientTarget(leaf: Tensor?, shape: [Int]) -> (tensor: Tensor?, pointer: UnsafeMutablePointer<Float>, beta: Float) {
        if let t = leaf?.leafGradTarget() { return (nil, t.pointer, t.accumulate ? 1 : 0) }
        let g = Tensor(uninitializedShape: shape)
        return (g, g.data, 0)
    }

    /// `t` when it is a leaf that requires a gradient (a backward pass may write into its `grad`).
    static func leaf(_ t: Tensor?) -> Tensor? { t.flatMap { $0.isLeafRequiringGrad ? $0 : nil } }

    /// `self @ other` for `[..., M, K] @ [..., K, N]`. Leading dimensions must match, or `other` is 2-D
    /// and shared by every batch.
    public func matmul(_ other: Tensor) throws -> Tensor {
        guard rank >= 2, other.rank >= 2 else {
            throw HalluError("matmul: needs rank >= 2, got \(shape) and \(other.shape)")
        }
        let m = shape[rank - 2], k = shape[rank - 1], k2 = other.shape[other.rank - 2], n = other.shape[other.rank - 1]
        guard k == k2 else { throw HalluError("matmul: inner dimensions differ: \(shape) @ \(other.shape)") }
        let batchA = Array(shape.dropLast(2)), batchB = Array(other.shape.dropLast(2))
        let shared = other.rank == 2
        guard shared || batchA == batchB else {
            throw HalluError("matmul: batch dimensions differ: \(shape) @ \(other.shape)")
        }
        // A shared right operand folds the batch into M: one big GEMM.
        let batch = shared ? 1 : Shape.count(batchA)
        let rows = shared ? count / Swift.max(k, 1) : m
        let out = Tensor(uninitializedShape: batchA + [m, n])
        BLAS.sgemmStridedBatched(transA: false, transB: false, m: rows, n: n, k: k, alpha: 1,
                                 a: data, lda: k, strideA: rows * k, b: other.data, ldb: n, strideB: k * n,
                                 beta: 0, c: out.data, ldc: n, strideC: rows * n, batch: batch)
        guard Tensor.recording(self, other) else { return out }
        // Each operand is kept only when the other one needs a gradient.
        let (needA, needB, shapeA, shapeB) = (isTracked, other.isTracked, shape, other.shape)
        let a = needB ? self : nil, b = needA ? other : nil
        let leafA = Tensor.leaf(self), leafB = Tensor.leaf(other)
        out.gradFn = GradFn(shared ? "matmul" : "bmm", [self, other]) { g in
            var ga: Tensor? = nil, gb: Tensor? = nil
            if let b {
                let t = Tensor.gradientTarget(leaf: leafA, shape: shapeA)
                BLAS.sgemmStridedBatched(transA: false, transB: true, m: rows, n: k, k: n, alpha: 1,
                                         a: g.data, lda: n, strideA: rows * n, b: b.data, ldb: n, strideB: k * n,
                                         beta: t.beta, c: t.pointer, ldc: k, strideC: rows * k, batch: batch)
                ga = t.tensor
            }
            if let a {
                let t = Tensor.gradientTarget(leaf: leafB, shape: shapeB)
                BLAS.sgemmStridedBatched(transA: true, transB: false, m: k, n: n, k: rows, alpha: 1,
                                         a: a.data, lda: k, strideA: rows * k, b: g.data, ldb: n, strideB: rows * n,
                                         beta: t.beta, c: t.pointer, ldc: n, strideC: k * n, batch: batch)
                gb = t.tensor
            }
            return [ga, gb]
        }
        return out
    }

    /// `x @ weight^T + bias` for `x [..., in]`, `weight [out, in]` (the PyTorch/Hugging Face layout),
    /// `bias [out]`: one GEMM forward, two (plus a column sum) backward. With `residual` (the shape
    /// of the output), the result is `residual + x @ weight^T + bias`, summed inside the GEMM.
    /// `savedInput` (x itself, rebuilt) lets the backward pass recompute x instead of keeping it.
    public static func linear(_ x: Tensor, _ weight: Tensor, _ bias: Tensor?, residual: Tensor? = nil,
                              savedInput: Recomputable? = nil) throws -> Tensor {
        guard weight.rank == 2, let inF = x.shape.last, inF == weight.shape[1] else {
            throw HalluError("linear: input \(x.shape) does not match weight \(weight.shape) ([out, in])")
        }
        let outF = weight.shape[0]
        if let bias, bias.shape != [outF] {
            throw HalluError("linear: bias \(bias.shape) does not match weight \(weight.shape)")
        }
        let outShape = Array(x.shape.dropLast()) + [outF]
        if let residual, residual.count != Shape.count(outShape) {
            throw HalluError("linear: residual \(residual.shape) does not match the output \(outShape)")
        }
        let rows = x.count / Swift.max(inF, 1)
        let out = Tensor(uninitializedShape: outShape)
        var beta: Float = 0
        if let residual {
            if let bias {
                Kernels.arithmetic(.add, residual.data, row: bias.data, out.data, rows: rows, cols: outF)
            } else {
                Kernels.copy(residual.data, out.data, count: out.count)
            }
            beta = 1
        } else if let bias {
            Kernels.repeatMiddleAxis(bias.data, outer: 1, n: rows, inner: outF, out.data)
            beta = 1
        }
        if let w16 = weight.storage.halfElements {
            // A 16-bit weight (a checkpoint loaded in its own precision) is widened inside the product.
            HalfGEMM.linear(m: rows, n: outF, k: inF, a: x.data, lda: inF, w: w16, format: weight.storage.format,
                            beta: beta, c: out.data, ldc: outF)
        } else {
            gemm(transA: false, transB: true, m: rows, n: outF, k: inF, a: x.data, lda: inF, b: weight.data, ldb: inF,
                 beta: beta, c: out.data, ldc: outF)
        }
        var inputs = [x, weight]
        if let bias { inputs.append(bias) }
        if let residual { inputs.append(residual) }
        let hasBias = bias != nil, hasResidual = residual != nil
        guard recording(inputs) else { return out }
        // The input is kept only when the weight needs a gradient (not for a frozen or LoRA base
        // weight), the weight only when the input does.
        var xs = weight.isTracked ? savedInput ?? Recomputable(keeping: x) : nil
        let ws = x.isTracked ? weight : nil
        let (leafX, leafW, leafB, xShape) = (leaf(x), leaf(weight), leaf(bias), x.shape)
        let biasTracked = bias?.isTracked ?? false
        let residualShape = residual.flatMap { $0.isTracked ? $0.shape : nil }
        out.gradFn = GradFn("linear", inputs) { g in
            var grads: [Tensor?] = [nil, nil]
            if let ws {
                let t = gradientTarget(leaf: leafX, shape: xShape)
                gemm(transA: false, transB: false, m: rows, n: inF, k: outF, a: g.data, lda: outF, b: ws.data, ldb: inF,
                     beta: t.beta, c: t.pointer, ldc: inF)
                grads[0] = t.tensor
            }
            if let saved = xs {
                let t = gradientTarget(leaf: leafW, shape: [outF, inF])
                let x = try saved.tensor()
                gemm(transA: true, transB: false, m: outF, n: inF, k: rows, a: g.data, lda: outF, b: x.data, ldb: inF,
                     beta: t.beta, c: t.pointer, ldc: inF)
                if !BackwardPass.retainsGraph { xs = nil }
                grads[1] = t.tensor
            }
            if hasBias {
                var gb: Tensor? = nil
                if biasTracked {
                    if let target = leafB?.leafGradTarget() {
                        Kernels.sumRows(g.data, rows: rows, cols: outF, into: target.pointer, accumulate: target.accumulate)
                    } else {
                        gb = try g.sumTo([outF])
                    }
                }
                grads.append(gb)
            }
            if hasResidual { grads.append(try residualShape.map { try g.reshaped($0) }) }
            return grads
        }
        return out
    }
}
