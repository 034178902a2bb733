import Foundation
import Testing
@testable import CoreRuntime

/// A small scene world for the pipeline tests (generated once per test process).
let pipelineWorld: URL = {
    var c = WorldConfig()
    c.trainImages = 60
    c.evalImages = 8
    c.seed = 11
    let dir = TestPaths.tempDir("hsapipe-world")
    _ = try! SceneWorld.synth(config: c, outDir: dir)
    return dir
}()

/// The world's labelled detection records and its ground truth.
func pipelineWorldData() throws -> (examples: [DetectionExample], truth: SceneTruth) {
    (try Dataset.load(pipelineWorld.path, kinds: [.detection]).detection, try SceneTruth.load(folder: pipelineWorld))
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
    let pairs = try Dataset.load(pipelineWorld.path, kinds: [.preference]).preferences(.hsadpo)
    let chosen = try d.detect(pairs.map { DetectionQuery(id: $0.id, image: $0.image!, question: $0.question, sentences: DescriptionSentences.split($0.chosen)) })
    #expect(chosen.allSatisfy { $0.allSatisfy { !$0.hallucinated } })
}

@Test func correctedWorldRejectionsAreFaithfulAndMostlyTheChosenText() throws {
    let (examples, truth) = try pipelineWorldData()
    let pairs = try Dataset.load(pipelineWorld.path, kinds: [.preference]).preferences(.hsadpo)
    let chosenByImage = Dictionary(pairs.map { ($0.image!, $0.chosen) }, uniquingKeysWith: { a, _ in a })
    let d = GroundTruthDetector(truth: truth)
    let rewriter = ResponseRewriter(mode: .correct)
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
