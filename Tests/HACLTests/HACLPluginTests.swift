import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
@testable import HACL

private func loadHACL(_ overrides: [String: String] = [:]) throws -> Method {
    let method = try makeMethod(HACLPlugin.plugin, "hacl")
    try method.configure(OptionValues.resolve(method.options, overrides: overrides, method: "hacl"))
    return method
}

/// Runs the method's pre-training hooks the way a run does: transform the data, install it, prepare.
private func prepared(_ method: Method, _ ctx: TrainContext, contrastive: Int = 10, sft: Int = 4) throws {
    let data = try method.transformData(TrainingData(conversations: HACLFixture.conversations(sft),
                                                     contrastive: HACLFixture.contrastive(contrastive)), ctx)
    ctx.data = data
    try method.prepare(ctx)
}

/// Fresh heads holding a copy of the method's parameters, to recompute its loss through CoreRuntime.
private func headsCopy(_ method: Method) throws -> HACLHeads {
    let heads = try HACLHeads(hidden: 64, seed: 999)
    let params = Dictionary(uniqueKeysWithValues: method.extraParameters())
    for (name, t) in heads.checkpointParameters { try t.assign(params[name]!) }
    return heads
}

@Test func haclPluginLoadsAndDescribesItself() throws {
    let registry = PluginRegistry()
    let plugin = HACLPlugin.plugin
    try registry.register(plugin)
    #expect(plugin.methods.map(\.id) == ["hacl"])
    let method = try registry.make("hacl")
    #expect(method.id == "hacl")
    #expect(method.options.map(\.name) == ["weight", "contrastive_only", "negatives", "holdout", "eval_examples"])
    #expect(method.dataKinds == [.sft, .contrastive])
    #expect(method.extraParameters().isEmpty)
    try method.configure(OptionValues.resolve(method.options, overrides: ["contrastive_only": "true"], method: "hacl"))
    #expect(method.dataKinds == [.contrastive])
    for bad in [["negatives": "some"], ["weight": "heavy"], ["weight": "-1"], ["holdout": "-3"], ["contrastive_only": "maybe"]] {
        #expect(throws: HalluError.self) { try method.configure(OptionValues.resolve(method.options, overrides: bad, method: "hacl")) }
    }
    #expect(throws: HalluError.self) { try OptionValues.resolve(method.options, overrides: ["wieght": "1"], method: "hacl") }
}

@Test func haclPluginLossIsLMPlusWeightedContrastiveAndBackpropagates() throws {
    let ctx = HACLFixture.context(seed: 4)
    let method = try loadHACL(["weight": "0.5"])
    #expect(throws: HalluError.self) { try method.loss(HACLFixture.batch(sft: 2, contrastive: 3), ctx) }
    try prepared(method, ctx)
    #expect(ctx.data.contrastive.count == 8)
    #expect(method.extraParameters().map(\.0) == ["hacl.itc_temp", "hacl.vision_projector.weight", "hacl.vision_projector.bias",
                                                  "hacl.text_projector.weight", "hacl.text_projector.bias"])

    let batch = HACLFixture.batch(sft: 2, contrastive: 3)
    let out = try method.loss(batch, ctx)
    let m = out.metrics
    #expect(out.loss.item.isFinite)
    #expect(abs(Double(out.loss.item) - (m["lm_loss"]! + 0.5 * m["ita_loss"]!)) < 1e-5)
    #expect(abs(m["ita_loss"]! - (m["i2t_loss"]! + m["t2i_loss"]!) / 2) < 1e-6)
    #expect(m["itc_temp"] == Double(Float(0.07)))
    #expect(m["negatives"] == 6)
    #expect(m["hard_negative_accuracy"] != nil && m["i2t_accuracy"] != nil && m["tokens"]! > 0)

    // The plugin computes exactly what CoreRuntime's objective computes with the same parameters.
    let direct = try HACLObjective(weight: 0.5, contrastiveOnly: false, negatives: .all).loss(batch, ctx, heads: headsCopy(method))
    #expect(direct.loss.item == out.loss.item)

    try out.loss.backward()
    for (name, t) in method.extraParameters() {
        #expect(t.grad?.values.contains { $0 != 0 } == true, "no gradient for \(name)")
    }
    let params = Dictionary(uniqueKeysWithValues: ctx.model.namedParameters())
    for name in ["model.multi_modal_projector.linear_2.weight", "model.language_model.layers.1.mlp.down_proj.weight",
                 "model.language_model.embed_tokens.weight", "lm_head.weight"] {
        #expect(params[name]!.grad?.values.contains { $0 != 0 } == true, "no gradient for \(name)")
    }
}

