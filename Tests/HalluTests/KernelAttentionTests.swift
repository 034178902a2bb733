import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// Naive double-precision attention: returns (out, probs).
private func refAttention(_ q: [Double], _ k: [Double], _ v: [Double], _ s: Kernels.AttentionShape, scale: Double,
                          causal: Bool, pad: [UInt8]?) -> ([Double], [Double]) {
    let (B, H, Hkv, Tq, Tk, D) = (s.batch, s.heads, s.kvHeads, s.queryLength, s.keyLength, s.headDim)
    var out = [Double](repeating: 0, count: B * H * Tq * D)
    var probs = [Double](repeating: 0, count: B * H * Tq * Tk)
    for b in 0..<B {
        for h in 0..<H {
            let g = h / (H / Hkv)
            for i in 0..<Tq {
                var scores = [Double](repeating: -.infinity, count: Tk)
                for j in 0..<Tk {
                    if causal && j > i + (Tk - Tq) { continue }
                    if let pad, pad[b * Tk + j] == 0 { continue }
                    var dot = 0.0
                    for d in 0..<D { dot += q[((b * H + h) * Tq + i) * D + d] * k[((b * Hkv + g) * Tk + j) * D + d] }
                    scores[j] = dot * scale
                }
                let m = scores.max() ?? -.infinity
                if m == -.infinity { continue }
                let e = scores.map { Foundation.exp($0 - m) }
                let sum = e.reduce(0, +)
                for j in 0..<Tk {
                    let p = e[j] / sum
                    probs[((b * H + h) * Tq + i) * Tk + j] = p
                    for d in 0..<D { out[((b * H + h) * Tq + i) * D + d] += p * v[((b * Hkv + g) * Tk + j) * D + d] }
                }
            }
        }
    }
    return (out, probs)
}

private struct AttnRun {
    var out: [Float], probs: [Float], dq: [Float], dk: [Float], dv: [Float]
}

private func runAttention(_ q: [Float], _ k: [Float], _ v: [Float], _ dO: [Float], _ s: Kernels.AttentionShape,
                          causal: Bool, pad: [UInt8]?, scale: Float? = nil) throws -> AttnRun {
    var r = AttnRun(out: [Float](repeating: .nan, count: s.batch * s.heads * s.queryLength * s.headDim),
                    probs: [Float](repeating: .nan, count: s.batch * s.heads * s.queryLength * s.keyLength),
                    dq: [Float](repeating: .nan, count: q.count), dk: [Float](repeating: .nan, count: k.count),
                    dv: [Float](repeating: .nan, count: v.count))
    try q.withUnsafeBufferPointer { pq in try k.withUnsafeBufferPointer { pk in try v.withUnsafeBufferPointer { pv in
        try r.out.withUnsafeMutableBufferPointer { po in try r.probs.withUnsafeMutableBufferPointer { pp in
            func call(_ padPtr: UnsafePointer<UInt8>?) throws {
                try Kernels.attentionForward(q: pq.baseAddress!, k: pk.baseAddress!, v: pv.baseAddress!, shape: s, scale: scale,
                                             causal: causal, keyPadding: padPtr, out: po.baseAddress!, probs: pp.baseAddress!)
            }
            if let pad { try pad.withUnsafeBufferPointer { try call($0.baseAddress!) } } else { try call(nil) }
        }}
        try dO.withUnsafeBufferPointer { pd in try r.probs.withUnsafeBufferPointer { pp in
            try r.dq.withUnsafeMutableBufferPointer { a in try r.dk.withUnsafeMutableBufferPointer { b in try r.dv.withUnsafeMutableBufferPointer { c in
                try Kernels.attentionBackward(dOut: pd.baseAddress!, probs: pp.baseAddress!, q: pq.baseAddress!, k: pk.baseAddress!,
                                              v: pv.baseAddress!, shape: s, scale: scale, causal: causal,
                                              dq: a.baseAddress!, dk: b.baseAddress!,
                                              dv: c.baseAddress!)
            }}}
        }}
    }}}
    return r
}

