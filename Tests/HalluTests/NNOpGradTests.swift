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
