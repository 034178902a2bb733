import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
@testable import HACL

/// The digests of hacl.json as the world generator wrote it before it moved to this plugin's export
/// (formats 5 down to 1, `WorldVariants`): the same bytes.
private let pinned: [UInt64] = [0xD83A_6905_DE01_7378, 0xF635_45D8_D081_7857, 0xEBC0_B2AD_73F8_194F,
                                0xEBC0_B2AD_73F8_194F, 0xEBC0_B2AD_73F8_194F]

@Test func haclWorldExportWritesTheSameBytesAsTheWorldDidBefore() throws {
    #expect(try worldExportDigests(HACLData.worldExport) == pinned)
}

@Test func haclWorldFileReadsBackAsContrastiveExamples() throws {
    var c = WorldConfig()
    c.trainImages = 50
    c.evalImages = 10
    c.seed = 7
    let dir = TestPaths.tempDir("hacl-world")
    try SceneWorld.synth(config: c, outDir: dir, exports: [HACLData.worldExport])
    let registry = PluginRegistry()
    try registry.register(HACLPlugin.plugin)
    let ds = try Dataset.load(dir.path, catalog: registry.data)
    #expect(ds.files.map(\.file) == ["llava_train.json", "hacl.json"])
    #expect(ds.contrastive.count == c.trainImages)
    #expect(ds.contrastive.allSatisfy { $0.prompt == HACLData.defaultPrompt && $0.hallucinatedCaptions.count == 1 && $0.caption != $0.hallucinatedCaptions[0] })
    #expect(ds.contrastive.allSatisfy { FileManager.default.fileExists(atPath: $0.image!) })
}
