import Foundation

extension Tensor {
    /// Divides every row (the last axis) by its Euclidean norm, `x / max(‖x‖, eps)`, as PyTorch's
    /// `F.normalize(x, dim=-1)`. Contrastive embeddings are compared by cosine, so they are normalised.
    ///
    /// Backward: with `y = x / ‖x‖`, `dx = (g - y ⟨y, g⟩) / ‖x‖`: the gradient loses its component
    /// along the row, because scaling a row does not change its direction. Where the norm is below
    /// `eps` the division is by the constant `eps`, so the gradient is `g / eps`.
    public func l2NormalizedRows(eps: Float = 1e-12) throws -> Tensor {
        guard rank >= 1, let d = shape.last, d > 0 else {
            throw HalluError("l2Normalize: needs a non-empty last axis, got shape \(shape)")
        }
        let rows = count / d
        let out = Tensor(uninitializedShape: shape)
        var norms = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            let x = data + r * d, y = out.data + r * d
            var s: Double = 0
            for j in 0..<d { s += Double(x[j]) * Double(x[j]) }
            let n = Swift.max(Float(s.squareRoot()), eps)
            norms[r] = n
            for j in 0..<d { y[j] = x[j] / n }
        }
        return Tensor.record(out, "l2_normalize", [self]) { [shape] g in
            let gx = Tensor(uninitializedShape: shape)
            for r in 0..<rows {
                let y = out.data + r * d, gr = g.data + r * d, dx = gx.data + r * d
                let n = norms[r]
                // Below eps the norm was replaced by a constant, so only the 1/eps scaling remains.
                var dot: Float = 0
                if n > eps { for j in 0..<d { dot += y[j] * gr[j] } }
                for j in 0..<d { dx[j] = (gr[j] - y[j] * dot) / n }
            }
            return [gx]
        }
    }
}
