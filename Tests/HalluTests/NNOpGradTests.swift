import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

private func rand(_ shape: [Int], _ seed: UInt64, low: Float = -1, high: Float = 1) -> Tensor {
    var rng = SeededRNG(seed: seed)
    return Tensor.uniform(shape, low: low, high: high, rng: &rng, requiresGrad: true)
}

@Test func activationGradients() throws {
    let a = rand([4, 7], 21, low: -3, high: 3)
    for name in ["gelu", "gelu_pytorch_tanh", "quick_gelu", "silu"] {
        let r = try GradCheck.check([a]) { x in try x[0].activation(name) }
        #expect(r.passes(), "\(name): \(r)")
    }
    #expect(throws: HalluError.self) { try a.activation("bogus") }
}

@Test func softmaxFamilyGradients() throws {
    let a = rand([3, 6], 22, low: -2, high: 2)
    #expect(try GradCheck.check([a]) { x in x[0].softmax() }.passes())
    #expect(try GradCheck.check([a]) { x in x[0].logSoftmax() }.passes())
    #expect(try GradCheck.check([a]) { x in x[0].logSumExp() }.passes())
    let s = a.softmax().values
    #expect(abs(s[0..<6].reduce(0, +) - 1) < 1e-6)
}

@Test func normGradients() throws {
    let x = rand([3, 8], 23), w = rand([8], 24, low: 0.5, high: 1.5), b = rand([8], 25)
    let r1 = try GradCheck.check([x, w]) { t in try Tensor.rmsNorm(t[0], weight: t[1], eps: 1e-6) }
    #expect(r1.passes(), "\(r1)")
    let r2 = try GradCheck.check([x, w, b]) { t in try Tensor.layerNorm(t[0], weight: t[1], bias: t[2], eps: 1e-5) }
    #expect(r2.passes(), "\(r2)")
}

@Test func ropeGradientAndIdentityAtZero() throws {
    let x = rand([2, 2, 3, 8], 26)
    #expect(try GradCheck.check([x]) { t in try Tensor.rope(t[0], positions: [0, 5, 9], theta: 10000) }.passes())
    let y = try Tensor.rope(x, positions: [0, 0, 0], theta: 10000)
    #expect(y.values == x.values)
}

