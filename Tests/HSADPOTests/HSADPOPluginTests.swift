import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
@testable import HSADPO

@Test func hsaDPOPluginLoadsAndWeightsTheRejectedSide() throws {
    let method = try makeMethod(HSADPOPlugin.plugin, "hsadpo")
    let defaults = Dictionary(uniqueKeysWithValues: method.options.map { ($0.name, $0.defaultValue) })
    for (k, v) in ["beta": "0.1", "gamma": "0.5", "precompute_reference": "false", "use_chosen_score": "false", "use_rejected_score": "true", "pipeline": "false"] {
        #expect(defaults[k] == v, "\(k)")
    }
    try method.configure(["gamma": "0"])

    let ctx = dpoContext(lora: true)
    // Move the adapters off zero so that the policy differs from the reference and weights matter.
    for (n, t) in ctx.model.namedParameters() where n.contains("lora_B") { for i in 0..<t.count { t.data[i] = Float(i % 7) * 0.03 - 0.09 } }
    let pairs = dpoPairs(2, rejectedScores: [0.25, 3])
    // transformData checks the scores before training.
    let data = try method.transformData(TrainingData(preferences: pairs), ctx)
    #expect(data.preferences.map(\.id) == ["p0", "p1"])
    #expect(throws: HalluError.self) { try method.transformData(TrainingData(preferences: dpoPairs(1, rejectedScores: [-1])), ctx) }
    ctx.data = data
    try method.prepare(ctx)
    var batch = Batch()
    batch.preferences = pairs
    let out = try method.loss(batch, ctx)
    // The same log-probs through the core function with the same weights.
    let lp = try withNoGrad { try DPO.logProbs(pairs, ctx) }
    let want = try DPO.loss(lp, beta: 0.1, chosenWeights: [1, 1], rejectedWeights: [0.25, 3])
    #expect(abs(out.loss.item - want.loss.item) < 1e-6)
    let unweighted = try DPO.loss(lp, beta: 0.1)
    #expect(abs(out.loss.item - unweighted.loss.item) > 1e-6)
    try out.loss.backward()
    #expect(ctx.model.namedParameters().filter { $0.1.grad != nil }.allSatisfy { $0.0.contains(".lora_") })
}
