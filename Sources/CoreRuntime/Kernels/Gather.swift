/// Embedding lookups and layout changes.
extension Kernels {
    /// out[i, :] = table[ids[i], :] for `count` ids over a `[vocab, dim]` table.
    /// - Throws: an id outside `[0, vocab)`, naming its position.
    public static func embeddingForward(table: UnsafePointer<Float>, vocab: Int, dim: Int, ids: UnsafePointer<Int32>, count: Int,
                                        out: UnsafeMutablePointer<Float>) throws {
        for i in 0..<count where ids[i] < 0 || Int(ids[i]) >= vocab {
            throw HalluError("embedding: token id \(ids[i]) at position \(i) is outside the vocabulary [0, \(vocab))")
        }
        if dim <= 0 { return }
        Parallel.forEach(count: count, minChunk: max(1, grainSimple / dim)) { r in
            for i in r { (out + i * dim).update(from: table + Int(ids[i]) * dim, count: dim) }
        }
    }

    /// dTable[ids[i], :] += dOut[i, :] (dTable is accumulated into; clear it first for a fresh gradient).
    /// Rows are added in position order for every id, so repeated ids sum deterministically; threads
    /// split the embedding dimension. Ids outside `[0, vocab)` are skipped (forward rejects them).
    public static func embeddingBackward(dOut: UnsafePointer<Float>, ids: UnsafePointer<Int32>, count: Int,
                                         dTable: UnsafeMutablePointer<Float>, vocab: Int, dim: Int) {
        if dim <= 0 || count <= 0 { return }
        Parallel.forEach(count: dim, minChunk: max(8, grainSimple / max(1, count))) { cols in
            for i in 0..<count {
                let id = Int(ids[i])
                if id < 0 || id >= vocab { continue }
                let src = dOut + i * dim, dst = dTable + id * dim
                var c = cols.lowerBound
                while c + 8 <= cols.upperBound { st8(dst + c, ld8(dst + c) + ld8(src + c)); c += 8 }
                while c < cols.upperBound { dst[c] += src[c]; c += 1 }
            }
        }
    }

    /// Swaps the two middle axes: x `[a, b, c, d]` -> y `[a, c, b, d]` (e.g. `[B, T, H, D]` to
    /// `[B, H, T, D]` and back). y must not alias x.
    public static func swapMiddleAxes(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, a: Int, b: Int, c: Int, d: Int) {
        if a <= 0 || b <= 0 || c <= 0 || d <= 0 { return }
        Parallel.forEach(count: a * c, minChunk: max(1, grainSimple / (b * d))) { r in
            for ac in r {
                let i = ac / c, k = ac % c
                for j in 0..<b {
                    (y + ((i * c + k) * b + j) * d).update(from: x + ((i * b + j) * c + k) * d, count: d)
                }
            }
        }
    }
}
