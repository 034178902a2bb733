import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

private func rand(_ shape: [Int], _ seed: UInt64) -> Tensor {
    var rng = SeededRNG(seed: seed)
    return Tensor.uniform(shape, low: -1, high: 1, rng: &rng, requiresGrad: true)
}

@Test func attentionOnProjectionLayoutEqualsTransposedLayout() throws {
    // [B, T, H, D] straight from the projections gives what [B, H, T, D] gives, forward and backward.
    let q = rand([2, 5, 4, 8], 1), k = rand([2, 5, 2, 8], 2), v = rand([2, 5, 2, 8], 3)
    let mask = [true, true, true, true, false, true, true, false, false, false]
    let a = try Tensor.attention(q, k, v, layout: .bthd, causal: true, keyMask: mask)
    let (b, _) = try Tensor.attention(q.transposed(1, 2), k.transposed(1, 2), v.transposed(1, 2), causal: true, keyMask: mask)
    let bt = try b.transposed(1, 2)
    #expect(zip(a.values, bt.values).allSatisfy { abs($0 - $1) < 1e-6 })
    let r = try GradCheck.check([q, k, v]) { t in try Tensor.attention(t[0], t[1], t[2], layout: .bthd, causal: true, keyMask: mask) }
    #expect(r.passes(), "\(r)")
    let rr = try GradCheck.check([q]) { t in try Tensor.rope(t[0], positions: [0, 3, 4, 7, 9], theta: 100, layout: .bthd) }
    #expect(rr.passes(), "\(rr)")
}

@Test func inferenceKeepsNoGraph() throws {
    let w = rand([6, 4], 4), x = rand([3, 4], 5)
    let y = try withNoGrad { try Tensor.linear(x, w, nil).silu().softmax() }
    #expect(y.gradFn == nil)
    let (_, probs) = try withNoGrad { try Tensor.attention(rand([1, 2, 3, 4], 6), rand([1, 2, 3, 4], 7), rand([1, 2, 3, 4], 8), causal: true) }
    #expect(probs.gradFn == nil)
    // Attention without a tape keeps no probabilities unless asked (`weights`).
    let q = rand([1, 3, 2, 4], 9)
    let out = try withNoGrad { try Tensor.attention(q, q, q, layout: .bthd, causal: false) }
    #expect(out.gradFn == nil && out.shape == [1, 3, 2, 4])
}

@Test func leafGradientsAccumulateInPlace() throws {
    // Gradients written straight into leaves (linear, norms, embedding) still accumulate across calls.
    let w = rand([3, 4], 10), x = rand([5, 4], 11), g = rand([4], 12)
    for t in [w, x, g] { t.grad = nil }
    try Tensor.rmsNorm(Tensor.linear(x, w, nil).matmul(rand([3, 4], 13).detach()), weight: g, eps: 1e-6).sum().backward()
    let first = (w.grad!.values, g.grad!.values, x.grad!.values)
    try Tensor.rmsNorm(Tensor.linear(x, w, nil).matmul(rand([3, 4], 13).detach()), weight: g, eps: 1e-6).sum().backward()
    #expect(zip(w.grad!.values, first.0).allSatisfy { abs($0 - 2 * $1) < 1e-5 })
    #expect(zip(g.grad!.values, first.1).allSatisfy { abs($0 - 2 * $1) < 1e-5 })
    #expect(zip(x.grad!.values, first.2).allSatisfy { abs($0 - 2 * $1) < 1e-5 })
    let table = rand([5, 3], 14)
    try Tensor.embedding(table, [1, 1, 4]).sum().backward()
    try Tensor.embedding(table, [1]).sum().backward()
    #expect(table.grad!.values == [0, 0, 0, 3, 3, 3, 0, 0, 0, 0, 0, 0, 1, 1, 1])
}

@Test func trainingStepIsDeterministicForAThreadCount() throws {
    func grads() throws -> [Float] {
        let m = LlavaModel(tinyConfig(), seed: 21)
        let img = m.config.imageTokenIndex
        let inputs = LlavaInputs(ids: [[1, img, 5, 6, 7, 2], [1, img, 9, 2]], pixels: tinyPixels(2),
                                 labels: [[-100, -100, -100, 6, 7, 2], [-100, -100, 9, 2]])
        try m.loss(inputs).backward()
        return m.namedParameters().flatMap { $0.1.grad?.values ?? [] }
    }
    let a = try grads(), b = try grads()
    #expect(a == b)
    let one = try Parallel.withThreadLimit(1) { try grads() }
    #expect(one == (try Parallel.withThreadLimit(1) { try grads() }))
}

@Test func kvCacheGrowsAndReorders() throws {
    let cache = KVCache(layers: 1, capacity: 2)
    func kv(_ b: Int, _ t: Int, _ base: Float) -> Tensor {
        let x = Tensor(uninitializedShape: [b, t, 1, 2])
        for i in 0..<x.count { x.data[i] = base + Float(i) }
        return x
    }
    var r = try cache.append(layer: 0, keys: kv(2, 2, 0), values: kv(2, 2, 100))
    #expect(r.length == 2 && r.keys.shape == [2, 2, 1, 2])
    r = try cache.append(layer: 0, keys: kv(2, 1, 50), values: kv(2, 1, 150))
    #expect(r.length == 3 && r.keys.shape[1] == 4)           // doubled
    #expect(cache.length == 3)
    // Row 1 of the batch: its two first positions, then the appended one.
    let row1 = Array(r.keys.values[8..<14])
    #expect(row1 == [4, 5, 6, 7, 52, 53])
    try cache.select([1, 1, 0])
    let k = cache.keys[0]!
    #expect(k.shape[0] == 3)
    #expect(Array(k.values[0..<6]) == row1 && Array(k.values[16..<22]) == [0, 1, 2, 3, 50, 51])
    #expect(throws: HalluError.self) { try cache.select([3]) }
    #expect(throws: HalluError.self) { try cache.append(layer: 0, keys: kv(2, 1, 0), values: kv(2, 1, 0)) }
}
