import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

// Padding-free batches: sequences laid end to end, attention within each one.

private func rand(_ shape: [Int], _ seed: UInt64) -> Tensor {
    var rng = SeededRNG(seed: seed)
    return Tensor.uniform(shape, low: -1, high: 1, rng: &rng, requiresGrad: true)
}

private func close(_ a: [Float], _ b: [Float], _ tol: Float) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tol * max(1, abs($1)) }
}

@Test func packedAttentionEqualsEachSequenceOnItsOwn() throws {
    // Three sequences (5, 1, 3 positions), 4 query heads over 2 kv heads, head dim 8.
    let lengths = [5, 1, 3], n = 9
    let q = rand([1, n, 4, 8], 41), k = rand([1, n, 2, 8], 42), v = rand([1, n, 2, 8], 43)
    let dOut = rand([1, n, 4, 8], 44).detach()
    for causal in [true, false] {
        let packed = try Tensor.attention(q, k, v, layout: .bthd, causal: causal, sequences: lengths)
        try (packed * dOut).sum().backward()
        let grads = [q, k, v].map { $0.grad!.values }
        for t in [q, k, v] { t.grad = nil }
        var start = 0
        for len in lengths {
            let part = { (t: Tensor) in try t.slice(axis: 1, start..<(start + len)) }
            let alone = try Tensor.attention(part(q), part(k), part(v), layout: .bthd, causal: causal)
            #expect(try packed.slice(axis: 1, start..<(start + len)).values == alone.values, "causal \(causal), length \(len)")
            try (alone * part(dOut)).sum().backward()
            start += len
        }
        // Each sequence's gradient lands in its own rows only, as from the separate calls.
        for (t, g) in zip([q, k, v], grads) {
            #expect(close(g, t.grad!.values, 1e-6), "causal \(causal)")
            t.grad = nil
        }
    }
}

@Test func packedAttentionGradients() throws {
    let q = rand([1, 6, 2, 4], 45), k = rand([1, 6, 1, 4], 46), v = rand([1, 6, 1, 4], 47)
    for recompute in [false, true] {
        let r = try GradCheck.check([q, k, v]) { t in
            try Tensor.attention(t[0], t[1], t[2], layout: .bthd, causal: true, recomputeProbabilities: recompute,
                                 sequences: [2, 4])
        }
        #expect(r.passes(), "recompute \(recompute): \(r)")
    }
}

@Test func packedAttentionRefusesLengthsThatDoNotFit() throws {
    let q = rand([1, 6, 2, 4], 48), k = rand([1, 6, 1, 4], 49)
    for bad in [[2, 3], [2, 5], [0, 6], [-1, 7], [Int.max, 7]] {
        #expect(throws: HalluError.self, "\(bad)") {
            try Tensor.attention(q, k, k, layout: .bthd, causal: true, sequences: bad)
        }
    }
    // A key mask, a batch of two or the head-major layout make no sense with packed sequences.
    #expect(throws: HalluError.self) {
        try Tensor.attention(q, k, k, layout: .bthd, causal: true, keyMask: Array(repeating: true, count: 6), sequences: [6])
    }
    let q2 = rand([2, 3, 2, 4], 50), k2 = rand([2, 3, 1, 4], 51)
    #expect(throws: HalluError.self) { try Tensor.attention(q2, k2, k2, layout: .bthd, causal: true, sequences: [3]) }
    #expect(throws: HalluError.self) {
        try Tensor.attention(q.transposed(1, 2), k.transposed(1, 2), k.transposed(1, 2), layout: .bhtd, causal: true, sequences: [6])
    }
}

@Test func packedBatchGivesThePaddedBatchsLossAndGradients() throws {
    let img = tinyConfig().imageTokenIndex
    // Lengths 7, 4 and 6 (with the image rows): the batch pads to the longest.
    let inputs = LlavaInputs(ids: [[1, img, 5, 6, 7, 8, 2], [1, img, 9, 2], [1, 3, 4, img, 6, 2]], pixels: tinyPixels(3),
                             labels: [[-100, -100, -100, 6, 7, 8, 2], [-100, -100, 9, 2], [-100, -100, -100, -100, 6, 2]])
    func run(packed: Bool) throws -> (loss: Float, hidden: [Float], grads: [String: [Float]]) {
        let m = LlavaModel(tinyConfig(), seed: 5)
        m.packsSequences = packed
        let (h, layout) = try withNoGrad { try m.hidden(inputs) }
        // Real positions only: the padding's hidden states are not defined by either path.
        let d = m.config.text.hiddenSize
        var real: [Float] = []
        for (s, len) in layout.lengths.enumerated() {
            real += h.values[(s * layout.length * d)..<((s * layout.length + len) * d)]
        }
        let loss = try m.loss(inputs)
        try loss.backward()
        return (loss.item, real, Dictionary(uniqueKeysWithValues: m.namedParameters().map { ($0.0, $0.1.grad?.values ?? []) }))
    }
    let padded = try run(packed: false), packed = try run(packed: true)
    #expect(abs(packed.loss - padded.loss) <= 1e-5 * abs(padded.loss))
    #expect(close(packed.hidden, padded.hidden, 1e-5))
    #expect(packed.grads.keys == padded.grads.keys)
    for (name, g) in padded.grads {
        #expect(close(packed.grads[name]!, g, 1e-4), "\(name)")
    }
}

@Test func packedDPOLogProbsMatchPadded() throws {
    let img = tinyConfig().imageTokenIndex
    let inputs = LlavaInputs(ids: [[1, img, 5, 6, 7, 2], [1, img, 9, 9, 2], [1, img, 5, 2], [1, img, 4, 4, 4, 4, 2]],
                             pixels: tinyPixels(4),
                             labels: [[-100, -100, 5, 6, 7, 2], [-100, -100, 9, 9, 2], [-100, -100, 5, 2], [-100, -100, 4, 4, 4, 4, 2]])
    func logps(packed: Bool) throws -> [Float] {
        let m = LlavaModel(tinyConfig(), seed: 6)
        m.packsSequences = packed
        return try withNoGrad { try m.sequenceLogProbs(inputs).values }
    }
    #expect(close(try logps(packed: true), try logps(packed: false), 1e-5))
}

@Test func batchWithAnEmptySequenceRunsPadded() throws {
    // Nothing to pack for an empty sequence: the batch runs padded and gives what it gave before.
    let inputs = LlavaInputs(ids: [[1, 5, 6, 2], []], pixels: nil)
    func hidden(packed: Bool) throws -> [Float] {
        let m = LlavaModel(tinyConfig(), seed: 7)
        m.packsSequences = packed
        let (h, layout) = try withNoGrad { try m.hidden(inputs) }
        #expect(h.shape == [2, 4, m.config.text.hiddenSize] && layout.lengths == [4, 0])
        return h.values
    }
    #expect(try hidden(packed: true) == hidden(packed: false))
}
