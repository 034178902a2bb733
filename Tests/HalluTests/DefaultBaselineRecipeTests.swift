import Foundation
import Testing
@testable import CoreRuntime

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
