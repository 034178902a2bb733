import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
@testable import HSADPO

/// The digests of hsa_dpo_preference.jsonl and hsa_dpo_detection.jsonl as the world generator wrote
/// them before they moved to this plugin's export (formats 5 down to 1, `WorldVariants`): the same bytes.
private let pinned: [UInt64] = [0x0FB8_D082_36E6_1ED4, 0x624F_1814_87FF_9A99, 0x5F04_6871_1167_B123,
                                0x5F04_6871_1167_B123, 0x5F04_6871_1167_B123]

@Test func hsadpoWorldExportWritesTheSameBytesAsTheWorldDidBefore() throws {
    #expect(try worldExportDigests(HSADPOData.worldExport) == pinned)
}

@Test func hsadpoWorldFilesReadBackThroughThePluginsFormats() throws {
    let ds = try Dataset.load(pipelineWorld.path, catalog: hsaCatalog)
    let pairs = ds.preferences(from: HSADPOData.preferenceFormatName)
    #expect(pairs.count == 60 && ds.detection.count >= 60)
    #expect(ds.files.map(\.file) == ["llava_train.json", "hsa_dpo_preference.jsonl", "hsa_dpo_detection.jsonl"])
    // Scores: chosen 1, rejected by the severity mapping.
    #expect(pairs.allSatisfy { $0.chosenScore == 1 && [0.3333, 0.6667, 1.0].contains($0.rejectedScore!) })
    #expect((pairs.compactMap(\.image) + ds.detection.compactMap(\.image)).allSatisfy { FileManager.default.fileExists(atPath: $0) })
    // The stats of `hallu data stats` read them through the catalog.
    let stats = try WorldStats.compute(folder: pipelineWorld.path, catalog: hsaCatalog)
    #expect(stats.samples["preference"] == 60 && stats.meanRejectedScore > 0)
    #expect(Set(stats.rejectedHallucinationTypes.keys).isSubset(of: ["object", "attribute", "relation"]))
}
