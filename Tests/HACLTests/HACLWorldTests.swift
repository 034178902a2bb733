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
    let (dir, catalog) = try pluginWorld(HACLPlugin.plugin, export: HACLData.worldExport, trainImages: 50, evalImages: 10, seed: 7)
    let ds = try Dataset.load(dir.path, catalog: catalog)
    #expect(ds.files.map(\.file) == ["llava_train.json", "hacl.json"])
    #expect(ds.contrastive.count == 50)
    #expect(ds.contrastive.allSatisfy { $0.prompt == HACLData.defaultPrompt && $0.hallucinatedCaptions.count == 1 && $0.caption != $0.hallucinatedCaptions[0] })
    #expect(ds.contrastive.allSatisfy { FileManager.default.fileExists(atPath: $0.image!) })
}
