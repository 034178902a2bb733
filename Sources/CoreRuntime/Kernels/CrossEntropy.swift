import Foundation

/// Fused cross-entropy and target log-probabilities over logits `[rows, vocab]`.
///
/// Neither direction materialises log-probabilities: forward keeps one logsumexp per row, and
/// backward writes softmax - onehot straight into the gradient buffer.
///
/// Per-row excluded column (a token objective may leave the EOS logit out where the target is not EOS): with `excluded[r] = e >= 0` and `e != targets[r]`,
/// logit e is left out of row r's softmax, exactly like setting it to -inf, and gets zero gradient.
/// `-1` excludes nothing. A row whose target is `ignoreIndex` has loss 0, lse 0 and zero gradient.
extension Kernels {
    /// Checks targets and excluded columns; returns the number of rows not ignored.
    static func validateTargets(rows: Int, vocab: Int, targets: UnsafePointer<Int32>, excluded: UnsafePointer<Int32>?,
                                ignoreIndex: Int32) throws -> Int {
        var kept = 0
        for r in 0..<rows {
            let t = targets[r]
            if t == ignoreIndex { continue }
            guard t >= 0 && Int(t) < vocab else {
                throw HalluError("cross-entropy: target \(t) at row \(r) is outside the vocabulary [0, \(vocab)) and is not the ignore index \(ignoreIndex)")
            }
            if let ex = excluded {
                let e = ex[r]
                guard e == -1 || (e >= 0 && Int(e) < vocab) else {
                    throw HalluError("cross-entropy: excluded column \(e) at row \(r) is outside the vocabulary [0, \(vocab)) and is not -1")
                }
            }
            kept += 1
        }
        return kept
    }

    /// The column to leave out of row r's softmax, or -1.
    @inline(__always)
    static func excludedColumn(_ excluded: UnsafePointer<Int32>?, _ r: Int, target: Int32, vocab: Int) -> Int {
        guard let ex = excluded else { return -1 }
        let e = ex[r]
        return e >= 0 && e != target && Int(e) < vocab ? Int(e) : -1
    }

    /// logsumexp of a row with column `skip` (or none, -1) left out.
    @inline(__always)
    static func rowLogSumExp(_ x: UnsafePointer<Float>, _ n: Int, skip: Int) -> Float {
        if skip < 0 { return rowLogSumExp(x, n) }
        let m = max(rowMax(x, skip), rowMax(x + skip + 1, n - skip - 1))
        if m == -.infinity || m == .infinity { return m }
        let s = expShiftSumOnly(x, skip, shift: m) + expShiftSumOnly(x + skip + 1, n - skip - 1, shift: m)
        return m + Foundation.log(s)
    }

    /// Per-row cross-entropy: loss[r] = lse[r] - logits[r, target[r]].
    ///
    /// - Parameters:
    ///   - excluded: `[rows]` column to leave out of each row's softmax (-1 = none), or nil.
    ///   - loss, lse: `[rows]` outputs; lse is what `crossEntropyBackward` needs.
    /// - Returns: the number of rows whose target is not `ignoreIndex`.
    /// - Throws: a target outside `[0, vocab)` that is not `ignoreIndex`, or an excluded column
    ///   outside `[0, vocab)` that is not -1.
    @discardableResult
    public static func crossEntropyForward(logits: UnsafePointer<Float>, rows: Int, vocab: Int,
                                           targets: UnsafePointer<Int32>, excluded: UnsafePointer<Int32>? = nil,
                                           ignoreIndex: Int32 = -100,
                                           loss: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>) throws -> Int {
        let kept = try validateTargets(rows: rows, vocab: vocab, targets: targets, excluded: excluded, ignoreIndex: ignoreIndex)
        if vocab <= 0 { return kept }
        rowChunks(rows: rows, cols: vocab) { r in
            let t = targets[r]
            if t == ignoreIndex { loss[r] = 0; lse[r] = 0; return }
            let x = logits + r * vocab
            let l = rowLogSumExp(x, vocab, skip: excludedColumn(excluded, r, target: t, vocab: vocab))
            lse[r] = l
            loss[r] = l - x[Int(t)]
        }
        return kept
    }

