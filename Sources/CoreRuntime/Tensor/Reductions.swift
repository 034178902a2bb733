import Foundation

/// Sums, means and maxima over all elements or one axis.
extension Tensor {
    /// Splits the shape around `axis` into (outer, axis length, inner).
    func around(_ axis: Int) -> (outer: Int, n: Int, inner: Int) {
        (Shape.count(Array(shape[..<axis])), shape[axis], Shape.count(Array(shape[(axis + 1)...])))
    }

    /// Sum of every element (a scalar).
    public func sum() -> Tensor {
        let out = Tensor(scalar: Float(Kernels.sum(data, count: count)))
        guard Tensor.recording(self) else { return out }
        out.gradFn = GradFn("sum", [self]) { [shape] g in [Tensor.full(shape, g.item)] }
        return out
    }

    /// Mean of every element (a scalar).
    public func mean() -> Tensor { sum().scaled(1 / Float(Swift.max(count, 1))) }

    /// Sum over one axis.
    public func sum(axis: Int, keepDim: Bool = false) throws -> Tensor {
        let ax = try Shape.axis(axis, rank: rank, op: "sum")
        let (outer, n, inner) = around(ax)
        var outShape = shape
        if keepDim { outShape[ax] = 1 } else { outShape.remove(at: ax) }
        let out = Tensor(uninitializedShape: outShape)
        Kernels.sumMiddleAxis(data, outer: outer, n: n, inner: inner, out.data)
        guard Tensor.recording(self) else { return out }
        out.gradFn = GradFn("sum_axis", [self]) { [shape] g in
            let gi = Tensor(uninitializedShape: shape)
            Kernels.repeatMiddleAxis(g.data, outer: outer, n: n, inner: inner, gi.data)
            return [gi]
        }
        return out
    }

    /// Mean over one axis.
    public func mean(axis: Int, keepDim: Bool = false) throws -> Tensor {
        let ax = try Shape.axis(axis, rank: rank, op: "mean")
        return try sum(axis: ax, keepDim: keepDim).scaled(1 / Float(shape[ax]))
    }

    /// Maximum over one axis; the gradient flows to the first maximal element.
    public func max(axis: Int, keepDim: Bool = false) throws -> Tensor {
        let ax = try Shape.axis(axis, rank: rank, op: "max")
        guard shape[ax] > 0 else { throw HalluError("max: axis \(axis) of shape \(shape) is empty") }
        let (outer, n, inner) = around(ax)
        var outShape = shape
        if keepDim { outShape[ax] = 1 } else { outShape.remove(at: ax) }
        let out = Tensor(uninitializedShape: outShape)
        var arg = [Int32](repeating: 0, count: outer * inner)
        let p = data, o = out.data
        for a in 0..<outer {
            for j in 0..<inner {
                var best = p[a * n * inner + j], bi = 0
                for k in 1..<n where p[(a * n + k) * inner + j] > best { best = p[(a * n + k) * inner + j]; bi = k }
                o[a * inner + j] = best
                arg[a * inner + j] = Int32(bi)
            }
        }
        guard Tensor.recording(self) else { return out }
        out.gradFn = GradFn("max_axis", [self]) { [shape] g in
            let gi = Tensor.zeros(shape)
            let gp = g.data, r = gi.data
            for a in 0..<outer { for j in 0..<inner { r[(a * n + Int(arg[a * inner + j])) * inner + j] = gp[a * inner + j] } }
            return [gi]
        }
        return out
    }

    /// Index of the maximum along the last axis, per row (no gradient).
    public func argmaxLastAxis() -> [Int] {
        let n = shape.last ?? 1, rows = count / Swift.max(n, 1)
        var out = [Int](repeating: 0, count: rows)
        for r in 0..<rows {
            let p = data + r * n
            var best = p[0], bi = 0
            for k in 1..<n where p[k] > best { best = p[k]; bi = k }
            out[r] = bi
        }
        return out
    }
}
