import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
@testable import HADPO

@Test func haDPOPluginLoadsAndTrainsWithLoRA() throws {
    let method = try makeMethod(HADPOPlugin.plugin, "ha-dpo")
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
