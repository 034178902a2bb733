import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
@testable import HSADPO

/// The plugin's evaluator joins every table the core writes: metrics.json, summary.json, the
/// terminal table, report.html and the sweep's columns, without any change in the core.
@Test func severityEvaluatorReportsAndJoinsEveryTable() throws {
    let registry = PluginRegistry()
    try registry.register(HSADPOPlugin.plugin)
    #expect(registry.evaluators.map(\.name) == ["chair", "pope", "shr", "severity"])
    let ctx = try pipelineContext(runDir: TestPaths.tempDir("severity-run"))
    let out = TestPaths.tempDir("severity-eval")
    var settings = EvalSettings()
    settings.maxNewTokens = 40
    var evaluation = ModelEvaluation(model: ctx.model, codec: ctx.codec, images: ctx.images, dataDir: pipelineWorld,
                                     settings: settings, evaluators: registry.evaluators)
    let metrics = try evaluation.run(outDir: out)
    #expect(metrics.reports.map(\.name) == ["chair", "pope", "shr", "severity"])
    // The scripted model says the same three sentences about every image; the ground-truth detector
    // labels them per image, and the report sums what it finds.
    let report = try #require(metrics.report("severity"))
    guard case .object(let kv) = report else { Issue.record("not an object"); return }
    let values = Dictionary(kv, uniquingKeysWith: { a, _ in a })
    #expect(values["descriptions"] == .int(8) && values["sentences"] == .int(24))
    let truth = try SceneTruth.load(folder: pipelineWorld)
    let prompts = try DataReaders.chairPrompts(pipelineWorld.appendingPathComponent("chair_prompts.jsonl").path)
    let captions = try JSONFiles.readJSONLines(out.appendingPathComponent("chair_captions.jsonl").path).map { $0.record["text"] as! String }
    let labels = try GroundTruthDetector(truth: truth).detect(zip(prompts, captions).map { p, c in
        DetectionQuery(id: "", image: pipelineWorld.appendingPathComponent(p.image).path, question: "", sentences: DescriptionSentences.split(c))
    })
    let severity = Double(labels.flatMap { $0 }.filter(\.hallucinated).reduce(0) { $0 + $1.severity }) / 8
    #expect(values["severity"] == .rounded(severity) && severity > 0)

    // metrics.json and summary.json hold it under its name and read back.
    let file = out.appendingPathComponent("metrics.json")
    try CheckpointJSON.write(metrics, to: file)
    let back = try CheckpointJSON.read(ModelMetrics.self, from: file.path)
    #expect(back == metrics && back.chair != nil)
    let summary = RunSummary(method: "hsadpo", seed: 0, seconds: 1, baseline: back, trained: back, checkpoint: "/m", steps: 1,
                             finalLoss: 0.5, methodMetrics: [:])
    let summaryFile = out.appendingPathComponent("summary.json")
    try CheckpointJSON.write(summary, to: summaryFile)
    let json = try #require(try JSONFiles.readJSON(summaryFile.path) as? [String: Any])
    #expect(((json["trained"] as? [String: Any])?["severity"] as? [String: Any])?["severity"] != nil)
    // The terminal table, report.html and a sweep's columns show its headline numbers.
    #expect(RunReport.table(summary, evaluators: registry.evaluators).contains("severity/description"))
    let folder = RunFolder(TestPaths.tempDir("severity-folder"))
    try RunReport.write(summary: summary, folder: folder, dataDir: pipelineWorld, evaluators: registry.evaluators)
    #expect(try String(contentsOf: folder.report, encoding: .utf8).contains("severity/description"))
    let columns = SweepResults.values(of: summary, evaluators: registry.evaluators)
    #expect(columns["severity_severity"] == (try #require(back.report("severity").flatMap { r -> Double? in
        if case .object(let kv) = r, case .number(let d)? = kv.first(where: { $0.0 == "severity" })?.1 { return d } else { return nil }
    })))
    // Without the plugin at hand (a sweep report elsewhere) the report still counts, by its top-level numbers.
    #expect(SweepResults.values(of: summary)["severity_score"] != nil)
}
