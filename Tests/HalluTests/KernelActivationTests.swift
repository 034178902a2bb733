import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// Double-precision definitions and derivatives.
private func reference(_ act: Kernels.Activation, _ x: Double) -> (y: Double, dy: Double) {
    func sig(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
    switch act {
    case .geluTanh:
        // 0.5(1 + tanh u) written as σ(2u): the same function without cancellation for u << 0.
        let k0 = (2 / Double.pi).squareRoot(), k1 = 0.044715
        let u = k0 * (x + k1 * x * x * x)
        let s = sig(2 * u)
        return (x * s, s + x * 2 * s * (1 - s) * k0 * (1 + 3 * k1 * x * x))
    case .geluErf:
        let cdf = 0.5 * Foundation.erfc(-x / 2.0.squareRoot())
        return (x * cdf, cdf + x * Foundation.exp(-0.5 * x * x) / (2 * Double.pi).squareRoot())
    case .quickGelu:
        let s = sig(1.702 * x)
        return (x * s, s + 1.702 * x * s * (1 - s))
    case .silu:
        let s = sig(x)
        return (x * s, s * (1 + x * (1 - s)))
    case .tanh:
        let t = Foundation.tanh(x)
        return (t, 1 - t * t)
    case .sigmoid:
        let s = sig(x)
        return (s, s * (1 - s))
    case .exp:
        let e = Foundation.exp(x)
        return (e, e)
    case .relu:
        return (max(0, x), x > 0 ? 1 : 0)
    }
}

private func activationInputs(_ act: Kernels.Activation) -> [Float] {
    var rng = KT.Random(42)
    var xs: [Float] = [0, -0.0, 1e-8, -1e-8, 1e-4, -3e-3, 0.5, -0.5, 0.62, 0.63, -0.7, 1, -1, 3, -3, 5.5, -5.5, 9, -9, 12, -12]
    if act == .exp { xs += [-80, -87, 80, 88] } else { xs += [-30, 30] }
    xs += rng.floats(1003, -8, 8)       // odd length: exercises the tail lanes
    return xs
}

@Test func kernelActivationsForwardMatchDoubleReference() {
    for act in Kernels.Activation.allCases {
        let x = activationInputs(act)
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
            Kernels.activationForward(act, x: px.baseAddress!, y: py.baseAddress!, count: x.count)
        }}
        let want = x.map { reference(act, Double($0)).y }
        // 1e-6 relative; values below 1e-6 are compared with an absolute 1e-12 (float32 arguments
        // such as 1.702·x carry ~1e-7·|arg| error into e^arg, which only matters in far tails).
        let bad = x.indices.filter { abs(Double(y[$0]) - want[$0]) > 1e-6 * abs(want[$0]) + 1e-12 }
        #expect(bad.isEmpty, "\(act): \(bad.prefix(3).map { (x[$0], y[$0], want[$0]) })")
    }
}

@Test func kernelActivationsBackwardMatchAnalyticDerivatives() {
    for act in Kernels.Activation.allCases {
        var x = activationInputs(act)
        if act == .relu { x = x.filter { $0 != 0 } }
        var rng = KT.Random(7)
        let dy = rng.floats(x.count, 0.5, 2)
        var dx = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { px in dy.withUnsafeBufferPointer { pd in dx.withUnsafeMutableBufferPointer { pg in
            Kernels.activationBackward(act, x: px.baseAddress!, dy: pd.baseAddress!, dx: pg.baseAddress!, count: x.count)
        }}}
        let want = x.indices.map { reference(act, Double(x[$0])).dy * Double(dy[$0]) }
        // 3e-6 relative, or 1e-7 absolute near the roots of the derivative (e.g. GELU's at x ≈ -0.75,
        // where two terms of the derivative cancel).
        func bad(_ g: [Float]) -> [Int] { x.indices.filter { abs(Double(g[$0]) - want[$0]) > 3e-6 * abs(want[$0]) + 1e-7 } }
        #expect(bad(dx).isEmpty, "\(act): \(bad(dx).prefix(3).map { (x[$0], dx[$0], want[$0]) })")
        if act.backwardUsesOutput {
            var y = [Float](repeating: 0, count: x.count)
            var dx2 = [Float](repeating: 0, count: x.count)
            x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
                Kernels.activationForward(act, x: px.baseAddress!, y: py.baseAddress!, count: x.count)
            }}
            x.withUnsafeBufferPointer { px in y.withUnsafeBufferPointer { py in dy.withUnsafeBufferPointer { pd in
                dx2.withUnsafeMutableBufferPointer { pg in
                    Kernels.activationBackward(act, x: px.baseAddress!, y: py.baseAddress!, dy: pd.baseAddress!,
                                               dx: pg.baseAddress!, count: x.count)
                }
            }}}
            #expect(bad(dx2).isEmpty, "\(act) from output: \(bad(dx2).prefix(3).map { (x[$0], dx2[$0], want[$0]) })")
        }
    }
}

