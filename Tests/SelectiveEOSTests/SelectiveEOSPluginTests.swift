import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
@testable import SelectiveEOS

/// A registry holding the plugin's methods (the test links its module).
private func loadSelectiveEOSPlugin() throws -> PluginRegistry {
    let registry = PluginRegistry()
    try registry.register(SelectiveEOSPlugin.plugin)
    return registry
}

private func configured(_ registry: PluginRegistry, _ id: String, _ overrides: [String: String] = [:]) throws -> Method {
    let m = try registry.make(id)
    try m.configure(OptionValues.resolve(m.options, overrides: overrides, method: id))
    return m
}

@Test func selectiveEOSPluginListsBothMethodsWithOptions() throws {
    let registry = try loadSelectiveEOSPlugin()
    let ids = registry.descriptors.map(\.id)
    #expect(ids.contains("selective-eos") && ids.contains("scoring-eos"))
    #expect(registry.library(of: "scoring-eos") == "built-in" && registry.plugins.last?.name == "SelectiveEOS")
    let selective = try registry.make("selective-eos")
    #expect(selective.options.map(\.name) == ["eos_id", "enabled"])
    #expect(selective.options.map(\.defaultValue) == ["-1", "true"])
    #expect(selective.dataKinds == [.sft])
    let scoring = try registry.make("scoring-eos")
    #expect(scoring.options.map(\.name) == ["eos_id", "score", "rule", "drop_fraction", "threshold", "score_batch_size"])
    #expect(scoring.options.first { $0.name == "score" }?.defaultValue == "s_neg_minus_s_pos")
    #expect(scoring.options.first { $0.name == "drop_fraction" }?.defaultValue == "0.2")
    #expect(scoring.options.allSatisfy { !$0.help.isEmpty })
    #expect(scoring.tokenObjective == nil)
    // Composition: selective-eos supplies the run's token objective; scoring-eos does not compete.
    #expect(try Composition.validate([selective, scoring]) === selective.tokenObjective)
}

@Test func selectiveEOSPluginRejectsBadOptions() throws {
    let registry = try loadSelectiveEOSPlugin()
    #expect(throws: HalluError.self) { try configured(registry, "selective-eos", ["eos_id": "-3"]) }
    #expect(throws: HalluError.self) { try configured(registry, "selective-eos", ["enabled": "maybe"]) }
    #expect(throws: HalluError.self) { try configured(registry, "selective-eos", ["eos": "2"]) }
    #expect(throws: HalluError.self) { try configured(registry, "scoring-eos", ["rule": "treshold"]) }
    #expect(throws: HalluError.self) { try configured(registry, "scoring-eos", ["rule": "threshold"]) }
    #expect(throws: HalluError.self) { try configured(registry, "scoring-eos", ["drop_fraction": "1.2"]) }
    #expect(throws: HalluError.self) { try configured(registry, "scoring-eos", ["score": "length"]) }
    #expect(throws: HalluError.self) { try configured(registry, "scoring-eos", ["score_batch_size": "0"]) }
    _ = try configured(registry, "scoring-eos", ["rule": "threshold", "threshold": "1.5"])
}

