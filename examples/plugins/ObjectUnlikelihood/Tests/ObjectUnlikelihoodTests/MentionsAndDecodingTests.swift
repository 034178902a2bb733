import CoreRuntime
import ObjectUnlikelihood
import Testing

@Test func mentionsCountsDistinctAndAbsentObjects() throws {
    #expect(MentionsEvaluator.objectsNamed(in: "A red cup, a sofa and a dining table. The cup is red.") == ["cup", "couch", "dining table"])
    let report = try MentionsEvaluator.report([("There is a cup and a dog.", ["cup"]), ("A bus.", ["bus", "car"])])
    #expect(report == .obj(["absent": .rounded(0.5), "named": .rounded(1.5), "descriptions": .int(2)]))
    #expect(MentionsEvaluator().headline(report).map(\.key) == ["mentions_absent", "mentions_named"])
}

@Test func eagerEOSChecksItsOptions() throws {
    let hook = EagerEOS()
    try hook.configure(["margin": "0.5", "min_tokens": "3"])
    #expect(hook.margin == 0.5 && hook.minTokens == 3)
    #expect(throws: HalluError.self) { try hook.configure(["margin": "-1"]) }
    #expect(throws: HalluError.self) { try hook.configure(["min_tokens": "x"]) }
    #expect(throws: HalluError.self) { try hook.configure(["strength": "2"]) }
}

/// What the plugin hands to hallu registers cleanly next to the built-ins.
@Test func pluginRegisters() throws {
    let registry = PluginRegistry()
    try registry.register(ObjectUnlikelihoodPlugin.plugin)
    #expect(try registry.make("object-ul").dataKinds == [AbsentObjects.kind])
    #expect(try registry.makeDecoder("eager-eos").name == "eager-eos")
    #expect(registry.evaluators.map(\.name).suffix(1) == ["mentions"])
    #expect(registry.data.kind(AbsentObjects.kind) != nil)
}

/// On a small random model: plain greedy decoding runs to the token limit (EOS never wins), and
/// with a margin wider than any logit gap the hook ends every answer at the first step it may.
@Test func eagerEOSEndsAnswersEarly() throws {
    let model = LlavaModel(try LlavaConfig.tiny(vocabSize: 50, imageTokenIndex: 49), seed: 1)
    model.train(false)
    let inputs = LlavaInputs(ids: [[1, 7, 8, 9], [1, 10, 11]], pixels: nil)
    var config = GenerationConfig()
    config.maxNewTokens = 12
    config.eosTokenId = 3
    let plain = try Generator(model: model, hooks: []).generate(inputs, config)
    let hook = EagerEOS()
    try hook.configure(["margin": "100", "min_tokens": "3"])
    let eager = try Generator(model: model, hooks: [hook]).generate(inputs, config)
    #expect(plain.allSatisfy { !$0.contains(3) }, "\(plain)")
    #expect(eager.map { Array($0.prefix(4)) } == plain.map { Array($0.prefix(3)) + [3] }, "\(eager)")
}
