import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// A method with its own run settings, as a plugin declares them.
private final class Recipe: Method {
    let id: String
    let defaults: RunDefaults
    init(_ id: String, _ defaults: RunDefaults) { self.id = id; self.defaults = defaults }
    var summary: String { "test" }
    var dataKinds: [DataKind] { [.sft] }
    var runDefaults: RunDefaults { defaults }
    func loss(_ batch: Batch, _ context: TrainContext) throws -> LossOutput { throw HalluError("unused") }
}

@Test func runDefaultsApplyUnderConfigFilesFlagsAndSet() throws {
    let paper = Recipe("paper", RunDefaults(lr: 1e-4, steps: 100, batchSize: 8, lora: true, loraR: 16, source: "the paper, scaled"))
    // Alone: hallu's defaults with the method's on top.
    let plain = try RunConfig.resolve(methods: [paper])
    #expect(plain.lr == 1e-4 && plain.steps == 100 && plain.batchSize == 8 && plain.lora && plain.loraR == 16)
    #expect(plain.weightDecay == RunConfig().weightDecay && plain.method == "paper")
    // --set (and flags, which come in the same way) win.
    let set = try RunConfig.resolve(methods: [paper], assignments: ["lr=3e-4", "lora=false"])
    #expect(set.lr == 3e-4 && !set.lora && set.steps == 100)
    // A config file wins over the defaults too, and an epoch count replaces a default step count.
    let dir = TestPaths.tempDir("defaults")
    let file = try write(#"{"batch_size": 4, "epochs": 2}"#, "run.json", in: dir)
    let fromFile = try RunConfig.resolve(methods: [paper], file: file)
    #expect(fromFile.batchSize == 4 && fromFile.epochs == 2 && fromFile.steps == nil && fromFile.lr == 1e-4)
    #expect(try RunConfig.resolve(methods: [paper], assignments: ["epochs=3"]).steps == nil)
    #expect(try RunConfig.resolve(methods: [paper], assignments: ["epochs=3", "steps=7"]).steps == 7)
    // In a composition the later method's value wins where both set one.
    let other = Recipe("other", RunDefaults(lr: 5e-5, source: ""))
    let both = try RunConfig.resolve(methods: [paper, other])
    #expect(both.lr == 5e-5 && both.steps == 100 && both.method == "paper+other")
    // A default that is not a run config key is an error naming the method.
    let broken = Recipe("broken", RunDefaults([(key: "learning_rat", value: "1")]))
    #expect(message { _ = try RunConfig.resolve(methods: [broken]) }.contains("broken run defaults"))
}

@Test func sweepCellsGetTheirMethodsRunDefaultsUnderTheSweepsValues() throws {
    let json = try OrderedJSON.parse(Data(#"{"name": "d", "base": {"batch_size": 4}, "grid": {"method": ["sft", "paper"], "lr": [0.01]}, "list": [{"method": "paper", "epochs": 1}]}"#.utf8))
    let spec = try SweepSpec.parse(json, path: "s.json", defaultName: "d")
    let paper = Recipe("paper", RunDefaults(lr: 1e-4, steps: 100, batchSize: 8, lora: true))
    let plan = try SweepPlan.expand(spec, path: "s.json") { c in c.methodIds.map { $0 == "paper" ? paper as Method : SFTMethod() } }
    let byMethod = Dictionary(grouping: plan.cells, by: { $0.config.method })
    let sft = try #require(byMethod["sft"]?.first?.config), grid = try #require(byMethod["paper"]?.first?.config)
    #expect(!sft.lora && sft.steps == nil && sft.batchSize == 4 && sft.lr == 0.01)
    #expect(grid.lora && grid.steps == 100 && grid.batchSize == 4 && grid.lr == 0.01)
    let listed = try #require(byMethod["paper"]?.last?.config)
    #expect(listed.epochs == 1 && listed.steps == nil && listed.lr == 1e-4)
}