@Test func kernelActivationSpecialValues() {
    let x: [Float] = [.infinity, -.infinity, .nan, -100, 100]
    var y = [Float](repeating: 0, count: x.count)
    func run(_ act: Kernels.Activation) -> [Float] {
        x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
            Kernels.activationForward(act, x: px.baseAddress!, y: py.baseAddress!, count: x.count)
        }}
        return y
    }
    let e = run(.exp)
    #expect(e[0] == .infinity && e[1] == 0 && e[2].isNaN && e[3] == 0 && e[4] == .infinity)
    let t = run(.tanh)
    #expect(t[0] == 1 && t[1] == -1 && t[2].isNaN && t[3] == -1 && t[4] == 1)
    let s = run(.sigmoid)
    #expect(s[0] == 1 && s[1] == 0 && s[2].isNaN && s[4] == 1)
    let g = run(.geluTanh)
    #expect(g[3] == 0 && g[4] == 100)
}

@Test func kernelActivationNamesFollowHuggingFace() {
    #expect(Kernels.Activation(hfName: "gelu") == .geluErf)
    #expect(Kernels.Activation(hfName: "gelu_pytorch_tanh") == .geluTanh)
    #expect(Kernels.Activation(hfName: "quick_gelu") == .quickGelu)
    #expect(Kernels.Activation(hfName: "silu") == .silu)
    #expect(Kernels.Activation(hfName: "mish") == nil)
}

@Test func kernelSwiGLUForwardBackward() {
    var rng = KT.Random(3)
    let n = 77
    let g = rng.floats(n, -6, 6), u = rng.floats(n, -2, 2), d = rng.floats(n)
    var out = [Float](repeating: 0, count: n), dg = out, du = out
    g.withUnsafeBufferPointer { pg in u.withUnsafeBufferPointer { pu in d.withUnsafeBufferPointer { pd in
        out.withUnsafeMutableBufferPointer { po in
            Kernels.swigluForward(gate: pg.baseAddress!, up: pu.baseAddress!, out: po.baseAddress!, count: n)
        }
        dg.withUnsafeMutableBufferPointer { a in du.withUnsafeMutableBufferPointer { b in
            Kernels.swigluBackward(gate: pg.baseAddress!, up: pu.baseAddress!, dOut: pd.baseAddress!,
                                   dGate: a.baseAddress!, dUp: b.baseAddress!, count: n)
        }}
    }}}
    let silu = g.map { Double($0) / (1 + Foundation.exp(-Double($0))) }
    #expect(KT.maxRel(out, (0..<n).map { silu[$0] * Double(u[$0]) }, floor: 1e-9) < 2e-6)
    #expect(KT.maxRel(du, (0..<n).map { silu[$0] * Double(d[$0]) }, floor: 1e-9) < 2e-6)
    let dsilu = g.map { v -> Double in let s = 1 / (1 + Foundation.exp(-Double(v))); return s * (1 + Double(v) * (1 - s)) }
    #expect(KT.maxRel(dg, (0..<n).map { dsilu[$0] * Double(u[$0]) * Double(d[$0]) }, floor: 1e-9) < 3e-6)
}

