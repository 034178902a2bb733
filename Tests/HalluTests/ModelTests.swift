import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

@Test func llavaParameterNamesFollowHuggingFace() {
    let m = LlavaModel(tinyConfig())
    let names = Set(m.namedParameters().map(\.0))
    #expect(names.contains("model.vision_tower.embeddings.patch_embedding.weight"))
    #expect(names.contains("model.vision_tower.encoder.layers.0.self_attn.out_proj.bias"))
    #expect(names.contains("model.multi_modal_projector.linear_2.weight"))
    #expect(names.contains("model.language_model.layers.0.self_attn.k_proj.weight"))
    #expect(names.contains("model.language_model.norm.weight"))
    #expect(names.contains("lm_head.weight"))
}

@Test func imageSpliceAndLossShapes() throws {
    let m = LlavaModel(tinyConfig())
    let img = m.config.imageTokenIndex
    let inputs = LlavaInputs(ids: [[1, img, 5, 6, 7], [1, img, 8]], pixels: tinyPixels(2),
                             labels: [[-100, -100, -100, 6, 7], [-100, -100, 8]])
    let (x, layout) = try m.embed(inputs)
    #expect(x.shape == [2, 4 + 16, 64])
    #expect(layout.lengths == [20, 18])
    let (rows, targets) = LlavaModel.shiftedTargets(layout)
    #expect(targets == [6, 7, 8])
    #expect(rows == [17, 18, 20 + 16])
    let loss = try m.loss(inputs)
    #expect(loss.item > 0 && loss.item.isFinite)
}

@Test func cachedGreedyMatchesFullRecompute() throws {
    let m = LlavaModel(tinyConfig(), seed: 11)
    let img = m.config.imageTokenIndex
    let inputs = LlavaInputs(ids: [[1, img, 5, 6], [1, img, 9]], pixels: tinyPixels(2))
    var cfg = GenerationConfig()
    cfg.maxNewTokens = 6
    cfg.eosTokenId = -1
    let fast = try Generator(model: m).generate(inputs, cfg)
    for s in 0..<2 {
        var ids = inputs.ids[s]
        var slow: [Int] = []
        let px = try inputs.pixels!.slice(axis: 0, s..<(s + 1))
        for _ in 0..<6 {
            let logits = try withNoGrad { try m.logits(LlavaInputs(ids: [ids], pixels: px)) }
            let last = try logits.slice(axis: 1, (logits.shape[1] - 1)..<logits.shape[1])
            let next = last.argmaxLastAxis()[0]
            slow.append(next); ids.append(next)
        }
        #expect(fast[s] == slow, "sample \(s)")
    }
}

@Test func loraStartsAsIdentityAndToggles() throws {
    let m = LlavaModel(tinyConfig(), seed: 2)
    let img = m.config.imageTokenIndex
    let inputs = LlavaInputs(ids: [[1, img, 5, 6]], pixels: tinyPixels(1), labels: [[-100, -100, 5, 6]])
    let before = try withNoGrad { try m.loss(inputs).item }
    let paths = m.applyLoRA(targets: ["q_proj", "v_proj"], rank: 4, alpha: 8, dropout: 0, scope: "model.language_model", seed: 1)
    #expect(paths.count == 4)
    #expect(try withNoGrad { try m.loss(inputs).item } == before)
    #expect(m.trainableParameters().allSatisfy { $0.0.contains("lora_") })
    // Make B non-zero: outputs change with the adapter on, and return with it off.
    for (n, t) in m.namedParameters() where n.contains("lora_B") { for i in 0..<t.count { t.data[i] = 0.05 } }
    #expect(try withNoGrad { try m.loss(inputs).item } != before)
    m.setLoRAEnabled(false)
    #expect(try withNoGrad { try m.loss(inputs).item } == before)
    m.setLoRAEnabled(true)
    let on = try withNoGrad { try m.loss(inputs).item }
    try m.mergeLoRA()
    #expect(abs(try withNoGrad { try m.loss(inputs).item } - on) < 1e-4)
}

@Test func loraLinearGradientCheck() throws {
    var rng = SeededRNG(seed: 4)
    let lin = Linear(5, 3, rng: &rng)
    lin.lora = LoRA(inFeatures: 5, outFeatures: 3, rank: 2, alpha: 4, rng: &rng)
    for i in 0..<lin.lora!.b.count { lin.lora!.b.data[i] = Float(i) * 0.1 - 0.2 }
    let x = Tensor.uniform([4, 5], low: -1, high: 1, rng: &rng, requiresGrad: true)
    let r = try GradCheck.check([x, lin.weight, lin.lora!.a, lin.lora!.b]) { t in try lin(t[0]) }
    #expect(r.passes(), "\(r)")
}

@Test func trainingStepsReduceLoss() throws {
    let m = LlavaModel(tinyConfig(), seed: 5)
    let img = m.config.imageTokenIndex
    let inputs = LlavaInputs(ids: [[1, img, 5, 6, 7, 2]], pixels: tinyPixels(1), labels: [[-100, -100, -100, 6, 7, 2]])
    let first = try m.loss(inputs)
    var last = first.item
    for _ in 0..<30 {
        m.zeroGrad()
        let l = try m.loss(inputs)
        try l.backward()
        try withNoGrad { for (_, p) in m.trainableParameters() { if let g = p.grad { for i in 0..<p.count { p.data[i] -= 0.05 * g.data[i] } } } }
        last = l.item
    }
    #expect(last < first.item * 0.5)
}

@Test func checkpointRoundTripGivesSameLogits() throws {
    let m = LlavaModel(tinyConfig(), seed: 9)
    let img = m.config.imageTokenIndex
    let inputs = LlavaInputs(ids: [[1, img, 5, 6]], pixels: tinyPixels(1))
    let dir = TestPaths.tempDir("ckpt").appendingPathComponent("model")
    #expect(Set(m.weightArrays().keys) == Set(m.config.expectedWeightShapes.keys))
    try m.save(to: dir, tokenizerJSON: nil, preprocessor: nil)
    let back = try LlavaModel.load(dir)
    let a = try withNoGrad { try m.logits(inputs).values }, b = try withNoGrad { try back.logits(inputs).values }
    #expect(a == b)
    // Adapters round-trip in PEFT form.
    m.applyLoRA(targets: ["q_proj"], rank: 2, alpha: 4, dropout: 0, seed: 3)
    for (n, t) in m.namedParameters() where n.contains("lora_B") { for i in 0..<t.count { t.data[i] = 0.01 * Float(i % 7) } }
    try m.save(to: dir, tokenizerJSON: nil, preprocessor: nil, loraTargets: ["q_proj"])
    let withAdapter = try LlavaModel.load(dir)
    #expect(try withNoGrad { try withAdapter.logits(inputs).values } == (try withNoGrad { try m.logits(inputs).values }))
}
