import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
@testable import HSADPO

/// What the scripted base model says about every image. Each sentence can be wrong in its own way
/// (a missing cup, bird or person: object; a cup of another colour: attribute; the bird not left of
/// the person: relation), and no token repeats, so that a bigram model can write it (see `scriptModel`).
let pipelineScript = "The image shows a kitchen. There is one red cup! My bird stands left of another person?"

/// A tiny LLaVA with a tokenizer trained on `pipelineWorld`, whose weights are set so that, whatever
/// the image, it answers with `pipelineScript` (training a tiny model to write the world's text takes
/// minutes in a debug build; this takes none). Built once per test process; returns the model folder.
let pipelineBase: URL = {
    let root = TestPaths.tempDir("hsapipe-base")
    let dir = root.appendingPathComponent("model")
    let data = try! Dataset.load(pipelineWorld.path, kinds: [.sft, .preference, .detection], checkImages: false, catalog: hsaCatalog)
    let tok = TrainingCorpus(data).tokenizer()
    let image = tok.id(of: "<image>")!
    let cfg = try! LlavaPreset.tiny.config(vocabSize: tok.vocabSize, imageTokenIndex: image, bosTokenId: tok.bosId,
                                           eosTokenId: tok.eosId, padTokenId: tok.padId)
    let model = LlavaModel(cfg, seed: 3)
    let codec = try! PromptCodec(tokenizer: tok, imageTokenIndex: image, system: "")
    try! scriptModel(model, after: codec.prompt("Describe this image in detail.").last!,
                     says: tok.encode(pipelineScript, addSpecialTokens: false) + [tok.eosId!])
    let tokFile = root.appendingPathComponent("tokenizer.json")
    try! tok.save(tokFile.path)
    try! model.save(to: dir, tokenizerJSON: try! Data(contentsOf: tokFile), preprocessor: .square(32))
    var info = HalluCheckpointInfo()
    info.systemPrompt = ""
    try! CheckpointJSON.write(info, to: dir.appendingPathComponent(HalluCheckpointInfo.fileName))
    return dir
}()

/// Turns the decoder into a bigram table that continues `start` with `ids` under greedy decoding:
/// attention and MLP outputs are zeroed, so the last hidden state is the current token's embedding;
/// each token of the chain gets its own one-hot embedding, and the head maps it to its successor.
func scriptModel(_ model: LlavaModel, after start: Int, says ids: [Int]) throws {
    let d = model.config.text.hiddenSize
    guard Set(ids + [start]).count == ids.count + 1, ids.count < d else {
        throw HalluTestError("script must not repeat a token and must fit in \(d) dimensions: \(ids)")
    }
    let params = Dictionary(uniqueKeysWithValues: model.namedParameters())
    for (name, t) in params where name.hasSuffix("o_proj.weight") || name.hasSuffix("down_proj.weight") {
        for i in 0..<t.count { t.data[i] = 0 }
    }
    let embed = params["model.language_model.embed_tokens.weight"]!, head = params["lm_head.weight"]!
    for i in 0..<head.count { head.data[i] = 0 }
    let chain = [start] + ids
    for (k, token) in chain.dropLast().enumerated() {
        for j in 0..<d { embed.data[token * d + j] = j == k ? 1 : 0 }
        head.data[chain[k + 1] * d + k] = 10
    }
}
/// The texts a world tokenizer is trained on, including the detector's prompts and answers so that
/// they encode compactly.
struct TrainingCorpus {
    var texts: [String] = []
    init(_ data: Dataset) {
        for c in data.conversations { for t in c.turns { texts.append(t.value.replacingOccurrences(of: "<image>", with: "")) } }
        for p in data.preferences { texts += [p.question, p.chosen, p.rejected] }
        for ex in data.detection {
            texts += ModelDetector.prompts(ex.sentences.map(\.text), granularity: .response)
            texts += ModelDetector.answers(ex.sentences, granularity: .response)
        }
    }
    /// Trained with many copies of `pipelineScript`, so that each of its words is one token.
    func tokenizer() -> Tokenizer {
        Tokenizer.train(corpus: texts + Array(repeating: pipelineScript, count: 300), vocabSize: 420, specialTokens: DefaultAssets.specialTokens)
    }
}

/// The trained tiny base in a training context, as `hallu run` builds it.
func pipelineContext(runDir: URL) throws -> TrainContext {
    let (model, codec, images) = try RunPipeline.loadModel(pipelineBase, dataDir: pipelineWorld)
    var cfg = RunConfig()
    cfg.data = pipelineWorld.path
    let ctx = TrainContext(model: model, codec: codec, images: images, config: cfg, runDir: runDir)
    ctx.log = { _ in }
    ctx.dataDir = pipelineWorld
    return ctx
}

