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
        if shared {
            // One big GEMM: fold the batch into M.
            let rows = count / k
            let out = Tensor(uninitializedShape: batchA + [m, n])
            Tensor.gemm(transA: false, transB: false, m: rows, n: n, k: k, a: data, lda: k, b: other.data, ldb: n, c: out.data, ldc: n)
            return Tensor.record(out, "matmul", [self, other]) { [self] g in
                var ga: Tensor? = nil, gb: Tensor? = nil
                if self.isTracked {
                    ga = Tensor(uninitializedShape: self.shape)
                    Tensor.gemm(transA: false, transB: true, m: rows, n: k, k: n, a: g.data, lda: n, b: other.data, ldb: n, c: ga!.data, ldc: k)
                }
                if other.isTracked {
                    gb = Tensor(uninitializedShape: other.shape)
                    Tensor.gemm(transA: true, transB: false, m: k, n: n, k: rows, a: self.data, lda: k, b: g.data, ldb: n, c: gb!.data, ldc: n)
                }
                return [ga, gb]
            }
        }
        let batch = Shape.count(batchA)
        let out = Tensor(uninitializedShape: batchA + [m, n])
        for i in 0..<batch {
            Tensor.gemm(transA: false, transB: false, m: m, n: n, k: k, a: data + i * m * k, lda: k,
                        b: other.data + i * k * n, ldb: n, c: out.data + i * m * n, ldc: n)
        }
        return Tensor.record(out, "bmm", [self, other]) { [self] g in
            var ga: Tensor? = nil, gb: Tensor? = nil
            if self.isTracked {
                ga = Tensor(uninitializedShape: self.shape)
                for i in 0..<batch {
                    Tensor.gemm(transA: false, transB: true, m: m, n: k, k: n, a: g.data + i * m * n, lda: n,
                                b: other.data + i * k * n, ldb: n, c: ga!.data + i * m * k, ldc: k)
                }
            }
            if other.isTracked {
                gb = Tensor(uninitializedShape: other.shape)
                for i in 0..<batch {
                    Tensor.gemm(transA: true, transB: false, m: k, n: n, k: m, a: self.data + i * m * k, lda: k,
                                b: g.data + i * m * n, ldb: n, c: gb!.data + i * k * n, ldc: n)
                }
            }
            return [ga, gb]
        }
    }

    /// `x @ weight^T + bias` for `x [..., in]`, `weight [out, in]` (the PyTorch/Hugging Face layout),
    /// `bias [out]`: one GEMM forward, two (plus a column sum) backward.
    public static func linear(_ x: Tensor, _ weight: Tensor, _ bias: Tensor?) throws -> Tensor {
        guard weight.rank == 2, let inF = x.shape.last, inF == weight.shape[1] else {
            throw HalluError("linear: input \(x.shape) does not match weight \(weight.shape) ([out, in])")
        }
        let outF = weight.shape[0]
        if let bias, bias.shape != [outF] {
            throw HalluError("linear: bias \(bias.shape) does not match weight \(weight.shape)")
        }
        let rows = x.count / Swift.max(inF, 1)
        let out = Tensor(uninitializedShape: Array(x.shape.dropLast()) + [outF])
        if let bias {
            for r in 0..<rows { (out.data + r * outF).update(from: bias.data, count: outF) }
        }
        gemm(transA: false, transB: true, m: rows, n: outF, k: inF, a: x.data, lda: inF, b: weight.data, ldb: inF,
             beta: bias == nil ? 0 : 1, c: out.data, ldc: outF)
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return record(out, "linear", inputs) { g in
            var gx: Tensor? = nil, gw: Tensor? = nil, gbias: Tensor? = nil
            if x.isTracked {
                gx = Tensor(uninitializedShape: x.shape)
                gemm(transA: false, transB: false, m: rows, n: inF, k: outF, a: g.data, lda: outF, b: weight.data, ldb: inF, c: gx!.data, ldc: inF)
            }
            if weight.isTracked {
                gw = Tensor(uninitializedShape: weight.shape)
                gemm(transA: true, transB: false, m: outF, n: inF, k: rows, a: g.data, lda: outF, b: x.data, ldb: inF, c: gw!.data, ldc: inF)
            }
            if let bias, bias.isTracked {
                gbias = try g.sumTo([outF])
            }
            return bias == nil ? [gx, gw] : [gx, gw, gbias]
        }
    }
}
