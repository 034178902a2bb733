import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// Per-row cross-entropy in double with Selective-EOS exclusion (excluded logit -> -inf unless it
/// is the target). Ignored rows give 0.
private func refCE(_ x: [Double], rows: Int, vocab: Int, targets: [Int32], excluded: [Int32]?) -> [Double] {
    (0..<rows).map { r in
        let t = targets[r]
        if t == -100 { return 0 }
        var row = Array(x[(r * vocab)..<((r + 1) * vocab)])
        if let ex = excluded, ex[r] >= 0, ex[r] != t { row[Int(ex[r])] = -.infinity }
        let m = row.max()!
        let lse = m + Foundation.log(row.reduce(0.0) { $0 + Foundation.exp($1 - m) })
        return lse - row[Int(t)]
    }
}

private struct CECase {
    var x: [Float], targets: [Int32], excluded: [Int32]?
    var rows: Int, vocab: Int
}

private func makeCase(seed: UInt64, rows: Int, vocab: Int, withExcluded: Bool) -> CECase {
    var rng = KT.Random(seed)
    var x = rng.floats(rows * vocab, -4, 4)
    var targets = (0..<rows).map { _ in Int32(rng.int(vocab)) }
    targets[1 % rows] = -100
    var excluded: [Int32]? = nil
    if withExcluded {
        let eos: Int32 = 2 % Int32(vocab)
        // Row 0: gold is EOS (full softmax); others exclude EOS; row 2 excludes nothing (-1).
        targets[0] = eos
        excluded = (0..<rows).map { $0 == 2 ? -1 : eos }
        // Make EOS dominant so that leaving it out matters.
        for r in 0..<rows { x[r * vocab + Int(eos)] = 6 }
    }
    return CECase(x: x, targets: targets, excluded: excluded, rows: rows, vocab: vocab)
}

private func forward(_ c: CECase) throws -> (loss: [Float], lse: [Float], kept: Int) {
    var loss = [Float](repeating: .nan, count: c.rows), lse = loss
    var kept = 0
    try c.x.withUnsafeBufferPointer { px in try c.targets.withUnsafeBufferPointer { pt in
        try loss.withUnsafeMutableBufferPointer { pl in try lse.withUnsafeMutableBufferPointer { pe in
            if let ex = c.excluded {
                kept = try ex.withUnsafeBufferPointer {
                    try Kernels.crossEntropyForward(logits: px.baseAddress!, rows: c.rows, vocab: c.vocab, targets: pt.baseAddress!,
                                                    excluded: $0.baseAddress!, loss: pl.baseAddress!, lse: pe.baseAddress!)
                }
            } else {
                kept = try Kernels.crossEntropyForward(logits: px.baseAddress!, rows: c.rows, vocab: c.vocab, targets: pt.baseAddress!,
                                                       loss: pl.baseAddress!, lse: pe.baseAddress!)
            }
        }}
    }}
    return (loss, lse, kept)
}

private func backward(_ c: CECase, lse: [Float], scale: [Float], into d: inout [Float], accumulate: Bool = false, logProb: Bool = false) {
    c.x.withUnsafeBufferPointer { px in c.targets.withUnsafeBufferPointer { pt in lse.withUnsafeBufferPointer { pl in
        scale.withUnsafeBufferPointer { ps in d.withUnsafeMutableBufferPointer { pd in
            c.excluded.withOptionalPointer { ex in
                if logProb {
                    Kernels.targetLogProbBackward(logits: px.baseAddress!, rows: c.rows, vocab: c.vocab, targets: pt.baseAddress!,
                                                  excluded: ex, lse: pl.baseAddress!, dLogProb: ps.baseAddress!,
                                                  dLogits: pd.baseAddress!, accumulate: accumulate)
                } else {
                    Kernels.crossEntropyBackward(logits: px.baseAddress!, rows: c.rows, vocab: c.vocab, targets: pt.baseAddress!,
                                                 excluded: ex, lse: pl.baseAddress!, gradScale: ps.baseAddress!,
                                                 dLogits: pd.baseAddress!, accumulate: accumulate)
                }
            }
        }}
    }}}
}

private extension Optional where Wrapped == [Int32] {
    func withOptionalPointer<R>(_ body: (UnsafePointer<Int32>?) -> R) -> R {
        switch self {
        case .none: return body(nil)
        case .some(let a): return a.withUnsafeBufferPointer { body($0.baseAddress!) }
        }
    }
}