@Test func attentionGradientsWithMasks() throws {
    let q = rand([2, 4, 3, 4], 27), k = rand([2, 2, 5, 4], 28), v = rand([2, 2, 5, 4], 29)
    let mask = [true, true, true, false, true, false, false, false, false, false]  // batch 1: one key only
    for causal in [false, true] {
        let r = try GradCheck.check([q, k, v]) { t in try Tensor.attention(t[0], t[1], t[2], causal: causal, keyMask: mask).output }
        #expect(r.passes(), "causal \(causal): \(r)")
    }
    // Reference: unfused composition for one head, no masks.
    let (o, p) = try Tensor.attention(q, k, v, causal: false)
    let q0 = try q.slice(axis: 0, 0..<1).slice(axis: 1, 0..<1).reshaped([3, 4])
    let k0 = try k.slice(axis: 0, 0..<1).slice(axis: 1, 0..<1).reshaped([5, 4])
    let v0 = try v.slice(axis: 0, 0..<1).slice(axis: 1, 0..<1).reshaped([5, 4])
    let ref = try (q0.matmul(k0.transposed(0, 1)) * 0.5).softmax().matmul(v0)
    let got = try o.slice(axis: 0, 0..<1).slice(axis: 1, 0..<1).reshaped([3, 4])
    for (a, b) in zip(ref.values, got.values) { #expect(abs(a - b) < 1e-5) }
    #expect(p.shape == [2, 4, 3, 5])
}

@Test func fullyMaskedRowsGiveZeros() throws {
    let q = rand([1, 1, 2, 4], 30), k = rand([1, 1, 2, 4], 31), v = rand([1, 1, 2, 4], 32)
    let (o, _) = try Tensor.attention(q, k, v, causal: false, keyMask: [false, false])
    #expect(o.values.allSatisfy { $0 == 0 })
}

@Test func crossEntropyWithIgnoreAndExclusion() throws {
    let logits = rand([4, 5], 33, low: -2, high: 2)
    let targets = [1, -100, 4, 2], excluded = [4, 4, 4, -1]
    let r = try GradCheck.check([logits]) { t in try Tensor.crossEntropy(t[0], targets: targets, excluded: excluded) }
    #expect(r.passes(), "\(r)")
    // Hand value for row 0: EOS (4) excluded from the softmax.
    let x = Array(logits.values[0..<5])
    let lse = log(x[0..<4].map { exp($0) }.reduce(0, +))
    let rows = try Tensor.crossEntropyRows(logits, targets: targets, excluded: excluded).values
    #expect(abs(rows[0] - (lse - x[1])) < 1e-5)
    #expect(rows[1] == 0)
    // Row 2's target is the excluded column: the full softmax applies.
    let x2 = Array(logits.values[10..<15])
    #expect(abs(rows[2] - (log(x2.map { exp($0) }.reduce(0, +)) - x2[4])) < 1e-5)
    // Excluded column gets no gradient where it is excluded.
    logits.grad = nil
    try Tensor.crossEntropy(logits, targets: targets, excluded: excluded).backward()
    #expect(logits.grad!.values[4] == 0)
    #expect(logits.grad!.values[14] != 0)
}

@Test func l2NormalisationMatchesTorchAndItsGradient() throws {
    // F.normalize(x, dim=-1) from PyTorch: the tiny row is divided by eps = 1e-12, not by its norm.
    let x = try Tensor([3, -4, 12, 1e-14, 0, 0], shape: [2, 3], requiresGrad: true)
    let y = try x.l2NormalizedRows()
    let expected: [Float] = [0.23076923, -0.30769231, 0.92307692, 0.01, 0, 0]
    for (a, b) in zip(y.values, expected) { #expect(abs(a - b) < 1e-6) }
    // Below eps the map is x / eps, so the gradient is g / eps; above, it is orthogonal to y.
    try (y * Tensor([1, 2, 3, 1, 2, 3], shape: [2, 3])).sum().backward()
    let g = x.grad!.values
    #expect(abs(g[3] - 1e12) / 1e12 < 1e-5 && abs(g[5] - 3e12) / 3e12 < 1e-5)
    let along = (0..<3).reduce(Float(0)) { $0 + g[$1] * y.values[$1] }
    #expect(abs(along) < 1e-6)

    var rng = SeededRNG(seed: 5)
    let z = Tensor.randn([4, 6], rng: &rng, requiresGrad: true)
    let r = try GradCheck.check([z], eps: 1e-3) { try $0[0].l2NormalizedRows() }
    #expect(r.passes(1e-2), "\(r)")
    let n = try z.l2NormalizedRows()
    for i in 0..<4 {
        let s = (0..<6).reduce(Float(0)) { $0 + n.data[i * 6 + $1] * n.data[i * 6 + $1] }
        #expect(abs(s - 1) < 1e-5)
    }
    #expect(throws: HalluError.self) { try Tensor.zeros([2, 0]).l2NormalizedRows() }
}


@Test func customOpsRecordTheirBackwardAndCheckItsShapes() throws {
    var rng = SeededRNG(seed: 3)
    let x = Tensor.randn([2, 3], rng: &rng, requiresGrad: true)
    // x^3, forward and backward given from outside the core.
    let cube = { (t: [Tensor]) throws -> Tensor in
        try Tensor.custom("cube", inputs: t, forward: { try $0[0] * $0[0] * $0[0] },
                          backward: { g, xs, _ in [try g * xs[0] * xs[0] * 3] })
    }
    let r = try GradCheck.check([x], eps: 1e-3, cube)
    #expect(r.passes(1e-2), "\(r)")
    let y = try cube([x])
    #expect(zip(y.values, x.values).allSatisfy { abs($0 - $1 * $1 * $1) < 1e-6 } && y.gradFn != nil)
    #expect(try withNoGrad { try cube([x]) }.gradFn == nil)
    // A backward that returns the wrong number or shape of gradients is an error naming the op.
    let wrong = try Tensor.custom("wrong", inputs: [x], forward: { $0[0].scaled(2) }, backward: { g, _, _ in [try g.reshaped([3, 2])] })
    #expect(message { try wrong.sum().backward() }.contains("custom op wrong"))
    let count = try Tensor.custom("count", inputs: [x], forward: { $0[0].scaled(2) }, backward: { g, _, _ in [g, g] })
    #expect(message { try count.sum().backward() }.contains("2 gradients for 1 inputs"))
    // An op that hands back its input gets a fresh output, not the input's graph.
    let same = try Tensor.custom("identity", inputs: [x], forward: { $0[0] }, backward: { g, _, _ in [g] })
    #expect(same !== x)
}
