import Foundation

extension Kernels {
    /// Sizes of a scaled-dot-product attention call.
    ///
    /// q and the output are `[batch, heads, queryLength, headDim]`; k and v are
    /// `[batch, kvHeads, keyLength, headDim]`; probabilities are `[batch, heads, queryLength, keyLength]`.
    /// Grouped-query attention: query head h reads kv head `h / (heads / kvHeads)`.
    public struct AttentionShape: Sendable, Equatable {
        public var batch: Int
        public var heads: Int
        public var kvHeads: Int
        public var queryLength: Int
        public var keyLength: Int
        public var headDim: Int

        public init(batch: Int, heads: Int, kvHeads: Int, queryLength: Int, keyLength: Int, headDim: Int) {
            self.batch = batch; self.heads = heads; self.kvHeads = kvHeads
            self.queryLength = queryLength; self.keyLength = keyLength; self.headDim = headDim
        }

        /// Query heads per kv head.
        public var groupSize: Int { heads / max(1, kvHeads) }

        func validate() throws {
            guard batch >= 0, queryLength >= 0, keyLength >= 0, headDim > 0, heads > 0, kvHeads > 0 else {
                throw HalluError("attention: invalid sizes \(self)")
            }
            guard heads % kvHeads == 0 else {
                throw HalluError("attention: \(heads) query heads are not a multiple of \(kvHeads) key/value heads")
            }
        }
    }

    /// Memory layout of q, k, v and the output (and their gradients).
    ///
    /// - `bhtd`: `[batch, heads, length, headDim]`, Hugging Face's layout after `transpose(1, 2)`.
    /// - `bthd`: `[batch, length, heads, headDim]`, the layout straight out of the projections, so
    ///   no transpose is needed before or after attention.
    ///
    /// `kvCapacity` (at least `keyLength`) is the length dimension k and v are allocated with: a
    /// key/value cache holds room for positions not written yet, and only the first `keyLength`
    /// are read.
    struct AttentionStrides {
        let qBatch, qHead, qRow: Int
        let kvBatch, kvHead, kvRow: Int

        init(_ s: AttentionShape, layout: HeadLayout, kvCapacity: Int) {
            let d = s.headDim
            switch layout {
            case .bhtd:
                qBatch = s.heads * s.queryLength * d; qHead = s.queryLength * d; qRow = d
                kvBatch = s.kvHeads * kvCapacity * d; kvHead = kvCapacity * d; kvRow = d
            case .bthd:
                qBatch = s.queryLength * s.heads * d; qHead = d; qRow = s.heads * d
                kvBatch = kvCapacity * s.kvHeads * d; kvHead = d; kvRow = s.kvHeads * d
            }
        }
    }

    /// Work units (one (batch, head) pair each) per parallel chunk: small problems (a decoding
    /// step) stay on one thread.
    static func attentionMinChunk(_ s: AttentionShape) -> Int {
        max(1, (1 << 16) / max(1, s.queryLength * s.keyLength * s.headDim))
    }

