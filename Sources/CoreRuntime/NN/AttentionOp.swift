import Foundation

/// Scaled dot-product attention as one fused op (`Kernels.attentionForward`), with causal and
/// key-padding masks and grouped-query heads. The probabilities are kept only when a graph is
/// recorded (the backward pass needs them) or when the caller asks for them.
extension Tensor {
    /// `q [B, H, Tq, D]`, `k, v [B, Hkv, Tk, D]` (H a multiple of Hkv). With `causal`, query i sees keys
    /// j <= i + (Tk - Tq). `keyMask` (B*Tk entries, true = attend) masks padding. Fully masked rows
    /// give zeros. Returns the output `[B, H, Tq, D]` and the probabilities `[B, H, Tq, Tk]`.
    public static func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, causal: Bool, keyMask: [Bool]? = nil,
                                 scale: Float? = nil) throws -> (output: Tensor, weights: Tensor) {
        let (out, probs) = try attentionCore(q, k, v, layout: .bhtd, causal: causal, keyMask: keyMask, scale: scale,
                                             keyLength: nil, keepWeights: true)
        return (out, probs!)
    }

    /// Attention over tensors laid out as `layout` says, returning only the output (same layout as
    /// q). With `.bthd`, q is `[B, Tq, H, D]` and k, v are `[B, C, Hkv, D]`: exactly what the
    /// projections produce after a free reshape, so no transposes are needed on either side.
    ///
    /// `keyLength` (default: all C) reads only the first keys of k and v, as from a preallocated
    /// key/value cache; it must be C when gradients are recorded. `keyMask` has B*keyLength entries.
    /// With `recomputeProbabilities`, the backward pass recomputes the probabilities from q and k
    /// instead of keeping them (`[B, H, Tq, Tk]`, often the largest activation of a block).
    ///
    /// `sequences` runs padding-free: q, k, v are `[1, N, H, D]` holding sequences of these lengths
    /// end to end (summing to N), and each attends only within itself, exactly as if it were a
    /// batch row of its own with no padding (no `keyMask` then).
    public static func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, layout: Kernels.HeadLayout, causal: Bool,
                                 keyMask: [Bool]? = nil, scale: Float? = nil, keyLength: Int? = nil,
                                 recomputeProbabilities: Bool = false, sequences: [Int]? = nil) throws -> Tensor {
        try attentionCore(q, k, v, layout: layout, causal: causal, keyMask: keyMask, scale: scale,
                          keyLength: keyLength, keepWeights: false, recomputeProbabilities: recomputeProbabilities,
                          sequences: sequences).output
    }

    static func attentionCore(_ q: Tensor, _ k: Tensor, _ v: Tensor, layout: Kernels.HeadLayout, causal: Bool,
                              keyMask: [Bool]?, scale: Float?, keyLength: Int?, keepWeights: Bool,
                              recomputeProbabilities: Bool = false, sequences: [Int]? = nil) throws -> (output: Tensor, weights: Tensor?) {
        guard q.rank == 4, k.rank == 4, v.rank == 4, k.shape == v.shape, q.shape[0] == k.shape[0], q.shape[3] == k.shape[3] else {
            throw HalluError("attention: incompatible shapes q \(q.shape), k \(k.shape), v \(v.shape)")
        }
        let hAxis = layout == .bhtd ? 1 : 2, tAxis = layout == .bhtd ? 2 : 1
        let (b, h, tq, d) = (q.shape[0], q.shape[hAxis], q.shape[tAxis], q.shape[3])
        let (hkv, capacity) = (k.shape[hAxis], k.shape[tAxis])
        guard hkv > 0, h % hkv == 0 else {
            throw HalluError("attention: incompatible shapes q \(q.shape), k \(k.shape), v \(v.shape)")
        }
        let tk = keyLength ?? capacity
        guard tk >= 0 && tk <= capacity else {
            throw HalluError("attention: key length \(tk) outside the \(capacity) cached keys")
        }
        if let keyMask, keyMask.count != b * tk {
            throw HalluError("attention: key mask of \(keyMask.count) entries for batch \(b) x keys \(tk)")
        }
        let record = recording([q, k, v])
        if record && tk != capacity {
            throw HalluError("attention: gradients need every key (key length \(tk) of \(capacity))")
        }
        if sequences != nil && (keyMask != nil || keyLength != nil || keepWeights) {
            throw HalluError("attention: packed sequences take no key mask, key length or kept weights")
        }
        let shape = Kernels.AttentionShape(batch: b, heads: h, kvHeads: hkv, queryLength: tq, keyLength: tk, headDim: d)
        // Packed sequences keep [H, n, n] per sequence, end to end.
        let probsShape = try sequences.map { [try Kernels.attentionProbabilityCount(shape, sequences: $0)] } ?? [b, h, tq, tk]
        let out = Tensor(uninitializedShape: q.shape)
        let keep = keepWeights || (record && !recomputeProbabilities)
        let probs = keep ? Tensor(uninitializedShape: probsShape) : nil
        let pad: [UInt8]? = keyMask.map { m in m.map { $0 ? 1 : 0 } }
        func forward(out: Tensor?, probs: Tensor?) throws {
            try withOptionalBytes(pad) { padPtr in
                try Kernels.attentionForward(q: q.data, k: k.data, v: v.data, shape: shape, scale: scale, causal: causal,
                                             keyPadding: padPtr, layout: layout, kvCapacity: capacity, sequences: sequences,
                                             out: out?.data, probs: probs?.data)
            }
        }
        try forward(out: out, probs: probs)
        guard record else { return (out, probs) }
        out.gradFn = GradFn("attention", [q, k, v]) { g in
            // Recomputed probabilities are the forward pass's: the same kernel on the same q, k.
            let probs = try probs ?? {
                let p = Tensor(uninitializedShape: probsShape)
                try forward(out: nil, probs: p)
                return p
            }()
            let gq = Tensor(uninitializedShape: q.shape), gk = Tensor(uninitializedShape: k.shape)
            let gv = Tensor(uninitializedShape: v.shape)
            try Kernels.attentionBackward(dOut: g.data, probs: probs.data, q: q.data, k: k.data, v: v.data, shape: shape,
                                          scale: scale, causal: causal, layout: layout, sequences: sequences,
                                          dq: gq.data, dk: gk.data, dv: gv.data)
            return [q.isTracked ? gq : nil, k.isTracked ? gk : nil, v.isTracked ? gv : nil]
        }
        return (out, probs)
    }
}

/// Calls `body` with a pointer to the bytes, or nil.
@inline(__always)
func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafePointer<UInt8>?) throws -> R) rethrows -> R {
    guard let bytes else { return try body(nil) }
    return try bytes.withUnsafeBufferPointer { try body($0.baseAddress) }
}
