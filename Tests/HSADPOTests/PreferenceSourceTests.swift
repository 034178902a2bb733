import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
@testable import HSADPO

/// The seam the detect-then-rewrite pipeline plugs into: a source that supplies scored pairs.
final class FixedPreferences: PreferenceSource {
    let fixed: [PreferencePair]
    init(_ fixed: [PreferencePair]) { self.fixed = fixed }
    var name: String { "fixed" }
    func pairs(_ data: TrainingData, _ context: TrainContext) throws -> [PreferencePair] { fixed }
}

@Test func datasetPreferenceSourcePassesPairsThrough() throws {
    let ctx = dpoContext(lora: true)
    let pairs = dpoPairs(3, rejectedScores: [0.5, nil, 1])
    let out = try DatasetPreferences().pairs(TrainingData(preferences: pairs), ctx)
    #expect(out.map(\.id) == ["p0", "p1", "p2"] && out.map(\.rejectedScore) == [0.5, nil, 1])
    let generated = try FixedPreferences(dpoPairs(1, rejectedScores: [0.3])).pairs(TrainingData(preferences: pairs), ctx)
    #expect(generated.count == 1 && generated[0].rejectedScore == 0.3)
}

/// On a real forward pass: a smaller rejected score makes the loss's pull on the rejected side weaker
/// by exactly that factor (d loss / d log pi(r) = beta w_r sigmoid(-beta h) / B, and h = 0 at the start).
@Test func severityScalesTheRejectedGradientOnTheModel() throws {
    let ctx = dpoContext(lora: true)
    let pairs = dpoPairs(2, rejectedScores: [0.25, 1])
    let w = try SeverityWeights.weights(pairs, useChosenScore: false, useRejectedScore: true)
    let lp = try DPO.logProbs(pairs, ctx)
    let out = try DPO.loss(lp, beta: 0.1, chosenWeights: w.chosen, rejectedWeights: w.rejected)
    #expect(abs(out.loss.item - Float(log(2.0))) < 1e-6)
    #expect(out.metrics["rewards/margins"] == 0 && out.metrics["rewards/accuracies"] == 0)
    try out.loss.backward()
    // The gradient reaching the rejected log-probs is not exposed directly; recompute the pieces.
    let pr = try Tensor(lp.policyRejected.values, shape: [2], requiresGrad: true)
    let pc = try Tensor(lp.policyChosen.values, shape: [2], requiresGrad: true)
    let l2 = try DPO.loss(DPO.LogProbs(policyChosen: pc, policyRejected: pr, refChosen: lp.refChosen, refRejected: lp.refRejected),
                                 beta: 0.1, chosenWeights: w.chosen, rejectedWeights: w.rejected)
    try l2.loss.backward()
    #expect(abs(pr.grad!.data[0] - 0.1 * 0.25 * 0.5 / 2) < 1e-7 && abs(pr.grad!.data[1] - 0.1 * 0.5 / 2) < 1e-7)
    #expect(abs(pc.grad!.data[0] + 0.1 * 0.5 / 2) < 1e-7)
    // The adapters received a gradient through the real model.
    #expect(ctx.model.trainableParameters().contains { $0.1.grad.map { $0.values.contains { $0 != 0 } } ?? false })
}