@Test func kernelCrossEntropyForwardBackwardWithIgnoreAndExcludedColumn() throws {
    for (rows, vocab, ex) in [(4, 7, false), (5, 37, true), (6, 131, true), (3, 3, true)] {
        let c = makeCase(seed: UInt64(rows * vocab), rows: rows, vocab: vocab, withExcluded: ex)
        let (loss, lse, kept) = try forward(c)
        #expect(kept == rows - 1)
        let want = refCE(KT.d(c.x), rows: rows, vocab: vocab, targets: c.targets, excluded: c.excluded)
        #expect(KT.maxRel(loss, want, floor: 1e-3) < 2e-6, "\(rows)x\(vocab) loss \(loss) vs \(want)")
        #expect(loss[1] == 0 && lse[1] == 0)
        var rng = KT.Random(99)
        let scale = rng.floats(rows, 0.5, 1.5)
        var d = [Float](repeating: .nan, count: rows * vocab)
        backward(c, lse: lse, scale: scale, into: &d)
        let g = KT.numericGradient(KT.d(c.x)) { KT.weighted(refCE($0, rows: rows, vocab: vocab, targets: c.targets, excluded: c.excluded), scale) }
        #expect(KT.relToMax(d, g) < 1e-5, "\(rows)x\(vocab) grad: \(KT.relToMax(d, g))")
        #expect(d[(1 * vocab)..<(2 * vocab)].allSatisfy { $0 == 0 })
        if let exc = c.excluded {
            for r in 0..<rows where exc[r] >= 0 && exc[r] != c.targets[r] && c.targets[r] != -100 {
                #expect(d[r * vocab + Int(exc[r])] == 0)
            }
        }
        // Accumulate adds to what is there.
        var acc = [Float](repeating: 1, count: rows * vocab)
        backward(c, lse: lse, scale: scale, into: &acc, accumulate: true)
        #expect(zip(acc, d).allSatisfy { abs($0 - 1 - $1) < 1e-6 })
    }
}

@Test func kernelCrossEntropyInPlaceGradient() throws {
    let c = makeCase(seed: 3, rows: 5, vocab: 50, withExcluded: true)
    let (_, lse, _) = try forward(c)
    let scale = [Float](repeating: 0.2, count: 5)
    var separate = [Float](repeating: 0, count: c.x.count)
    backward(c, lse: lse, scale: scale, into: &separate)
    // dLogits aliasing logits.
    var x = c.x
    x.withUnsafeMutableBufferPointer { px in c.targets.withUnsafeBufferPointer { pt in lse.withUnsafeBufferPointer { pl in
        scale.withUnsafeBufferPointer { ps in c.excluded!.withUnsafeBufferPointer { pe in
            Kernels.crossEntropyBackward(logits: px.baseAddress!, rows: 5, vocab: 50, targets: pt.baseAddress!, excluded: pe.baseAddress!,
                                         lse: pl.baseAddress!, gradScale: ps.baseAddress!, dLogits: px.baseAddress!)
        }}
    }}}
    #expect(x == separate)
}

@Test func kernelTargetLogProbSharesTheCrossEntropyCode() throws {
    let c = makeCase(seed: 17, rows: 6, vocab: 40, withExcluded: false)
    var lp = [Float](repeating: 0, count: 6), lse = lp
    try c.x.withUnsafeBufferPointer { px in try c.targets.withUnsafeBufferPointer { pt in
        try lp.withUnsafeMutableBufferPointer { a in try lse.withUnsafeMutableBufferPointer { b in
            _ = try Kernels.targetLogProbForward(logits: px.baseAddress!, rows: 6, vocab: 40, targets: pt.baseAddress!,
                                                 logProb: a.baseAddress!, lse: b.baseAddress!)
        }}
    }}
    let want = refCE(KT.d(c.x), rows: 6, vocab: 40, targets: c.targets, excluded: nil).map { -$0 }
    #expect(KT.maxRel(lp, want, floor: 1e-3) < 2e-6)
    #expect(lp[1] == 0)
    // Also checks exp(logp) against a full log-softmax (DPO's _get_batch_logps reads the full vocab).
    var ls = c.x
    c.x.withUnsafeBufferPointer { px in ls.withUnsafeMutableBufferPointer {
        Kernels.logSoftmaxForward(x: px.baseAddress!, y: $0.baseAddress!, rows: 6, cols: 40)
    }}
    for r in 0..<6 where c.targets[r] != -100 { #expect(abs(ls[r * 40 + Int(c.targets[r])] - lp[r]) < 2e-6) }
    let dlp: [Float] = [1, 2, -1, 0.5, 3, 1]
    var d = [Float](repeating: 0, count: c.x.count)
    backward(c, lse: lse, scale: dlp, into: &d, logProb: true)
    let g = KT.numericGradient(KT.d(c.x)) { x in
        KT.weighted(refCE(x, rows: 6, vocab: 40, targets: c.targets, excluded: nil).map { -$0 }, dlp)
    }
    #expect(KT.relToMax(d, g) < 1e-5)
}

@Test func kernelCrossEntropyRejectsBadTargets() {
    var c = makeCase(seed: 1, rows: 3, vocab: 5, withExcluded: false)
    c.targets[0] = 5
    #expect(throws: HalluError.self) { _ = try forward(c) }
    c.targets[0] = -3
    #expect(throws: HalluError.self) { _ = try forward(c) }
    c.targets[0] = 1
    c.excluded = [7, -1, -1]
    #expect(throws: HalluError.self) { _ = try forward(c) }
    c.excluded = [-2, -1, -1]
    do { _ = try forward(c); Issue.record("expected a throw") } catch let e as HalluError {
        #expect(e.message.contains("row 0"))
    } catch { Issue.record("wrong error \(error)") }
}

