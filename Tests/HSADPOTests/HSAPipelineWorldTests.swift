import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
@testable import HSADPO

/// A small scene world for the pipeline tests (generated once per test process), and the core's
/// formats with the plugin's.
let (pipelineWorld, hsaCatalog): (URL, DataCatalog) = {
    try! pluginWorld(HSADPOPlugin.plugin, export: HSADPOData.worldExport, trainImages: 60, evalImages: 8, seed: 11)
}()

/// The world's labelled detection records and its ground truth.
func pipelineWorldData() throws -> (examples: [DetectionExample], truth: SceneTruth) {
    (try Dataset.load(pipelineWorld.path, kinds: [.detection], catalog: hsaCatalog).detection, try SceneTruth.load(folder: pipelineWorld))
}

@Test func groundTruthDetectorReproducesTheWorldsLabels() throws {
    let (examples, truth) = try pipelineWorldData()
    #expect(examples.count > 60)
    let d = GroundTruthDetector(truth: truth)
    let predicted = try d.detect(examples.map(DetectionQuery.init))
    let m = try DetectorMetrics.compute(reference: examples.map(\.sentences), predicted: predicted)
    // By construction: the labels were made from the same ground truth.
    #expect(m.precision == 1 && m.recall == 1 && m.f1 == 1 && m.accuracy == 1 && m.typeAccuracy == 1 && m.severityAccuracy == 1)
    #expect(m.referenceHallucinated > 60 && Set(m.recallByType.keys) == ["object", "attribute", "relation"])
    // The faithful descriptions of the preference pairs have no flagged sentence.
    let pairs = try Dataset.load(pipelineWorld.path, kinds: [.preference], catalog: hsaCatalog).preferences(from: HSADPOData.preferenceFormatName)
    let chosen = try d.detect(pairs.map { DetectionQuery(id: $0.id, image: $0.image!, question: $0.question, sentences: DescriptionSentences.split($0.chosen)) })
    #expect(chosen.allSatisfy { $0.allSatisfy { !$0.hallucinated } })
}

@Test func correctedWorldRejectionsAreFaithfulAndMostlyTheChosenText() throws {
    let (examples, truth) = try pipelineWorldData()
    let pairs = try Dataset.load(pipelineWorld.path, kinds: [.preference], catalog: hsaCatalog).preferences(from: HSADPOData.preferenceFormatName)
    let chosenByImage = Dictionary(pairs.map { ($0.image!, $0.chosen) }, uniquingKeysWith: { a, _ in a })
    let d = GroundTruthDetector(truth: truth)
    let rewriter = CorrectingRewriter()
    var same = 0, total = 0
    for ex in examples where ex.id.hasSuffix("-rejected") {
        let labels = try d.detect([DetectionQuery(ex)])[0]
        let out = try rewriter.rewrite(labels, scene: truth.facts(image: ex.image!))
        let check = try d.detect([DetectionQuery(id: ex.id, image: ex.image!, question: "", sentences: DescriptionSentences.split(out.chosen))])[0]
        #expect(check.allSatisfy { !$0.hallucinated }, "\(out.chosen)")
        total += 1
        if out.chosen == chosenByImage[ex.image!] { same += 1 }
    }
    // Substituted hallucinations are undone exactly unless a "next to" was flipped to the dominant
    // axis or the renamed object's colour matches another undescribed object.
    #expect(total == 60 && Double(same) / Double(total) > 0.8, "\(same) of \(total)")
}

@Test func badSceneFilesAndMissingTruthAreNamedErrors() throws {
    let dir = TestPaths.tempDir("hsapipe-bad")
    // Image paths stay inside the data folder: the world's images are linked in.
    try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("images"), withDestinationURL: pipelineWorld.appendingPathComponent("images"))
    let image = "images/train/000000.png"
    let good = #"{"id": 0, "split": "train", "image": "\#(image)", "scene": "park", "objects": [{"category": "dog", "color": "red", "size": "small", "box": [0, 0, 8, 8]}], "relations": []}"#
    func expectError(_ text: String, _ fragments: [String]) {
        try! AtomicFile.write(text, to: dir.appendingPathComponent("scenes.jsonl"))
        do {
            _ = try SceneTruth.load(folder: dir)
            Issue.record("accepted: \(text)")
        } catch let e as HalluError {
            for f in fragments { #expect(e.message.contains(f), "\(e.message)") }
        } catch { Issue.record("\(error)") }
    }
    expectError(good + "\n" + good.replacingOccurrences(of: #""split": "train", "#, with: ""), ["scenes.jsonl:2", "\"split\""])
    expectError(good.replacingOccurrences(of: "dog", with: "unicorn"), ["scenes.jsonl:1", "unicorn"])
    expectError(good.replacingOccurrences(of: "000000.png", with: "missing.png"), ["scenes.jsonl", "missing.png"])
    expectError("{\"id\": 0,\n", ["scenes.jsonl:1"])
    try AtomicFile.write(good, to: dir.appendingPathComponent("scenes.jsonl"))
    #expect(try SceneTruth.load(folder: dir).trainImages.count == 1)

    // The ground-truth detector on data without scenes.jsonl, and rewrite=correct without a scene.
    let ctx = try pipelineContext(runDir: TestPaths.tempDir("hsapipe-bad-run"))
    let empty = TestPaths.tempDir("hsapipe-empty")
    var s = HSAPipelineSettings()
    s.enabled = true
    s.images = 2
    let pipeline = HSAPipeline(settings: s)
    pipeline.dataDir = empty
    do {
        _ = try pipeline.pairs(TrainingData(preferences: dpoPairs(2)), ctx)
        Issue.record("expected an error")
    } catch let e as HalluError {
        #expect(e.message.contains("scenes.jsonl") && e.message.contains("detector=model or chat"))
    }
}
