import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

@Test func kernelEmbeddingForwardBackward() throws {
    var rng = KT.Random(12)
    let (vocab, dim) = (10, 13)
    let table = rng.floats(vocab * dim)
    let ids: [Int32] = [3, 0, 9, 3, 3, 7]
    var out = [Float](repeating: 0, count: ids.count * dim)
    try table.withUnsafeBufferPointer { pt in try ids.withUnsafeBufferPointer { pi in try out.withUnsafeMutableBufferPointer { po in
        try Kernels.embeddingForward(table: pt.baseAddress!, vocab: vocab, dim: dim, ids: pi.baseAddress!, count: ids.count,
                                     out: po.baseAddress!)
    }}}
    for (i, id) in ids.enumerated() { #expect(Array(out[(i * dim)..<((i + 1) * dim)]) == Array(table[(Int(id) * dim)..<((Int(id) + 1) * dim)])) }
    let dOut = rng.floats(ids.count * dim)
    var dTable = [Float](repeating: 0, count: vocab * dim)
    dOut.withUnsafeBufferPointer { pd in ids.withUnsafeBufferPointer { pi in dTable.withUnsafeMutableBufferPointer { pt in
        Kernels.embeddingBackward(dOut: pd.baseAddress!, ids: pi.baseAddress!, count: ids.count, dTable: pt.baseAddress!,
                                  vocab: vocab, dim: dim)
    }}}
    for v in 0..<vocab {
        for c in 0..<dim {
            var want: Float = 0
            for (i, id) in ids.enumerated() where Int(id) == v { want += dOut[i * dim + c] }
            #expect(dTable[v * dim + c] == want)
        }
    }
    let bad: [Int32] = [1, 10]
    #expect(throws: HalluError.self) {
        try table.withUnsafeBufferPointer { pt in try bad.withUnsafeBufferPointer { pi in try out.withUnsafeMutableBufferPointer { po in
            try Kernels.embeddingForward(table: pt.baseAddress!, vocab: vocab, dim: dim, ids: pi.baseAddress!, count: 2,
                                         out: po.baseAddress!)
        }}}
    }
}

@Test func kernelSwapMiddleAxes() {
    let (a, b, c, d) = (2, 3, 4, 5)
    let x = (0..<(a * b * c * d)).map(Float.init)
    var y = [Float](repeating: 0, count: x.count), back = y
    x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
        Kernels.swapMiddleAxes(px.baseAddress!, py.baseAddress!, a: a, b: b, c: c, d: d)
    }}
    for i in 0..<a { for j in 0..<b { for k in 0..<c { for l in 0..<d {
        #expect(y[((i * c + k) * b + j) * d + l] == x[((i * b + j) * c + k) * d + l])
    }}}}
    y.withUnsafeBufferPointer { py in back.withUnsafeMutableBufferPointer { pb in
        Kernels.swapMiddleAxes(py.baseAddress!, pb.baseAddress!, a: a, b: c, c: b, d: d)
    }}
    #expect(back == x)
}

@Test func kernelAdamWMatchesDoubleReference() {
    var rng = KT.Random(2)
    let n = 1001
    var p = rng.floats(n), m = [Float](repeating: 0, count: n), v = m
    var pd = KT.d(p), md = [Double](repeating: 0, count: n), vd = md
    let cfg = Kernels.AdamWConfig(learningRate: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1)
    for step in 1...5 {
        let g = rng.floats(n)
        p.withUnsafeMutableBufferPointer { pp in g.withUnsafeBufferPointer { pg in m.withUnsafeMutableBufferPointer { pm in
            v.withUnsafeMutableBufferPointer { pv in
                Kernels.adamWStep(param: pp.baseAddress!, grad: pg.baseAddress!, m: pm.baseAddress!, v: pv.baseAddress!,
                                  count: n, config: cfg, step: step)
            }
        }}}
        let bc1 = 1 - pow(0.9, Double(step)), bc2 = 1 - pow(0.999, Double(step))
        for i in 0..<n {
            let gi = Double(g[i])
            pd[i] *= 1 - 1e-2 * 0.1
            md[i] = 0.9 * md[i] + 0.1 * gi
            vd[i] = 0.999 * vd[i] + 0.001 * gi * gi
            pd[i] -= 1e-2 / bc1 * md[i] / (vd[i].squareRoot() / bc2.squareRoot() + 1e-8)
        }
    }
    #expect(KT.maxRel(p, pd, floor: 1e-2) < 1e-5)
    #expect(KT.maxRel(m, md, floor: 1e-3) < 1e-5)
}

@Test func kernelVectorSquareRootIsAccurate() {
    var rng = KT.Random(3)
    var worst = 0.0
    for _ in 0..<2000 {
        var v = V8()
        for l in 0..<8 { v[l] = Float(pow(10, Double(rng.float(-30, 30)))) }
        let r = vsqrt(v)
        for l in 0..<8 {
            let want = Double(v[l]).squareRoot()
            worst = max(worst, abs(Double(r[l]) - want) / want)
        }
    }
    #expect(worst < 1.2e-7)
    let z = vsqrt(V8(0, 1, 4, 0.25, 1e-40, 3e38, 2, 9))
    #expect(z[0] == 0 && z[1] == 1 && z[2] == 2 && z[3] == 0.5 && z[7] == 3)
}
