import Foundation

/// Cross-entropy fused with its softmax: no `[N, V]` log-probability copy is ever stored; the
/// backward pass recomputes probabilities from the logits and the saved per-row logsumexp.
extension Tensor {
    /// Target value that marks a position as unsupervised.
    public static let ignoreIndex = -100

    /// Per-row `-log softmax(logits)[target]` for `logits [N, V]`. Rows whose target is `ignoreIndex`
    /// give 0 and no gradient. `excluded[r] >= 0` leaves that column out of row r's softmax unless it
    /// is the target (Selective EOS: the EOS logit at non-EOS positions). Returns `[N]`.
    public static func crossEntropyRows(_ logits: Tensor, targets: [Int], excluded: [Int]? = nil) throws -> Tensor {
        guard logits.rank == 2 else { throw HalluError("crossEntropy: logits must be [N, V], got \(logits.shape)") }
        let (n, v) = (logits.shape[0], logits.shape[1])
        guard targets.count == n else { throw HalluError("crossEntropy: \(targets.count) targets for logits \(logits.shape)") }
        if let excluded, excluded.count != n { throw HalluError("crossEntropy: \(excluded.count) excluded entries for \(n) rows") }
        for t in targets where t != ignoreIndex && (t < 0 || t >= v) {
            throw HalluError("crossEntropy: target \(t) out of range for vocabulary \(v)")
        }
        let out = Tensor.zeros([n])
        var lse = [Float](repeating: 0, count: n)
        for r in 0..<n where targets[r] != ignoreIndex {
            let x = logits.data + r * v
            let skip = excluded.map { $0[r] >= 0 && $0[r] != targets[r] ? $0[r] : -1 } ?? -1
            var m = -Float.infinity
            for j in 0..<v where j != skip { m = Swift.max(m, x[j]) }
            var s: Float = 0
            for j in 0..<v where j != skip { s += Foundation.exp(x[j] - m) }
            lse[r] = m + Foundation.log(s)
            out.data[r] = lse[r] - x[targets[r]]
        }
        return record(out, "cross_entropy", [logits]) { g in
            let gl = Tensor.zeros(logits.shape)
            for r in 0..<n where targets[r] != ignoreIndex {
                let x = logits.data + r * v, dx = gl.data + r * v, gr = g.data[r]
                if gr == 0 { continue }
                let skip = excluded.map { $0[r] >= 0 && $0[r] != targets[r] ? $0[r] : -1 } ?? -1
                for j in 0..<v where j != skip { dx[j] = gr * Foundation.exp(x[j] - lse[r]) }
                dx[targets[r]] -= gr
            }
            return [gl]
        }
    }

    /// Mean cross-entropy over the supervised rows (PyTorch's `reduction="mean"` with ignore_index).
    public static func crossEntropy(_ logits: Tensor, targets: [Int], excluded: [Int]? = nil) throws -> Tensor {
        let rows = try crossEntropyRows(logits, targets: targets, excluded: excluded)
        let valid = targets.filter { $0 != ignoreIndex }.count
        return rows.sum().scaled(1 / Float(Swift.max(valid, 1)))
    }
}

extension Tensor {
    /// Inverted dropout with a seeded mask: elements survive with probability 1-p and are scaled by 1/(1-p).
    public func dropout(_ p: Float, rng: inout SeededRNG) throws -> Tensor {
        guard p >= 0 && p < 1 else { throw HalluError("dropout: probability \(p) must be in [0, 1)") }
        if p == 0 { return self }
        let scale = 1 / (1 - p)
        let mask = Tensor(uninitializedShape: shape)
        for i in 0..<count { mask.data[i] = rng.nextFloat() < p ? 0 : scale }
        return try self * mask
    }
}