@Test func modelDetectorTrainsOnDetectionConversationsAndAnswersInTheFormat() throws {
    let (examples, truth) = try pipelineWorldData()
    // The training conversations are the format's own text.
    let conv = ModelDetector.conversations([examples[0]], granularity: .response)
    #expect(conv.count == 1 && conv[0].turns[0].value.hasPrefix("<image>\n" + ModelDetector.responseInstruction + "\n1. "))
    #expect(DetectionFormat.parse(conv[0].turns[1].value, count: examples[0].sentences.count).map { $0! }
            == examples[0].sentences.map { var s = $0; s.text = ""; s.reason = ""; return s })
    let perSentence = ModelDetector.conversations([examples[0]], granularity: .sentence)
    #expect(perSentence.count == examples[0].sentences.count)
    #expect(perSentence.map { DetectionFormat.verdict($0.turns[1].value)?.hallucinated } == examples[0].sentences.map(\.hallucinated))

    let dir = TestPaths.tempDir("hsapipe-detector")
    let ctx = try pipelineContext(runDir: dir)
    var t = ModelDetector.Training()
    t.steps = 6
    t.batchSize = 8
    let before = ctx.model.namedParameters().map { $0.1.values }
    let detector = try ModelDetector.train(base: ctx.model, codec: ctx.codec, images: ctx.images, examples: Array(examples.dropLast(10)),
                                           granularity: .sentence, settings: t, dir: dir, log: { _ in })
    // The policy is untouched; the detector's own trainer logged every step.
    #expect(ctx.model.namedParameters().map { $0.1.values } == before)
    let logged = try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
    #expect(logged.count == 6)
    let heldout = Array(examples.suffix(10))
    let labels = try detector.detect(heldout.map(DetectionQuery.init))
    #expect(zip(labels, heldout).allSatisfy { $0.count == $1.sentences.count && zip($0, $1.sentences).allSatisfy { $0.text == $1.text } })
    let m = try DetectorMetrics.compute(reference: heldout.map(\.sentences), predicted: labels)
    #expect(m.sentences == heldout.reduce(0) { $0 + $1.sentences.count } && (0...1).contains(m.f1))
    // Saved and loaded, it answers the same.
    try detector.save(to: dir.appendingPathComponent("model"))
    let loaded = try ModelDetector.load(dir.appendingPathComponent("model"), policy: ctx.model, codec: ctx.codec, images: ctx.images, granularity: .sentence)
    #expect(try loaded.detect(heldout.map(DetectionQuery.init)) == labels)
    _ = truth
}

@Test func hsadpoPipelineRunsEndToEndThroughTheMethod() throws {
    let registry = PluginRegistry()
    try registry.register(HSADPOPlugin.plugin)
    let runs = TestPaths.tempDir("hsapipe-runs")
    var cfg = RunConfig()
    cfg.method = "hsadpo"
    cfg.base = pipelineBase.path
    cfg.data = pipelineWorld.path
    cfg.steps = 2
    cfg.batchSize = 4
    cfg.lr = 1e-4
    cfg.skipEval = true
    cfg.runsDir = runs.path
    cfg.name = "pipe"
    cfg.methodOptions["hsadpo"] = ["pipeline": "true", "pipeline_images": "24", "pipeline_max_new_tokens": "48", "detector_heldout": "12"]
    var lines: [String] = []
    let summary = try RunPipeline(config: cfg, registry: registry, log: { lines.append($0) }).run()
    let folder = runs.appendingPathComponent("pipe")
    let m = summary.methodMetrics
    let pairs = try #require(m["hsadpo/pipeline/pairs"])
    #expect(m["hsadpo/pipeline/descriptions"] == 24 && pairs > 0 && summary.steps == 2)
    // The ground-truth detector measured against the world's labels: 1 by construction.
    #expect(m["hsadpo/detector/heldout/f1"] == 1 && m["hsadpo/detector/heldout/type_accuracy"] == 1)
    #expect(lines.contains { $0.contains("hsadpo pipeline:") && $0.contains("pairs") })

    // The pairs file has the world's schema and reads back as the pairs trained on.
    let read = try HSADPOData.preferences(folder.appendingPathComponent(HSAPipeline.pairsFile).path, images: ImageResolver(root: folder, allowOutside: true))
    #expect(Double(read.count) == pairs)
    let truth = try SceneTruth.load(folder: pipelineWorld)
    let gt = GroundTruthDetector(truth: truth)
    for p in read {
        let rejected = try gt.detect([DetectionQuery(id: p.id, image: p.image!, question: p.question, sentences: DescriptionSentences.split(p.rejected))])[0]
        let chosen = try gt.detect([DetectionQuery(id: p.id, image: p.image!, question: p.question, sentences: DescriptionSentences.split(p.chosen))])[0]
        #expect(chosen.allSatisfy { !$0.hallucinated } && rejected.contains { $0.hallucinated })
        #expect(p.rejectedScore == SeverityScore.sum.score(rejected.filter(\.hallucinated).map(\.severity)) && p.chosenScore == 1)
        #expect(p.question == "Describe this image in detail.")
    }
    let stats = try CheckpointJSON.read(HSAPipelineStats.self, from: folder.appendingPathComponent(HSAPipeline.statsFile).path)
    #expect(stats.pairs == read.count && stats.descriptions == 24)
    #expect(stats.hallucinatedSentences == stats.hallucinatedByType.values.reduce(0, +))
    #expect(Double(stats.hallucinatedByType["object"] ?? 0) == m["hsadpo/pipeline/hallucinated_object"])
    let report = try CheckpointJSON.read(DetectorReport.self, from: folder.appendingPathComponent(HSAPipeline.reportFile).path)
    #expect(report.detector == "ground-truth" && report.heldout?.responses == 12 && report.note.contains("by construction"))
    let labelled = try JSONFiles.readJSONLines(folder.appendingPathComponent(HSAPipeline.labelsFile).path)
    #expect(labelled.count == 24)

    // The same pipeline in the same folder reuses its pairs.
    let method = try registry.make("hsadpo")
    try method.configure(try OptionValues.resolve(method.options, overrides: cfg.methodOptions["hsadpo"]!, method: "hsadpo"))
    let ctx = try pipelineContext(runDir: folder)
    let ctx2 = TrainContext(model: ctx.model, codec: ctx.codec, images: ctx.images, config: cfg, runDir: folder)
    var logged: [String] = []
    ctx2.log = { logged.append($0) }
    let again = try method.transformData(TrainingData(), ctx2)
    #expect(again.preferences == read && logged.contains { $0.contains("reusing") })
    #expect(try method.evaluate(ctx2)["pipeline/pairs"] == pairs)
}
