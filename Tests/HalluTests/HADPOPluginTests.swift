import Foundation
import Testing
@testable import CoreRuntime

/// The plugin library built next to the tests (debug or release, as the tests were built).
func builtPlugin(_ name: String) throws -> String {
    #if DEBUG
    let config = "debug"
    #else
    let config = "release"
    #endif
    let path = TestPaths.repo.appendingPathComponent(".build/\(config)/lib\(name).so").path
    guard FileManager.default.fileExists(atPath: path) else {
        throw HalluError.file(path, "not built; run `swift build\(config == "release" ? " -c release" : "")` before the tests")
    }
    return path
}

/// Loads a method from its built library through the registry, as `hallu run` does.
func loadMethod(_ library: String, _ id: String) throws -> Method {
    let registry = PluginRegistry(builtins: false)
    let plugin = try #require(try registry.load(try builtPlugin(library)))
    #expect(plugin.methods.map(\.id) == [id])
    #expect(registry.library(of: id)?.hasSuffix("lib\(library).so") == true)
    return try registry.make(id)
}

@Test func haDPOPluginLoadsAndTrainsWithLoRA() throws {
    let method = try loadMethod("HADPO", "ha-dpo")
    #expect(method.dataKinds == [.preference])
    let defaults = Dictionary(uniqueKeysWithValues: method.options.map { ($0.name, $0.defaultValue) })
    #expect(defaults == ["beta": "0.1", "gamma": "0.5", "precompute_reference": "false", "label_smoothing": "0"])
    #expect(method.options.allSatisfy { !$0.help.isEmpty })
    do {
        try method.configure(["betta": "0.2"])
        Issue.record("unknown option accepted")
    } catch let e as HalluError {
        #expect(e.message.contains("did you mean \"beta\""))
    }

    let ctx = dpoContext(lora: true)
    let pairs = dpoPairs(2)
    ctx.data = TrainingData(preferences: pairs)
    try method.configure(["precompute_reference": "true"])
    try method.prepare(ctx)
    #expect(FileManager.default.fileExists(atPath: ctx.runDir.appendingPathComponent(DPO.referenceCacheFile).path))
    var batch = Batch()
    batch.preferences = pairs
    let out = try method.loss(batch, ctx)
    // Fresh adapters: policy = reference, so the DPO part is log 2; the SFT part is the chosen NLL.
    let sft = try #require(out.metrics["sft_loss"])
    #expect(abs(out.metrics["dpo_loss"]! - log(2.0)) < 1e-6)
    #expect(abs(Double(out.loss.item) - (log(2.0) + 0.5 * sft)) < 1e-5)
    for k in ["rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "logps/chosen", "logps/rejected"] {
        #expect(out.metrics[k] != nil, "missing metric \(k)")
    }
    try out.loss.backward()
    let withGrad = ctx.model.namedParameters().filter { $0.1.grad != nil }.map(\.0)
    #expect(!withGrad.isEmpty && withGrad.allSatisfy { $0.contains(".lora_") })

    // gamma 0 and label smoothing: the loss is the plain (conservative) DPO value at h = 0, which is log 2 too.
    try method.configure(["gamma": "0", "label_smoothing": "0.1"])
    let plain = try method.loss(batch, ctx)
    #expect(abs(plain.loss.item - Float(log(2.0))) < 1e-6 && plain.metrics["sft_loss"] == nil)
}

@Test func hsaDPOPluginLoadsAndWeightsTheRejectedSide() throws {
    let method = try loadMethod("HSADPO", "hsadpo")
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
    let want = try HSADPOLoss.loss(lp, beta: 0.1, chosenWeights: [1, 1], rejectedWeights: [0.25, 3])
    #expect(abs(out.loss.item - want.loss.item) < 1e-6)
    let unweighted = try HADPOLoss.loss(lp, beta: 0.1)
    #expect(abs(out.loss.item - unweighted.loss.item) > 1e-6)
    try out.loss.backward()
    #expect(ctx.model.namedParameters().filter { $0.1.grad != nil }.allSatisfy { $0.0.contains(".lora_") })
}
