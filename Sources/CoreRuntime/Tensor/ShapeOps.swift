import Foundation

/// Reshape (a view), transpose and permute (copies), slicing, concatenation and splitting.
extension Tensor {
    /// The same elements under a new shape (no copy). One dimension may be -1.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let rest = Shape.count(s.enumerated().filter { $0.offset != i }.map { $0.element })
            guard rest > 0 && count % rest == 0 else { throw HalluError("reshape: cannot reshape \(shape) into \(newShape)") }
            s[i] = count / rest
        }
        guard Shape.count(s) == count, !s.contains(where: { $0 < 0 }) else {
            throw HalluError("reshape: cannot reshape \(shape) into \(newShape)")
        }
        let out = Tensor(storage: storage, shape: s)
        guard Tensor.recording(self) else { return out }
        out.gradFn = GradFn("reshape", [self]) { [shape] g in [try g.reshaped(shape)] }
        return out
    }

    /// Reorders dimensions (a copy). Attention reads `[B, T, H, D]` directly, so the model needs none.
    public func permuted(_ perm: [Int]) throws -> Tensor {
        guard perm.count == rank, Set(perm) == Set(0..<rank) else {
            throw HalluError("permute: \(perm) is not a permutation of the axes of shape \(shape)")
        }
        if perm == Array(0..<rank) { return self }
        let outShape = perm.map { shape[$0] }
        let out = Tensor(uninitializedShape: outShape)
        let inStrides = Shape.strides(shape)
        let src = perm.map { inStrides[$0] }
        Tensor.stridedCopy(from: data, strides: src, shape: outShape, to: out.data)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        guard Tensor.recording(self) else { return out }
        out.gradFn = GradFn("permute", [self]) { g in [try g.permuted(inverse)] }
        return out
    }

    /// Swaps two dimensions (a copy).
    public func transposed(_ a: Int, _ b: Int) throws -> Tensor {
        let x = try Shape.axis(a, rank: rank, op: "transpose"), y = try Shape.axis(b, rank: rank, op: "transpose")
        var perm = Array(0..<rank)
        perm.swapAt(x, y)
        return try permuted(perm)
    }

    /// Copies a strided view into a contiguous buffer; the innermost loop is unit-stride when possible.
    static func stridedCopy(from src: UnsafePointer<Float>, strides: [Int], shape: [Int], to dst: UnsafeMutablePointer<Float>) {
        let rank = shape.count
        let n = Shape.count(shape)
        if n == 0 { return }
        if rank == 0 { dst[0] = src[0]; return }
        let last = shape[rank - 1], ls = strides[rank - 1]
        var idx = [Int](repeating: 0, count: rank)
        var off = 0, o = 0
        while o < n {
            if ls == 1 { (dst + o).update(from: src + off, count: last) } else {
                for j in 0..<last { dst[o + j] = src[off + j * ls] }
            }
            o += last
            var d = rank - 2
            while d >= 0 {
                idx[d] += 1; off += strides[d]
                if idx[d] < shape[d] { break }
                off -= strides[d] * idx[d]; idx[d] = 0
                d -= 1
            }
        }
    }

    /// Elements `range` along `axis` (a copy).
    public func slice(axis: Int, _ range: Range<Int>) throws -> Tensor {
        let ax = try Shape.axis(axis, rank: rank, op: "slice")
        guard range.lowerBound >= 0 && range.upperBound <= shape[ax] else {
            throw HalluError("slice: range \(range) is out of bounds for axis \(axis) of shape \(shape)")
        }
        let (outer, n, inner) = around(ax)
        var outShape = shape
        outShape[ax] = range.count
        let out = Tensor(uninitializedShape: outShape)
        let m = range.count * inner
        for a in 0..<outer { (out.data + a * m).update(from: data + (a * n + range.lowerBound) * inner, count: m) }
        guard Tensor.recording(self) else { return out }
        out.gradFn = GradFn("slice", [self]) { [shape] g in
            let gi = Tensor.zeros(shape)
            for a in 0..<outer { (gi.data + (a * n + range.lowerBound) * inner).update(from: g.data + a * m, count: m) }
            return [gi]
        }
        return out
    }

    /// Joins tensors along `axis`; all other dimensions must agree.
    public static func concat(_ parts: [Tensor], axis: Int) throws -> Tensor {
        guard let first = parts.first else { throw HalluError("concat: no tensors") }
        let ax = try Shape.axis(axis, rank: first.rank, op: "concat")
        for p in parts where p.rank != first.rank || (0..<first.rank).contains(where: { $0 != ax && p.shape[$0] != first.shape[$0] }) {
            throw HalluError("concat: shapes \(first.shape) and \(p.shape) differ outside axis \(axis)")
        }
        var outShape = first.shape
        outShape[ax] = parts.reduce(0) { $0 + $1.shape[ax] }
        let out = Tensor(uninitializedShape: outShape)
        let (outer, total, inner) = out.around(ax)
        var offset = 0
        var offsets: [Int] = []
        for p in parts {
            let m = p.shape[ax] * inner
            for a in 0..<outer { (out.data + (a * total + offset) * inner).update(from: p.data + a * m, count: m) }
            offsets.append(offset)
            offset += p.shape[ax]
        }
        guard recording(parts) else { return out }
        let pieces = zip(parts, offsets).map { p, off in (tracked: p.isTracked, range: off..<(off + p.shape[ax])) }
        out.gradFn = GradFn("concat", parts) { g in
            try pieces.map { $0.tracked ? try g.slice(axis: ax, $0.range) : nil }
        }
        return out
    }

    /// Splits along `axis` into pieces of the given sizes.
    public func split(axis: Int, sizes: [Int]) throws -> [Tensor] {
        let ax = try Shape.axis(axis, rank: rank, op: "split")
        guard sizes.reduce(0, +) == shape[ax] else {
            throw HalluError("split: sizes \(sizes) do not add up to axis \(axis) of shape \(shape)")
        }
        var start = 0
        return try sizes.map { s in defer { start += s }; return try slice(axis: ax, start..<(start + s)) }
    }

    /// Adds a dimension of size 1.
    public func unsqueezed(_ axis: Int) throws -> Tensor {
        let ax = axis < 0 ? axis + rank + 1 : axis
        guard ax >= 0 && ax <= rank else { throw HalluError("unsqueeze: axis \(axis) out of range for shape \(shape)") }
        var s = shape
        s.insert(1, at: ax)
        return try reshaped(s)
    }

    /// Repeats the tensor along a new leading axis (a copy), e.g. to duplicate an image for a pair.
    public func repeated(_ times: Int) throws -> Tensor {
        try Tensor.concat(Array(repeating: self, count: times), axis: 0)
    }
}
