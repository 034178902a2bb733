import Foundation

/// Row lookups (embedding, index-select), gathers along the last axis, and masked fills.
extension Tensor {
    /// Rows of a 2-D table: `table [V, D]`, `ids` -> `[ids.count, D]`. Backward scatter-adds into the table.
    public static func embedding(_ table: Tensor, _ ids: [Int]) throws -> Tensor {
        guard table.rank == 2 else { throw HalluError("embedding: table must be 2-D, got \(table.shape)") }
        let v = table.shape[0], d = table.shape[1]
        var ids32 = [Int32](repeating: 0, count: ids.count)
        for (i, id) in ids.enumerated() {
            guard id >= 0 && id < v else { throw HalluError("embedding: id \(id) is out of range for a table of \(v) rows") }
            ids32[i] = Int32(truncatingIfNeeded: id)
        }
        let out = Tensor(uninitializedShape: [ids.count, d])
        if let t16 = table.storage.halfElements {
            // A 16-bit table (a checkpoint loaded in its own precision): rows are widened as they are gathered.
            let format = table.storage.format
            Parallel.forEach(count: ids.count, minChunk: Swift.max(1, 4096 / Swift.max(d, 1))) { r in
                for i in r { HalfPrecisionKernels.widenSerial(t16 + Int(ids32[i]) * d, format: format, count: d, into: out.data + i * d) }
            }
        } else {
            try ids32.withUnsafeBufferPointer { p in
                try Kernels.embeddingForward(table: table.data, vocab: v, dim: d, ids: p.baseAddress!, count: ids.count, out: out.data)
            }
        }
        guard recording(table) else { return out }
        // Only the ids and the table's shape are needed (and the table itself when it is a leaf
        // whose gradient is written in place).
        let (leafTable, shape) = (leaf(table), table.shape)
        out.gradFn = GradFn("embedding", [table]) { g in
            var fresh: Tensor? = nil
            var target: UnsafeMutablePointer<Float>
            if let t = leafTable?.leafGradTarget() {
                target = t.pointer
                if !t.accumulate { target.update(repeating: 0, count: v * d) }
            } else {
                fresh = Tensor.zeros(shape)
                target = fresh!.data
            }
            ids32.withUnsafeBufferPointer { p in
                Kernels.embeddingBackward(dOut: g.data, ids: p.baseAddress!, count: ids32.count, dTable: target, vocab: v, dim: d)
            }
            return [fresh]
        }
        return out
    }

    /// Selects entries `index` along axis 0 (rows of any rank).
    public func indexSelect(_ index: [Int]) throws -> Tensor {
        guard rank >= 1 else { throw HalluError("indexSelect: scalar tensor") }
        let n = shape[0]
        let flat = try reshaped([n, count / Swift.max(n, 1)])
        let rows = try Tensor.embedding(flat, index)
        return try rows.reshaped([index.count] + Array(shape.dropFirst()))
    }

    /// `out[..., 0] = self[..., index[row]]`: one element per row of the last axis.
    public func gatherLastAxis(_ index: [Int]) throws -> Tensor {
        let n = shape.last ?? 0, rows = count / Swift.max(n, 1)
        guard index.count == rows else {
            throw HalluError("gather: \(index.count) indices for \(rows) rows of shape \(shape)")
        }
        for i in index where i < 0 || i >= n { throw HalluError("gather: index \(i) out of range for last axis \(n)") }
        let out = Tensor(uninitializedShape: Array(shape.dropLast()))
        for r in 0..<rows { out.data[r] = data[r * n + index[r]] }
        guard Tensor.recording(self) else { return out }
        out.gradFn = GradFn("gather", [self]) { [shape] g in
            let gi = Tensor.zeros(shape)
            for r in 0..<rows { gi.data[r * n + index[r]] = g.data[r] }
            return [gi]
        }
        return out
    }

    /// Replaces elements where `mask` (broadcast to this shape from its trailing dimensions) is true.
    public func maskedFill(_ mask: [Bool], maskShape: [Int], value: Float) throws -> Tensor {
        guard mask.count == Shape.count(maskShape) else {
            throw HalluError("maskedFill: mask of \(mask.count) values for mask shape \(maskShape)")
        }
        let outShape = try Shape.broadcast(shape, maskShape, op: "maskedFill")
        guard outShape == shape else {
            throw HalluError("maskedFill: mask shape \(maskShape) does not broadcast to \(shape)")
        }
        let rank = shape.count
        let sm = Tensor.broadcastStrides(maskShape, rank: rank, outShape: shape)
        var keep = [Bool](repeating: true, count: count)
        var idx = [Int](repeating: 0, count: rank)
        var im = 0
        for i in 0..<count {
            keep[i] = !mask[im]
            var d = rank - 1
            while d >= 0 {
                idx[d] += 1; im += sm[d]
                if idx[d] < shape[d] { break }
                im -= sm[d] * idx[d]; idx[d] = 0
                d -= 1
            }
        }
        let out = Tensor(uninitializedShape: shape)
        for i in 0..<count { out.data[i] = keep[i] ? data[i] : value }
        guard Tensor.recording(self) else { return out }
        out.gradFn = GradFn("masked_fill", [self]) { [shape] g in
            let gi = Tensor(uninitializedShape: shape)
            for i in 0..<g.count { gi.data[i] = keep[i] ? g.data[i] : 0 }
            return [gi]
        }
        return out
    }
}

extension Tensor {
    /// Sums entries of a rank-1 tensor into `count` buckets: `out[segment[i]] += x[i]`.
    /// Used to turn per-token log-probs into per-sequence sums.
    public func segmentSum(_ segment: [Int], count buckets: Int) throws -> Tensor {
        guard rank == 1, segment.count == shape[0] else {
            throw HalluError("segmentSum: \(segment.count) segment ids for shape \(shape)")
        }
        for s in segment where s < 0 || s >= buckets { throw HalluError("segmentSum: segment \(s) out of range 0..<\(buckets)") }
        let out = Tensor.zeros([buckets])
        for i in 0..<segment.count { out.data[segment[i]] += data[i] }
        guard Tensor.recording(self) else { return out }
        out.gradFn = GradFn("segment_sum", [self]) { [shape] g in
            let gi = Tensor(uninitializedShape: shape)
            for i in 0..<segment.count { gi.data[i] = g.data[segment[i]] }
            return [gi]
        }
        return out
    }
}