    /// dLogits[r, j] = (softmax'(logits[r])_j - [j == target]) · gradScale[r], where softmax' leaves
    /// out the excluded column (which gets 0). Ignored rows get 0. With `accumulate`, the gradient is
    /// added to dLogits instead. dLogits may alias logits (not with `accumulate`).
    public static func crossEntropyBackward(logits: UnsafePointer<Float>, rows: Int, vocab: Int,
                                            targets: UnsafePointer<Int32>, excluded: UnsafePointer<Int32>? = nil,
                                            ignoreIndex: Int32 = -100, lse: UnsafePointer<Float>,
                                            gradScale: UnsafePointer<Float>, dLogits: UnsafeMutablePointer<Float>,
                                            accumulate: Bool = false) {
        softmaxMinusOneHot(logits: logits, rows: rows, vocab: vocab, targets: targets, excluded: excluded,
                           ignoreIndex: ignoreIndex, lse: lse, scale: gradScale, negate: false,
                           dLogits: dLogits, accumulate: accumulate)
    }

    /// Per-row log-probability of the target: logProb[r] = logits[r, target[r]] - lse[r] (0 for
    /// ignored rows), with the same excluded-column rule as `crossEntropyForward`. DPO's sequence
    /// log-probabilities are sums of these. Returns the number of rows not ignored.
    @discardableResult
    public static func targetLogProbForward(logits: UnsafePointer<Float>, rows: Int, vocab: Int,
                                            targets: UnsafePointer<Int32>, excluded: UnsafePointer<Int32>? = nil,
                                            ignoreIndex: Int32 = -100,
                                            logProb: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>) throws -> Int {
        let kept = try crossEntropyForward(logits: logits, rows: rows, vocab: vocab, targets: targets, excluded: excluded,
                                           ignoreIndex: ignoreIndex, loss: logProb, lse: lse)
        for r in 0..<rows { logProb[r] = -logProb[r] }
        return kept
    }

    /// dLogits[r, j] = ([j == target] - softmax'(logits[r])_j) · dLogProb[r]; ignored rows get 0.
    public static func targetLogProbBackward(logits: UnsafePointer<Float>, rows: Int, vocab: Int,
                                             targets: UnsafePointer<Int32>, excluded: UnsafePointer<Int32>? = nil,
                                             ignoreIndex: Int32 = -100, lse: UnsafePointer<Float>,
                                             dLogProb: UnsafePointer<Float>, dLogits: UnsafeMutablePointer<Float>,
                                             accumulate: Bool = false) {
        softmaxMinusOneHot(logits: logits, rows: rows, vocab: vocab, targets: targets, excluded: excluded,
                           ignoreIndex: ignoreIndex, lse: lse, scale: dLogProb, negate: true,
                           dLogits: dLogits, accumulate: accumulate)
    }

    private static func softmaxMinusOneHot(logits: UnsafePointer<Float>, rows: Int, vocab: Int,
                                           targets: UnsafePointer<Int32>, excluded: UnsafePointer<Int32>?,
                                           ignoreIndex: Int32, lse: UnsafePointer<Float>, scale: UnsafePointer<Float>,
                                           negate: Bool, dLogits: UnsafeMutablePointer<Float>, accumulate: Bool) {
        rowChunks(rows: rows, cols: vocab) { r in
            let x = logits + r * vocab, out = dLogits + r * vocab
            let t = targets[r]
            guard t != ignoreIndex, t >= 0, Int(t) < vocab, lse[r].isFinite else {
                if !accumulate { out.update(repeating: 0, count: vocab) }
                return
            }
            let g = negate ? -scale[r] : scale[r]
            let xt = x[Int(t)]
            let skip = excludedColumn(excluded, r, target: t, vocab: vocab)
            let lv = V8(repeating: lse[r]), gv = V8(repeating: g)
            var j = 0
            if accumulate {
                let saved = skip >= 0 ? out[skip] : 0
                while j + 8 <= vocab { st8(out + j, vfma(vexpNonPositive(ld8(x + j) - lv), gv, ld8(out + j))); j += 8 }
                if j < vocab {
                    let n = vocab - j
                    stPartial(out + j, vfma(vexpNonPositive(ldPartial(x + j, n) - lv), gv, ldPartial(out + j, n)), n)
                }
                out[Int(t)] -= g
                if skip >= 0 { out[skip] = saved }
            } else {
                while j + 8 <= vocab { st8(out + j, vexpNonPositive(ld8(x + j) - lv) * gv); j += 8 }
                if j < vocab { let n = vocab - j; stPartial(out + j, vexpNonPositive(ldPartial(x + j, n) - lv) * gv, n) }
                // out may alias x: x[t] was read before the row was overwritten.
                out[Int(t)] = vexpNonPositive(V8(repeating: xt) - lv)[0] * g - g
                if skip >= 0 { out[skip] = 0 }
            }
        }
    }
}
