import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// The default baseline's cache key.
@Test func baselineCacheKeyFollowsTheDataFolderAndThePreset() {
    let registry = PluginRegistry(builtins: false)
    func dir(_ preset: String, _ data: String) -> String {
        BaselineBuilder(preset: preset, dataDir: URL(fileURLWithPath: data), registry: registry, log: { _ in }).dir.lastPathComponent
    }
    #expect(dir("small", "/data/w") == dir("small", "/data/w"))
    #expect(dir("small", "/data/w") != dir("small", "/data/v"))
    #expect(dir("small", "/data/w") != dir("tiny", "/data/w"))
    #expect(dir("small", "/data/w").hasPrefix("baseline-small-"))
    // A regenerated world in the same folder is other data: the key follows its world.json.
    let data = TestPaths.tempDir("baseline-key")
    let before = dir("small", data.path)
    try? AtomicFile.write(WorldConfig().resolved.json().pretty(), to: data.appendingPathComponent(SceneWorld.Files.world))
    let v2 = dir("small", data.path)
    var v1 = WorldConfig()
    v1.formatVersion = 1
    v1.yesNoNegatives = "scene_prior"
    try? AtomicFile.write(v1.resolved.json().pretty(), to: data.appendingPathComponent(SceneWorld.Files.world))
    #expect(Set([before, v2, dir("small", data.path)]).count == 3)
}

/// The cached default world is reused when its world.json is the current default and regenerated
/// when it was written by an older generator (format 1 asked yes/no questions differently).
@Test func staleCachedWorldIsRegenerated() throws {
    let root = TestPaths.tempDir("world-cache")
    var logs: [String] = []
    let dir = try DefaultAssets.world(seed: 0, cacheRoot: root) { logs.append($0) }
    let worldFile = dir.appendingPathComponent(SceneWorld.Files.world)
    #expect(try WorldConfig.load(worldFile.path) == WorldConfig().resolved)
    _ = try DefaultAssets.world(seed: 0, cacheRoot: root) { logs.append($0) }
    #expect(logs.count == 1 && logs[0].contains("generating"))
    var v1 = WorldConfig().resolved
    v1.formatVersion = 1
    v1.yesNoNegatives = "scene_prior"
    try AtomicFile.write(v1.json().pretty(), to: worldFile)
    _ = try DefaultAssets.world(seed: 0, cacheRoot: root) { logs.append($0) }
    #expect(logs.count == 2 && logs[1].contains("regenerating"))
    #expect(try WorldConfig.load(worldFile.path) == WorldConfig().resolved)
}

/// The world tokenizer learns the chat template's role markers, so a rendered turn does not spell
/// "USER" and "ASSISTANT" byte by byte.
@Test func worldTokenizerKeepsRoleMarkersWhole() throws {
    let paths = try SweepFixture.shared.get()
    let tok = try Tokenizer.load(paths.base.appendingPathComponent("tokenizer.json").path)
    #expect(tok.encode(" USER:", addSpecialTokens: false).count == 2)
    #expect(tok.encode(" ASSISTANT:", addSpecialTokens: false).count == 2)
}

/// The mixed stage keeps every description and caption but only the first two yes/no questions of
/// each image; the world shuffles each image's questions, so about half of those kept are "no".
@Test func mixedStageKeepsTwoYesNoQuestionsPerImage() throws {
    var c = WorldConfig()
    c.trainImages = 30
    c.evalImages = 5
    let dir = TestPaths.tempDir("mixed-stage")
    _ = try SceneWorld.synth(config: c, outDir: dir)
    let all = try JSONFiles.readRecords(dir.appendingPathComponent(SceneWorld.Files.llava).path).map(\.record)
    let kept = BaselineBuilder.capYesNoQuestions(all, perImage: 2)
    let questions = kept.filter(BaselineBuilder.isYesNoQuestion)
    #expect(all.filter(BaselineBuilder.isYesNoQuestion).count == 30 * c.yesNoQuestionsPerImage)
    #expect(questions.count == 60 && kept.count == all.count - 60)
    let answers = questions.compactMap { (($0["conversations"] as? [[String: Any]])?[1]["value"] as? String) }
    #expect((15...45).contains(answers.filter { $0.contains("does not appear") }.count))
    for image in Set(kept.compactMap { $0["image"] as? String }) {
        #expect(questions.filter { $0["image"] as? String == image }.count == 2)
    }
}