@Test func selectiveEOSPluginLossOnATinyModel() throws {
    let registry = try loadSelectiveEOSPlugin()
    let ctx = selectiveEOSContext()
    var batch = Batch()
    batch.conversations = Array(selectiveEOSConversations().prefix(4))
    let method = try configured(registry, "selective-eos")
    // Before prepare the run's objective is plain cross-entropy: the method refuses to run silently on it.
    #expect(throws: HalluError.self) { try method.loss(batch, ctx) }
    try method.prepare(ctx)
    #expect(ctx.tokenObjective === method.tokenObjective)
    let out = try method.loss(batch, ctx)
    #expect(out.loss.item.isFinite && out.loss.item > 0)
    #expect(out.metrics["eos_tokens"] == 4)
    // The same number as the CoreRuntime objective on the model's supervised logits (EOS = tokenizer's 2).
    let (logits, targets, _) = try ctx.model.supervisedLogits(ctx.sftInputs(batch.conversations))
    #expect(out.metrics["tokens"] == Double(targets.count))
    let direct = try SelectiveEOSObjective(eosId: 2).loss(logits: logits, targets: targets)
    #expect(abs(out.loss.item - direct.item) < 1e-6)
    let plain = try Tensor.crossEntropy(logits, targets: targets)
    #expect(out.loss.item < plain.item)     // EOS removed from non-EOS softmaxes can only lower those terms
    // Gradients reach the model.
    try out.loss.backward()
    #expect(ctx.model.trainableParameters().contains { $0.1.grad != nil })

    // enabled=false is plain cross-entropy.
    let offCtx = selectiveEOSContext()
    let off = try configured(registry, "selective-eos", ["enabled": "false"])
    try off.prepare(offCtx)
    let offLoss = try off.loss(batch, offCtx).loss.item
    #expect(abs(offLoss - (try offCtx.model.loss(offCtx.sftInputs(batch.conversations)).item)) < 1e-6)
}

@Test func scoringEOSPluginScoresFiltersWritesAndTrains() throws {
    let registry = try loadSelectiveEOSPlugin()
    let ctx = selectiveEOSContext()
    let convs = selectiveEOSConversations()
    let method = try configured(registry, "scoring-eos", ["drop_fraction": "0.25", "score_batch_size": "3"])
    try method.prepare(ctx)
    let out = try method.transformData(TrainingData(conversations: convs), ctx)
    #expect(out.conversations.count == 6)

    // The decisions follow the default rule on freshly computed scores.
    let scores = try EOSScoring.score(convs, context: ctx, eosId: 2, batchSize: 1)
    let keep = try EOSFilterRule.dropTopFraction(0.25).keep(scores.map(EOSScoreKind.sNegMinusSPos.value))
    #expect(out.conversations.map(\.id) == zip(convs, keep).filter(\.1).map(\.0.id))

    // scores.csv: header plus one line per sample, in data order, with the kept flags.
    let csv = try String(contentsOf: ctx.runDir.appendingPathComponent("scores.csv"), encoding: .utf8)
    let lines = csv.split(separator: "\n").map(String.init)
    #expect(lines.first == EOSScoreFiles.header)
    #expect(lines.count == convs.count + 1)
    #expect(lines.dropFirst().map { $0.hasSuffix(",1") } == keep)
    let first = lines[1].split(separator: ",").map(String.init)
    #expect(first[0] == "s0")
    #expect(abs(Double(first[1])! - scores[0].sPos) < 1e-4 && abs(Double(first[2])! - scores[0].sNeg) < 1e-4)
    #expect(abs(Double(first[4])! - scores[0].sNegMean) < 1e-4)

    // filtered.json: the kept conversations, in LLaVA's format.
    let records = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: ctx.runDir.appendingPathComponent("filtered.json"))) as? [[String: Any]])
    #expect(records.map { $0["id"] as? String } == out.conversations.map { Optional($0.id) })
    #expect(try method.evaluate(ctx) == ["scoring_eos/kept": 6, "scoring_eos/dropped": 2])

    // Plain SFT on the kept data.
    var batch = Batch()
    batch.conversations = Array(out.conversations.prefix(3))
    let loss = try method.loss(batch, ctx)
    #expect(abs(loss.loss.item - (try ctx.model.loss(ctx.sftInputs(batch.conversations)).item)) < 1e-6)

    // A rule that keeps nothing is an error, not an empty run; so is empty data.
    let all = try configured(registry, "scoring-eos", ["rule": "threshold", "threshold": "-1e9"])
    #expect(throws: HalluError.self) { try all.transformData(TrainingData(conversations: convs), ctx) }
    #expect(throws: HalluError.self) { try method.transformData(TrainingData(), ctx) }
}