@Test func kernelBasicArithmetic() {
    var rng = KT.Random(11)
    let n = 1_000_003
    let a = rng.floats(n), b = rng.floats(n)
    var out = [Float](repeating: 0, count: n)
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in out.withUnsafeMutableBufferPointer { po in
        let (x, y, o) = (pa.baseAddress!, pb.baseAddress!, po.baseAddress!)
        Kernels.add(x, y, o, count: n)
        #expect((0..<n).allSatisfy { o[$0] == x[$0] + y[$0] })
        Kernels.sub(x, y, o, count: n)
        #expect((0..<n).allSatisfy { o[$0] == x[$0] - y[$0] })
        Kernels.mul(x, y, o, count: n)
        #expect((0..<n).allSatisfy { o[$0] == x[$0] * y[$0] })
        Kernels.scale(x, by: 3, o, count: n)
        #expect((0..<n).allSatisfy { o[$0] == x[$0] * 3 })
        Kernels.fill(o, value: 1, count: n)
        Kernels.axpy(alpha: 2, x, o, count: n)
        #expect((0..<n).allSatisfy { o[$0] == Float(1).addingProduct(x[$0], 2) })
        Kernels.axpby(alpha: 2, x, beta: -1, y, o, count: n)
        #expect((0..<n).allSatisfy { o[$0] == (-y[$0]).addingProduct(x[$0], 2) })
        let s = Kernels.sum(x, count: n)
        let ref = (0..<n).reduce(0.0) { $0 + Double(x[$1]) }
        #expect(abs(s - ref) < 1e-6 * Double(n).squareRoot())
        let dot = Kernels.dot(x, y, count: n)
        let refDot = (0..<n).reduce(0.0) { $0 + Double(x[$1]) * Double(y[$1]) }
        #expect(abs(dot - refDot) < 1e-6 * Double(n).squareRoot())
        let ss = Kernels.sumOfSquares(x, count: n)
        #expect(abs(ss - (0..<n).reduce(0.0) { $0 + Double(x[$1]) * Double(x[$1]) }) < 1e-3)
        // Deterministic across thread counts.
        #expect(Parallel.withThreadLimit(1) { Kernels.sum(x, count: n) } == s)
    }}}
}

@Test func kernelBiasRowsAndColumnSums() {
    var rng = KT.Random(5)
    for (rows, cols) in [(1, 1), (3, 7), (100, 33), (257, 64)] {
        let x = rng.floats(rows * cols), bias = rng.floats(cols)
        var y = [Float](repeating: 0, count: rows * cols)
        var colSum = [Float](repeating: 5, count: cols)
        x.withUnsafeBufferPointer { px in bias.withUnsafeBufferPointer { pb in
            y.withUnsafeMutableBufferPointer { py in
                Kernels.addBiasRows(px.baseAddress!, bias: pb.baseAddress!, py.baseAddress!, rows: rows, cols: cols)
            }
            colSum.withUnsafeMutableBufferPointer { pc in
                Kernels.sumRows(px.baseAddress!, rows: rows, cols: cols, into: pc.baseAddress!, accumulate: true)
            }
        }}
        #expect((0..<(rows * cols)).allSatisfy { y[$0] == x[$0] + bias[$0 % cols] })
        let want = (0..<cols).map { c in 5 + (0..<rows).reduce(0.0) { $0 + Double(x[$1 * cols + c]) } }
        #expect(KT.maxRel(colSum, want, floor: 1) < 1e-5)
        var one = [Float](repeating: 0, count: cols)
        x.withUnsafeBufferPointer { px in one.withUnsafeMutableBufferPointer { pc in
            Parallel.withThreadLimit(1) { Kernels.sumRows(px.baseAddress!, rows: rows, cols: cols, into: pc.baseAddress!) }
        }}
        var two = [Float](repeating: 0, count: cols)
        x.withUnsafeBufferPointer { px in two.withUnsafeMutableBufferPointer { pc in
            Kernels.sumRows(px.baseAddress!, rows: rows, cols: cols, into: pc.baseAddress!)
        }}
        #expect(one == two)
    }
}
