import CoreRuntime
import Foundation
import ObjectUnlikelihood
import Testing

/// The custom op's backward against central differences (`GradCheck`, as every core op is checked).
@Test func unlikelihoodGradientCheck() throws {
    var rng = SeededRNG(seed: 3)
    let logits = Tensor.randn([4, 7], rng: &rng, requiresGrad: true)
    // A row without negatives, a token listed twice, and a row whose negatives hold most of the mass.
    let negatives = [[1, 4], [], [0, 0, 5], [2, 3, 6, 1]]
    let r = try GradCheck.check([logits]) { x in try Tensor.unlikelihood(x[0], negatives: negatives) }
    #expect(r.passes(), "\(r)")
}

@Test func unlikelihoodValues() throws {
    // Uniform logits over 4 tokens, two of them negative: q = 0.5, L = -log 0.5; no negatives: 0.
    let logits = Tensor.zeros([2, 4])
    let loss = try Tensor.unlikelihood(logits, negatives: [[0, 3], []])
    #expect(abs(loss.values[0] - Float(log(2.0))) < 1e-6)
    #expect(loss.values[1] == 0)
    #expect(throws: HalluError.self) { try Tensor.unlikelihood(logits, negatives: [[4], []]) }
}