@Test func haclPluginContrastiveOnlyVariantAndTemperatureClamp() throws {
    let ctx = HACLFixture.context(seed: 5)
    let method = try loadHACL(["contrastive_only": "true", "negatives": "first"])
    try prepared(method, ctx, sft: 0)
    let batch = HACLFixture.batch(sft: 0, contrastive: 4)
    let out = try method.loss(batch, ctx)
    #expect(out.metrics["lm_loss"] == nil)
    #expect(abs(Double(out.loss.item) - out.metrics["ita_loss"]!) < 1e-7)
    #expect(out.metrics["negatives"] == 4)
    let itaOnly = try HACLObjective(weight: 1, contrastiveOnly: true, negatives: .first).loss(batch, ctx, heads: headsCopy(method))
    #expect(itaOnly.loss.item == out.loss.item)

    // didStep puts τ back into [0.001, 0.5]; so does the forward before using it.
    let tau = method.extraParameters().first { $0.0 == "hacl.itc_temp" }!.1
    try tau.assign([2])
    try method.didStep(1, ctx)
    #expect(tau.item == 0.5)
    try tau.assign([1e-5])
    let clamped = try method.loss(batch, ctx)
    #expect(tau.item == 0.001 && clamped.metrics["itc_temp"] == Double(Float(0.001)))

    // Without the contrastive-only switch, a batch without conversations is refused with a hint.
    let full = try loadHACL()
    try prepared(full, ctx, sft: 0)
    do { _ = try full.loss(batch, ctx); Issue.record("expected an error") } catch let e as HalluError {
        #expect("\(e)".contains("contrastive_only"))
    }
    // And a run without contrastive data is refused before training.
    let ctx2 = HACLFixture.context()
    #expect(throws: HalluError.self) { try prepared(try loadHACL(), ctx2, contrastive: 0) }
}

@Test func haclPluginTrainsItsHeadsAndEvaluatesRetrievalOnHeldOutExamples() throws {
    var cfg = RunConfig()
    cfg.batchSize = 4
    cfg.lr = 3e-3
    cfg.steps = 12
    cfg.schedule = "constant"
    cfg.saveEvery = 0
    cfg.seed = 7
    let ctx = HACLFixture.context(seed: 6, config: cfg)
    let method = try loadHACL(["contrastive_only": "true", "holdout": "2"])
    try prepared(method, ctx, contrastive: 12, sft: 0)
    #expect(ctx.data.contrastive.count == 10)

    let before = try method.evaluate(ctx)
    #expect(before["retrieval_heldout"] == 1 && before["retrieval_examples"] == 2)
    let fixed = HACLFixture.batch(sft: 0, contrastive: 8)
    let lossBefore = try withNoGrad { try method.loss(fixed, ctx).loss.item }

    // The trainer picks the heads up as parameters once prepare has run.
    let trainer = try Trainer(context: ctx, methods: [(method: method, weight: 1)], totalSteps: 12)
    #expect(Set(trainer.parameters.map(\.0)).isSuperset(of: method.extraParameters().map(\.0)))
    // The trainer's step without its checkpoint writing: AdamW on the same parameters, then didStep.
    let optimizer = try AdamW(groups: [ParamGroup(name: "all", params: trainer.parameters.map(\.1), lr: 3e-3)])
    for step in 1...12 {
        optimizer.zeroGrad()
        let batch = try trainer.nextBatch()
        try method.loss(batch, ctx).loss.backward()
        try optimizer.step(lrScale: 1)
        try method.didStep(step, ctx)
    }
    let lossAfter = try withNoGrad { try method.loss(fixed, ctx).loss.item }
    print("hacl tiny run: L_ita \(lossBefore) -> \(lossAfter)")
    #expect(lossAfter < lossBefore, "L_ita \(lossBefore) -> \(lossAfter)")
    let tau = method.extraParameters().first { $0.0 == "hacl.itc_temp" }!.1.item
    #expect(HACLHeads.temperatureRange.contains(tau) && tau != 0.07)

    let after = try method.evaluate(ctx)
    print("hacl tiny run: retrieval \(before) -> \(after)")
    #expect(after["retrieval_examples"] == 2)
    #expect((0...1).contains(after["retrieval_accuracy"]!))

    // With nothing held out the evaluation falls back to the last training examples.
    let fallback = try loadHACL(["holdout": "0", "eval_examples": "3"])
    try prepared(fallback, ctx, contrastive: 12)
    let fb = try fallback.evaluate(ctx)
    #expect(fb["retrieval_heldout"] == 0 && fb["retrieval_examples"] == 3)
}
