import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// A world of 60 training images for patch labels and vision pretraining.
private let patchWorld: URL = {
    var c = WorldConfig()
    c.trainImages = 60
    c.evalImages = 5
    c.seed = 11
    let dir = TestPaths.tempDir("patch-world")
    _ = try! SceneWorld.synth(config: c, outDir: dir)
    return dir
}()

@Test func patchLabelsMarkTheCellsEachObjectCovers() throws {
    let labels = try PatchLabels.load(dataDir: patchWorld, imageSize: 32, patchSize: 8)
    #expect(labels.images.count == 60 && labels.categories.count == 24)
    let scenes = try JSONFiles.readJSONLines(patchWorld.appendingPathComponent(SceneWorld.Files.scenes).path)
        .map(\.record).filter { $0["split"] as? String == "train" }
    for (i, (scene, patches)) in zip(scenes, labels.labels).enumerated() {
        #expect(patches.count == 16)
        let objects = try #require(scene["objects"] as? [[String: Any]])
        // A small object fills one cell, a large one a 2x2 block; nothing else is labelled.
        let cells = try objects.map { o -> Int in (try #require(o["size"] as? String)) == "large" ? 4 : 1 }.reduce(0, +)
        #expect(patches.filter { $0 != labels.empty }.count == cells)
        for o in objects {
            let box = try #require(o["box"] as? [Int]), name = try #require(o["category"] as? String)
            let patch = (box[1] / 8) * 4 + box[0] / 8
            #expect(patches[patch] == labels.categories.firstIndex(of: name))
            // The same patch carries the object's colour and size.
            for (task, key) in zip(labels.tasks.dropFirst(), ["color", "size"]) {
                let value = try #require(o[key] as? String)
                #expect(task.labels[i][patch] == task.classes.firstIndex(of: value), "\(key)")
            }
        }
    }
    #expect(labels.tasks.map(\.name) == ["category", "color", "size"])
    #expect(labels.tasks[1].classes == WorldConfig().colors && labels.tasks[2].classes == ["small", "large", "tiny"])
}

@Test func patchLabelsNameTheBadLine() throws {
    let dir = TestPaths.tempDir("patch-bad")
    try FileManager.default.copyItem(at: patchWorld.appendingPathComponent(SceneWorld.Files.world),
                                     to: dir.appendingPathComponent(SceneWorld.Files.world))
    let good = #"{"split": "train", "image": "a.png", "objects": [{"category": "cup", "color": "red", "size": "tiny", "box": [0, 0, 8, 8]}]}"#
    let bad = #"{"split": "train", "image": "b.png", "objects": [{"category": "kite", "color": "red", "size": "small", "box": [0, 0, 8, 8]}]}"#
    try AtomicFile.write(good + "\n" + bad + "\n", to: dir.appendingPathComponent(SceneWorld.Files.scenes))
    do {
        _ = try PatchLabels.load(dataDir: dir, imageSize: 32, patchSize: 8)
        Issue.record("an unknown category was accepted")
    } catch let e as HalluError {
        #expect(e.message.contains("scenes.jsonl") && e.message.contains("2") && e.message.contains("kite"), "\(e.message)")
    }
    // A colour the world does not have is named with its key.
    try AtomicFile.write(good.replacingOccurrences(of: "\"red\"", with: "\"teal\"") + "\n", to: dir.appendingPathComponent(SceneWorld.Files.scenes))
    do {
        _ = try PatchLabels.load(dataDir: dir, imageSize: 32, patchSize: 8)
        Issue.record("an unknown colour was accepted")
    } catch let e as HalluError {
        #expect(e.message.contains("color") && e.message.contains("teal") && e.message.contains("1"), "\(e.message)")
    }
}

/// Pretraining teaches the tiny tower to name patches: far above the 1-in-24 chance on object patches.
@Test func visionPretrainingLearnsToNamePatches() throws {
    let labels = try PatchLabels.load(dataDir: patchWorld, imageSize: 32, patchSize: 8)
    let cfg = try LlavaPreset.tiny.config(vocabSize: 64, imageTokenIndex: 4)
    let model = LlavaModel(cfg, seed: 5)
    let images = ImageStore(size: 32, loader: ImagePipeline.loader(size: 32, processor: .square(32), root: patchWorld))
    var recipe = VisionPretraining()
    recipe.steps = 120
    recipe.batchSize = 32
    let before = try model.visionFeatures(try #require(try images.batch([labels.images[0]])))
    let outcome = try recipe.run(model, labels: labels, images: images)
    #expect(outcome.objectAccuracy > 0.3, "\(outcome.objectAccuracy)")
    // Colour and size are far easier than glyphs: a CLIP-like tower keeps both.
    #expect(try #require(outcome.attributeAccuracy["color"]) > 0.9, "\(outcome.attributeAccuracy)")
    #expect(try #require(outcome.attributeAccuracy["size"]) > 0.9, "\(outcome.attributeAccuracy)")
    #expect(outcome.loss < 1.0, "\(outcome.loss)")
    let after = try model.visionFeatures(try #require(try images.batch([labels.images[0]])))
    #expect(before.shape == [1, 16, 32] && after.shape == before.shape)
    #expect(model.trainableParameters().allSatisfy { $0.1.grad == nil })
    // Same seed, same numbers.
    let again = LlavaModel(cfg, seed: 5)
    let second = try recipe.run(again, labels: labels, images: images)
    #expect(second.loss == outcome.loss)
}