    /// Fused attention forward: P = softmax(scale · q kᵀ + mask), out = P v, per (batch, head),
    /// parallel over (batch, head).
    ///
    /// - Parameters:
    ///   - scale: default 1/√headDim.
    ///   - causal: query i sees keys j <= i + (keyLength - queryLength) (the queries are the last
    ///     `queryLength` positions of the keys, as with a kv cache).
    ///   - keyPadding: `[batch, keyLength]`, 1 = attend, 0 = padding; nil for none.
    ///   - layout: how q, k, v and out are laid out (see `HeadLayout`); out has q's layout.
    ///   - kvCapacity: the allocated length of k and v (default `keyLength`).
    ///   - out: `[batch, heads, queryLength, headDim]` (or `[batch, queryLength, heads, headDim]`).
    ///   - probs: receives P `[batch, heads, queryLength, keyLength]` (needed by
    ///     `attentionBackward`; also usable as attention weights), or nil to use scratch memory. A
    ///     query row with no visible key gets P = 0 and out = 0.
    public static func attentionForward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                        shape: AttentionShape, scale: Float? = nil, causal: Bool,
                                        keyPadding: UnsafePointer<UInt8>?, layout: HeadLayout = .bhtd,
                                        kvCapacity: Int? = nil, out: UnsafeMutablePointer<Float>,
                                        probs: UnsafeMutablePointer<Float>?) throws {
        try shape.validate()
        let (bN, hN, tq, tk, d) = (shape.batch, shape.heads, shape.queryLength, shape.keyLength, shape.headDim)
        let cap = kvCapacity ?? tk
        guard cap >= tk else { throw HalluError("attention: key capacity \(cap) is below the key length \(tk)") }
        let st = AttentionStrides(shape, layout: layout, kvCapacity: cap)
        let rep = shape.groupSize
        if bN == 0 || tq == 0 { return }
        if tk == 0 {
            for b in 0..<bN { for h in 0..<hN { for i in 0..<tq {
                (out + b * st.qBatch + h * st.qHead + i * st.qRow).update(repeating: 0, count: d)
            } } }
            return
        }
        let sc = scale ?? 1 / Float(d).squareRoot()
        let offset = tk - tq
        Parallel.forEach(count: bN * hN, minChunk: attentionMinChunk(shape)) { units in
            let scratch: UnsafeMutablePointer<Float>? = probs == nil ? .allocate(capacity: tq * tk) : nil
            defer { scratch?.deallocate() }
            for u in units {
                let b = u / hN, h = u % hN, g = h / rep
                let qp = q + b * st.qBatch + h * st.qHead
                let kp = k + b * st.kvBatch + g * st.kvHead
                let vp = v + b * st.kvBatch + g * st.kvHead
                let p = probs.map { $0 + u * tq * tk } ?? scratch!
                BLAS.sgemmSerial(transA: false, transB: true, m: tq, n: tk, k: d, alpha: sc, a: qp, lda: st.qRow,
                                 b: kp, ldb: st.kvRow, beta: 0, c: p, ldc: tk)
                let pad = keyPadding.map { $0 + b * tk }
                for i in 0..<tq {
                    let row = p + i * tk
                    let visible = causal ? max(0, min(tk, i + offset + 1)) : tk
                    if let pad {
                        for j in 0..<visible where pad[j] == 0 { row[j] = -.infinity }
                    }
                    softmaxRow(row, row, visible)
                    if visible < tk { (row + visible).update(repeating: 0, count: tk - visible) }
                }
                BLAS.sgemmSerial(transA: false, transB: false, m: tq, n: d, k: tk, alpha: 1, a: p, lda: tk,
                                 b: vp, ldb: st.kvRow, beta: 0, c: out + b * st.qBatch + h * st.qHead, ldc: st.qRow)
            }
        }
    }

    /// Gradients of `attentionForward` from the saved probabilities P.
    ///
    /// dv = Pᵀ dO and dk = dSᵀ q (both summed over the query heads sharing a kv head), dq = dS k,
    /// where dS = scale · P ⊙ (dO vᵀ - rowsum(P ⊙ dO vᵀ)). Masked entries have P = 0 and get no
    /// gradient. Parallel over (batch, kv head), so the sums over a group run in head order.
    /// dq, dk, dv are overwritten; dOut and dq have q's layout, dk and dv k's (with `keyLength`
    /// as their length).
    public static func attentionBackward(dOut: UnsafePointer<Float>, probs: UnsafePointer<Float>,
                                         q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                         shape: AttentionShape, scale: Float? = nil, layout: HeadLayout = .bhtd,
                                         dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
                                         dv: UnsafeMutablePointer<Float>) throws {
        try shape.validate()
        let (bN, hN, tq, tk, d) = (shape.batch, shape.heads, shape.queryLength, shape.keyLength, shape.headDim)
        let rep = shape.groupSize, hkv = shape.kvHeads
        if bN == 0 { return }
        if tq == 0 || tk == 0 {
            dq.update(repeating: 0, count: bN * hN * tq * d)
            dk.update(repeating: 0, count: bN * hkv * tk * d)
            dv.update(repeating: 0, count: bN * hkv * tk * d)
            return
        }
        let st = AttentionStrides(shape, layout: layout, kvCapacity: tk)
        let sc = scale ?? 1 / Float(d).squareRoot()
        Parallel.forEach(count: bN * hkv, minChunk: max(1, attentionMinChunk(shape) / max(1, rep))) { units in
            let ds = UnsafeMutablePointer<Float>.allocate(capacity: tq * tk)
            defer { ds.deallocate() }
            for u in units {
                let b = u / hkv, g = u % hkv
                let kvOff = b * st.kvBatch + g * st.kvHead
                let kp = k + kvOff, vp = v + kvOff
                let dkp = dk + kvOff, dvp = dv + kvOff
                for r in 0..<rep {
                    let h = g * rep + r
                    let p = probs + (b * hN + h) * tq * tk
                    let qOff = b * st.qBatch + h * st.qHead
                    let dop = dOut + qOff, qp = q + qOff
                    let beta: Float = r == 0 ? 0 : 1
                    BLAS.sgemmSerial(transA: true, transB: false, m: tk, n: d, k: tq, alpha: 1, a: p, lda: tk,
                                     b: dop, ldb: st.qRow, beta: beta, c: dvp, ldc: st.kvRow)
                    BLAS.sgemmSerial(transA: false, transB: true, m: tq, n: tk, k: d, alpha: 1, a: dop, lda: st.qRow,
                                     b: vp, ldb: st.kvRow, beta: 0, c: ds, ldc: tk)
                    for i in 0..<tq {
                        let pr = p + i * tk, dr = ds + i * tk
                        let dot = V8(repeating: rowDot(pr, dr, tk))
                        let s = V8(repeating: sc)
                        var j = 0
                        while j + 8 <= tk { st8(dr + j, s * ld8(pr + j) * (ld8(dr + j) - dot)); j += 8 }
                        while j < tk { dr[j] = sc * pr[j] * (dr[j] - dot[0]); j += 1 }
                    }
                    BLAS.sgemmSerial(transA: false, transB: false, m: tq, n: d, k: tk, alpha: 1, a: ds, lda: tk,
                                     b: kp, ldb: st.kvRow, beta: 0, c: dq + qOff, ldc: st.qRow)
                    BLAS.sgemmSerial(transA: true, transB: false, m: tk, n: d, k: tq, alpha: 1, a: ds, lda: tk,
                                     b: qp, ldb: st.qRow, beta: beta, c: dkp, ldc: st.kvRow)
                }
            }
        }
    }
}