@Test func kernelAttentionMatchesReferenceWithMasks() throws {
    var rng = KT.Random(21)
    let shapes = [
        Kernels.AttentionShape(batch: 2, heads: 4, kvHeads: 2, queryLength: 5, keyLength: 7, headDim: 8),
        Kernels.AttentionShape(batch: 1, heads: 3, kvHeads: 3, queryLength: 6, keyLength: 6, headDim: 5),
        Kernels.AttentionShape(batch: 2, heads: 2, kvHeads: 1, queryLength: 1, keyLength: 9, headDim: 16),
        // More query rows than a decoding step: causal products compute only the band the mask
        // leaves, in 6-row tiles, with queries behind the keys, level with them and ahead of them.
        Kernels.AttentionShape(batch: 2, heads: 2, kvHeads: 1, queryLength: 13, keyLength: 20, headDim: 7),
        Kernels.AttentionShape(batch: 1, heads: 2, kvHeads: 2, queryLength: 17, keyLength: 17, headDim: 9),
        Kernels.AttentionShape(batch: 2, heads: 1, kvHeads: 1, queryLength: 14, keyLength: 11, headDim: 4),
    ]
    for s in shapes {
        let q = rng.floats(s.batch * s.heads * s.queryLength * s.headDim, -2, 2)
        let k = rng.floats(s.batch * s.kvHeads * s.keyLength * s.headDim, -2, 2)
        let v = rng.floats(s.batch * s.kvHeads * s.keyLength * s.headDim)
        let dO = rng.floats(s.batch * s.heads * s.queryLength * s.headDim)
        // Batch 0: the first keys are padding (left padding); batch 1: the last key is padding.
        var pad = [UInt8](repeating: 1, count: s.batch * s.keyLength)
        pad[0] = 0; pad[1] = 0
        if s.batch > 1 { pad[2 * s.keyLength - 1] = 0 }
        for causal in [false, true] {
            for usePad in [false, true] {
                let scale = 1 / Double(Float(s.headDim).squareRoot())
                let got = try runAttention(q, k, v, dO, s, causal: causal, pad: usePad ? pad : nil)
                let (wantO, wantP) = refAttention(KT.d(q), KT.d(k), KT.d(v), s, scale: Double(Float(scale)), causal: causal,
                                                  pad: usePad ? pad : nil)
                let tag = "\(s) causal \(causal) pad \(usePad)"
                #expect(KT.maxRel(got.out, wantO, floor: 1e-2) < 1e-5, "out \(tag)")
                #expect(KT.maxRel(got.probs, wantP, floor: 1e-3) < 1e-5, "probs \(tag)")
                // Gradients against finite differences of the double reference.
                let (qd, kd, vd) = (KT.d(q), KT.d(k), KT.d(v))
                let sc = Double(Float(scale))
                func loss(_ qq: [Double], _ kk: [Double], _ vv: [Double]) -> Double {
                    KT.weighted(refAttention(qq, kk, vv, s, scale: sc, causal: causal, pad: usePad ? pad : nil).0, dO)
                }
                let gq = KT.numericGradient(qd) { loss($0, kd, vd) }
                let gk = KT.numericGradient(kd) { loss(qd, $0, vd) }
                let gv = KT.numericGradient(vd) { loss(qd, kd, $0) }
                #expect(KT.relToMax(got.dq, gq) < 2e-5, "dq \(tag): \(KT.relToMax(got.dq, gq))")
                #expect(KT.relToMax(got.dk, gk) < 2e-5, "dk \(tag): \(KT.relToMax(got.dk, gk))")
                #expect(KT.relToMax(got.dv, gv) < 2e-5, "dv \(tag): \(KT.relToMax(got.dv, gv))")
            }
        }
    }
}

@Test func kernelAttentionFullyMaskedRowsGiveZerosNotNaN() throws {
    // Causal with more queries than keys: the first queries see no key at all; plus a batch whose
    // keys are all padding.
    let s = Kernels.AttentionShape(batch: 2, heads: 2, kvHeads: 1, queryLength: 4, keyLength: 2, headDim: 3)
    var rng = KT.Random(5)
    let q = rng.floats(s.batch * s.heads * 4 * 3), k = rng.floats(s.batch * 2 * 3), v = rng.floats(s.batch * 2 * 3)
    let dO = rng.floats(q.count)
    let pad: [UInt8] = [1, 1, 0, 0]
    let r = try runAttention(q, k, v, dO, s, causal: true, pad: pad)
    for arr in [r.out, r.probs, r.dq, r.dk, r.dv] { #expect(!arr.contains { $0.isNaN || $0.isInfinite }) }
    // Batch 0, query 0 and 1 see keys j <= i - 2: none. Batch 1 sees nothing at all.
    for h in 0..<2 {
        for i in 0..<2 { #expect(r.out[((0 * 2 + h) * 4 + i) * 3..<((0 * 2 + h) * 4 + i + 1) * 3].allSatisfy { $0 == 0 }) }
        #expect(r.out[((1 * 2 + h) * 4) * 3..<((1 * 2 + h + 1) * 4) * 3].allSatisfy { $0 == 0 })
    }
    #expect(r.dk[6..<12].allSatisfy { $0 == 0 } && r.dv[6..<12].allSatisfy { $0 == 0 })
    let want = refAttention(KT.d(q), KT.d(k), KT.d(v), s, scale: Double(1 / Float(3).squareRoot()), causal: true, pad: pad)
    #expect(KT.maxRel(r.out, want.0, floor: 1e-2) < 1e-5)
}

@Test func kernelAttentionRejectsBadHeadCounts() {
    let s = Kernels.AttentionShape(batch: 1, heads: 3, kvHeads: 2, queryLength: 1, keyLength: 1, headDim: 4)
    #expect(throws: HalluError.self) { _ = try runAttention([Float](repeating: 0, count: 12), [Float](repeating: 0, count: 8),
                                                            [Float](repeating: 0, count: 8), [Float](repeating: 0, count: 12),
                                                            s, causal: false, pad: nil) }
}

@Test func kernelAttentionIsDeterministic() throws {
    let s = Kernels.AttentionShape(batch: 3, heads: 4, kvHeads: 2, queryLength: 40, keyLength: 40, headDim: 32)
    var rng = KT.Random(8)
    let q = rng.floats(s.batch * s.heads * 40 * 32), k = rng.floats(s.batch * 2 * 40 * 32), v = rng.floats(k.count)
    let dO = rng.floats(q.count)
    let a = try runAttention(q, k, v, dO, s, causal: true, pad: nil)
    let b = try runAttention(q, k, v, dO, s, causal: true, pad: nil)
    let c = try Parallel.withThreadLimit(1) { try runAttention(q, k, v, dO, s, causal: true, pad: nil) }
    #expect(a.out == b.out && a.dq == b.dq && a.dk == b.dk && a.dv == b.dv)
    #expect(a.out == c.out && a.dq == c.dq && a.dk == c.dk && a.dv == c.dv)
}
