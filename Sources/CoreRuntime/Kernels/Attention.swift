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

    /// The independent problems of an attention call: one per batch row, or, with packed
    /// sequences, one per sequence laid end to end along the length axis of a batch of one (each
    /// attends only within itself). Offsets are in elements from the start of q (and the output),
    /// of k and v, of the probabilities (head 0; head h follows at h·tq·tk) and of the key padding.
    struct AttentionItems {
        let qBase: [Int], kvBase: [Int], probsBase: [Int], padBase: [Int]
        let queryLength: [Int], keyLength: [Int]
        /// Elements of the probabilities of every item and head.
        let probsCount: Int
        /// The largest tq·tk of an item (one head's scores).
        let maxScores: Int

        var count: Int { qBase.count }

        init(_ s: AttentionShape, _ st: AttentionStrides, layout: HeadLayout, sequences: [Int]?) throws {
            let (bN, hN, tq, tk) = (s.batch, s.heads, s.queryLength, s.keyLength)
            guard let sequences else {
                let scores = try CheckedSize.product([tq, tk], "attention scores")
                probsCount = try CheckedSize.product([bN, hN, scores], "attention probabilities")
                qBase = (0..<bN).map { $0 * st.qBatch }; kvBase = (0..<bN).map { $0 * st.kvBatch }
                probsBase = (0..<bN).map { $0 * hN * scores }; padBase = (0..<bN).map { $0 * tk }
                queryLength = Array(repeating: tq, count: bN); keyLength = Array(repeating: tk, count: bN)
                maxScores = scores
                return
            }
            guard bN == 1, layout == .bthd, tq == tk else {
                throw HalluError("attention: packed sequences need a batch of one in the [B, T, H, D] layout with as many "
                    + "queries as keys (got batch \(bN), \(tq) queries, \(tk) keys)")
            }
            // Σ heads·n² <= heads·tq², so checking that bounds every sum below.
            _ = try CheckedSize.product([tq, tq, hN], "attention probabilities")
            var q: [Int] = [], kv: [Int] = [], pb: [Int] = []
            var start = 0, probs = 0, largest = 0
            for n in sequences {
                guard n > 0, n <= tq - start else {
                    throw HalluError("attention: packed sequence lengths \(sequences) do not add up to the \(tq) positions")
                }
                q.append(start * st.qRow); kv.append(start * st.kvRow); pb.append(probs)
                let scores = n * n
                probs += hN * scores; largest = max(largest, scores)
                start += n
            }
            guard start == tq else {
                throw HalluError("attention: packed sequence lengths \(sequences) do not add up to the \(tq) positions")
            }
            qBase = q; kvBase = kv; probsBase = pb; padBase = Array(repeating: 0, count: q.count)
            queryLength = sequences; keyLength = sequences
            probsCount = probs; maxScores = largest
        }
    }

    /// Elements of the probabilities `attentionForward` writes: `batch·heads·queryLength·keyLength`,
    /// or with packed sequences `heads·Σ n²`.
    public static func attentionProbabilityCount(_ s: AttentionShape, sequences: [Int]?) throws -> Int {
        let layout: HeadLayout = sequences == nil ? .bhtd : .bthd
        return try AttentionItems(s, AttentionStrides(s, layout: layout, kvCapacity: s.keyLength), layout: layout,
                                  sequences: sequences).probsCount
    }

    /// Work units (one (batch, head) pair each) per parallel chunk: small problems (a decoding
    /// step) stay on one thread.
    static func attentionMinChunk(_ s: AttentionShape, items: Int) -> Int {
        // Packed sequences (more items than batch rows) average (length / items)^2 scores each.
        let scores = items == s.batch ? s.queryLength * s.keyLength
            : max(1, s.queryLength / max(1, items)) * max(1, s.keyLength / max(1, items))
        return max(1, (1 << 16) / max(1, scores * s.headDim))
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
    ///     query row with no visible key gets P = 0 and out = 0. With packed sequences, P holds
    ///     `[heads, n, n]` for each sequence of length n in turn (`attentionProbabilityCount`).
    ///   - sequences: lengths of sequences packed end to end along the length axis of a batch of
    ///     one (`.bthd`, no key padding, as many queries as keys); each attends only within itself,
    ///     as if it were a batch row of its own without padding. nil for ordinary batch rows.
    ///   - out: with `probs`, nil computes only the probabilities (backward's recomputation).
    public static func attentionForward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                        shape: AttentionShape, scale: Float? = nil, causal: Bool,
                                        keyPadding: UnsafePointer<UInt8>?, layout: HeadLayout = .bhtd,
                                        kvCapacity: Int? = nil, sequences: [Int]? = nil,
                                        out: UnsafeMutablePointer<Float>?, probs: UnsafeMutablePointer<Float>?) throws {
        try shape.validate()
        let (bN, hN, tq, tk, d) = (shape.batch, shape.heads, shape.queryLength, shape.keyLength, shape.headDim)
        let cap = kvCapacity ?? tk
        guard cap >= tk else { throw HalluError("attention: key capacity \(cap) is below the key length \(tk)") }
        guard out != nil || probs != nil else { return }
        if sequences != nil && keyPadding != nil {
            throw HalluError("attention: packed sequences take no key padding")
        }
        let st = AttentionStrides(shape, layout: layout, kvCapacity: cap)
        let rep = shape.groupSize
        if bN == 0 || tq == 0 { return }
        if tk == 0 {
            guard let out else { return }
            for b in 0..<bN { for h in 0..<hN { for i in 0..<tq {
                (out + b * st.qBatch + h * st.qHead + i * st.qRow).update(repeating: 0, count: d)
            } } }
            return
        }
        let items = try AttentionItems(shape, st, layout: layout, sequences: sequences)
        let sc = scale ?? 1 / Float(d).squareRoot()
        Parallel.forEach(count: items.count * hN, minChunk: attentionMinChunk(shape, items: items.count)) { units in
            let scratch: UnsafeMutablePointer<Float>? = probs == nil ? .allocate(capacity: items.maxScores) : nil
            defer { scratch?.deallocate() }
            for u in units {
                let b = u / hN, h = u % hN, g = h / rep
                let tq = items.queryLength[b], tk = items.keyLength[b], offset = tk - tq
                let qp = q + items.qBase[b] + h * st.qHead
                let kp = k + items.kvBase[b] + g * st.kvHead
                let vp = v + items.kvBase[b] + g * st.kvHead
                let p = probs.map { $0 + items.probsBase[b] + h * tq * tk } ?? scratch!
                let banded = causal && tq > GEMM.skinnyRows
                headProduct(band: banded ? .columns(offset: offset) : nil, transA: false, transB: true,
                            m: tq, n: tk, k: d, alpha: sc, a: qp, lda: st.qRow, b: kp, ldb: st.kvRow, beta: 0, c: p, ldc: tk)
                let pad = keyPadding.map { $0 + items.padBase[b] }
                for i in 0..<tq {
                    let row = p + i * tk
                    let visible = visibleKeys(row: i, causal: causal, offset: offset, keyLength: tk)
                    if let pad {
                        for j in 0..<visible where pad[j] == 0 { row[j] = -.infinity }
                    }
                    softmaxRow(row, row, visible)
                    if visible < tk { (row + visible).update(repeating: 0, count: tk - visible) }
                }
                guard let out else { continue }
                headProduct(band: banded ? .kUpTo(offset: offset) : nil, transA: false, transB: false,
                            m: tq, n: d, k: tk, alpha: 1, a: p, lda: tk, b: vp, ldb: st.kvRow,
                            beta: 0, c: out + items.qBase[b] + h * st.qHead, ldc: st.qRow)
            }
        }
    }

    /// Gradients of `attentionForward` from the saved probabilities P.
    ///
    /// dv = Pᵀ dO and dk = dSᵀ q (both summed over the query heads sharing a kv head), dq = dS k,
    /// where dS = scale · P ⊙ (dO vᵀ - rowsum(P ⊙ dO vᵀ)). Masked entries have P = 0 and get no
    /// gradient. Parallel over (batch row or packed sequence, kv head), so the sums over a group
    /// run in head order. dq, dk, dv are overwritten; dOut and dq have q's layout, dk and dv k's
    /// (with `keyLength` as their length). `causal` and `sequences` are the forward pass's; with
    /// `causal`, the products skip the masked half (the probabilities there must be the forward
    /// pass's zeros).
    public static func attentionBackward(dOut: UnsafePointer<Float>, probs: UnsafePointer<Float>,
                                         q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                         shape: AttentionShape, scale: Float? = nil, causal: Bool = false,
                                         layout: HeadLayout = .bhtd, sequences: [Int]? = nil,
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
        let items = try AttentionItems(shape, st, layout: layout, sequences: sequences)
        let sc = scale ?? 1 / Float(d).squareRoot()
        let minChunk = max(1, attentionMinChunk(shape, items: items.count) / max(1, rep))
        Parallel.forEach(count: items.count * hkv, minChunk: minChunk) { units in
            let ds = UnsafeMutablePointer<Float>.allocate(capacity: items.maxScores)
            defer { ds.deallocate() }
            for u in units {
                let b = u / hkv, g = u % hkv
                let tq = items.queryLength[b], tk = items.keyLength[b], offset = tk - tq
                let banded = causal && tq > GEMM.skinnyRows
                let kvOff = items.kvBase[b] + g * st.kvHead
                let kp = k + kvOff, vp = v + kvOff
                let dkp = dk + kvOff, dvp = dv + kvOff
                for r in 0..<rep {
                    let h = g * rep + r
                    let p = probs + items.probsBase[b] + h * tq * tk
                    let qOff = items.qBase[b] + h * st.qHead
                    let dop = dOut + qOff, qp = q + qOff
                    let beta: Float = r == 0 ? 0 : 1
                    headProduct(band: banded ? .kFrom(offset: offset) : nil, transA: true, transB: false,
                                m: tk, n: d, k: tq, alpha: 1, a: p, lda: tk, b: dop, ldb: st.qRow, beta: beta, c: dvp, ldc: st.kvRow)
                    headProduct(band: banded ? .columns(offset: offset) : nil, transA: false, transB: true,
                                m: tq, n: tk, k: d, alpha: 1, a: dop, lda: st.qRow, b: vp, ldb: st.kvRow, beta: 0, c: ds, ldc: tk)
                    for i in 0..<tq {
                        // Past a causal row's visible keys P = 0, so dS = 0 (and a banded product left it unwritten).
                        let pr = p + i * tk, dr = ds + i * tk
                        let visible = visibleKeys(row: i, causal: causal, offset: offset, keyLength: tk)
                        let dot = V8(repeating: rowDot(pr, dr, visible))
                        let s = V8(repeating: sc)
                        var j = 0
                        while j + 8 <= visible { st8(dr + j, s * ld8(pr + j) * (ld8(dr + j) - dot)); j += 8 }
                        while j < visible { dr[j] = sc * pr[j] * (dr[j] - dot[0]); j += 1 }
                        if visible < tk { (dr + visible).update(repeating: 0, count: tk - visible) }
                    }
                    headProduct(band: banded ? .kUpTo(offset: offset) : nil, transA: false, transB: false,
                                m: tq, n: d, k: tk, alpha: 1, a: ds, lda: tk, b: kp, ldb: st.kvRow, beta: 0, c: dq + qOff, ldc: st.qRow)
                    headProduct(band: banded ? .kFrom(offset: offset) : nil, transA: true, transB: false,
                                m: tk, n: d, k: tq, alpha: 1, a: ds, lda: tk, b: qp, ldb: st.qRow, beta: beta, c: dkp, ldc: st.kvRow)
                }
            }
        }
    }

    /// Keys query `row` sees: with `causal`, keys 0...row + offset (offset = keys - queries).
    @inline(__always)
    static func visibleKeys(row: Int, causal: Bool, offset: Int, keyLength: Int) -> Int {
        causal ? max(0, min(keyLength, row + offset + 1)) : keyLength
    }

    /// One (sequence, head) product of attention on this thread. With a band (causal attention
    /// over more than a few query rows) the built-in kernel computes only what the mask leaves
    /// (`GEMM.CausalBand`); otherwise the ordinary single-threaded product.
    @inline(__always)
    static func headProduct(band: GEMM.CausalBand?, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard let band else {
            BLAS.sgemmSerial(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                             b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        GEMM.serial(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                    beta: beta, c: c, ldc: ldc, band: band)
    }
}
