import Foundation

/// Cross-entropy fused with its softmax (`Kernels.crossEntropyForward`): no `[N, V]`
/// log-probability copy is ever stored; the backward pass recomputes probabilities from the logits
/// and the saved per-row logsumexp.
extension Tensor {
    /// Target value that marks a position as unsupervised.
    public static let ignoreIndex = -100

    /// Per-row `-log softmax(logits)[target]` for `logits [N, V]`. Rows whose target is `ignoreIndex`
    /// give 0 and no gradient. `excluded[r] >= 0` leaves that column out of row r's softmax unless it
    /// is the target (e.g. the EOS logit at non-EOS positions); a negative entry excludes
    /// nothing. Returns `[N]`.
    public static func crossEntropyRows(_ logits: Tensor, targets: [Int], excluded: [Int]? = nil) throws -> Tensor {
        guard logits.rank == 2 else { throw HalluError("crossEntropy: logits must be [N, V], got \(logits.shape)") }
        let (n, v) = (logits.shape[0], logits.shape[1])
        guard targets.count == n else { throw HalluError("crossEntropy: \(targets.count) targets for logits \(logits.shape)") }
        if let excluded, excluded.count != n { throw HalluError("crossEntropy: \(excluded.count) excluded entries for \(n) rows") }
        var t32 = [Int32](repeating: Int32(ignoreIndex), count: n)
        for (r, t) in targets.enumerated() where t != ignoreIndex {
            guard t >= 0 && t < v else { throw HalluError("crossEntropy: target \(t) out of range for vocabulary \(v)") }
            t32[r] = Int32(t)
        }
        let ex32: [Int32]? = try excluded.map { ex in
            try ex.map { e in
                guard e < v else { throw HalluError("crossEntropy: excluded column \(e) out of range for vocabulary \(v)") }
                return e < 0 ? -1 : Int32(e)
            }
        }
        let out = Tensor(uninitializedShape: [n])
        let lse = Tensor(uninitializedShape: [n])
        _ = try t32.withUnsafeBufferPointer { tp in
            try withOptionalInt32(ex32) { ep in
                try Kernels.crossEntropyForward(logits: logits.data, rows: n, vocab: v, targets: tp.baseAddress!, excluded: ep,
                                                ignoreIndex: Int32(ignoreIndex), loss: out.data, lse: lse.data)
            }
        }
        guard recording(logits) else { return out }
        out.gradFn = GradFn("cross_entropy", [logits]) { g in
            let gl = Tensor(uninitializedShape: logits.shape)
            t32.withUnsafeBufferPointer { tp in
                withOptionalInt32(ex32) { ep in
                    Kernels.crossEntropyBackward(logits: logits.data, rows: n, vocab: v, targets: tp.baseAddress!, excluded: ep,
                                                 ignoreIndex: Int32(ignoreIndex), lse: lse.data, gradScale: g.data,
                                                 dLogits: gl.data)
                }
            }
            return [gl]
        }
        return out
    }

    /// Mean cross-entropy over the supervised rows (PyTorch's `reduction="mean"` with ignore_index).
    public static func crossEntropy(_ logits: Tensor, targets: [Int], excluded: [Int]? = nil) throws -> Tensor {
        let rows = try crossEntropyRows(logits, targets: targets, excluded: excluded)
        let valid = targets.filter { $0 != ignoreIndex }.count
        return rows.sum().scaled(1 / Float(Swift.max(valid, 1)))
    }
}

extension Tensor {
    /// Inverted dropout: elements survive with probability 1-p and are scaled by 1/(1-p). The mask
    /// is a pure function of one draw from `rng` and the element index (`Kernels.dropoutForward`),
    /// so it is the same for any thread count and is recomputed, not stored, for the backward pass.
    public func dropout(_ p: Float, rng: inout SeededRNG) throws -> Tensor {
        guard p >= 0 && p < 1 else { throw HalluError("dropout: probability \(p) must be in [0, 1)") }
        if p == 0 { return self }
        let seed = rng.next()
        let out = Tensor(uninitializedShape: shape)
        Kernels.dropoutForward(x: data, y: out.data, count: count, p: p, seed: seed)
        guard Tensor.recording(self) else { return out }
        out.gradFn = GradFn("dropout", [self]) { [shape, count] g in
            let gi = Tensor(uninitializedShape: shape)
            Kernels.dropoutBackward(dy: g.data, dx: gi.data, count: count, p: p, seed: seed)
            return [gi]
        }
        return out
    }
}

/// Calls `body` with a pointer to the values, or nil.
@inline(__always)
func withOptionalInt32<R>(_ values: [Int32]?, _ body: (UnsafePointer<Int32>?) throws -> R) rethrows -> R {
    guard let values else { return try body(nil) }
    return try values.withUnsafeBufferPointer { try body($0.baseAddress) }
}
