import CoreRuntime
import ObjectUnlikelihood
import Testing

@Test func mentionsCountsDistinctAndAbsentObjects() throws {
    #expect(MentionsEvaluator.objectsNamed(in: "A red cup, a sofa and a dining table. The cup is red.") == ["cup", "couch", "dining table"])
    let report = try MentionsEvaluator.report([("There is a cup and a dog.", ["cup"]), ("A bus.", ["bus", "car"])])
    #expect(report == .obj(["absent": .rounded(0.5), "named": .rounded(1.5), "descriptions": .int(2)]))
    #expect(MentionsEvaluator().headline(report).map(\.key) == ["mentions_absent", "mentions_named"])
}

@Test func repeatPenaltyChecksItsOption() throws {
    let hook = RepeatPenalty()
    try hook.configure(["penalty": "2"])
    #expect(hook.penalty == 2)
    #expect(throws: HalluError.self) { try hook.configure(["penalty": "0.5"]) }
    #expect(throws: HalluError.self) { try hook.configure(["strength": "2"]) }
}

/// What the plugin hands to hallu registers cleanly next to the built-ins.
@Test func pluginRegisters() throws {
    let registry = PluginRegistry()
    try registry.register(ObjectUnlikelihoodPlugin.plugin)
    #expect(try registry.make("object-ul").dataKinds == [AbsentObjects.kind])
    #expect(try registry.makeDecoder("repeat-penalty").name == "repeat-penalty")
    #expect(registry.evaluators.map(\.name).suffix(1) == ["mentions"])
    #expect(registry.data.kind(AbsentObjects.kind) != nil)
}
