import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
@testable import HADPO

/// The digests of desc_data.json and pope_data.json as the world generator wrote them before they
/// moved to this plugin's export (formats 5 down to 1, `WorldVariants`): the same bytes.
private let pinned: [UInt64] = [0x8D76_67D8_6C22_9DB3, 0x4CA6_A166_9D87_5E53, 0x8454_D949_6508_D647,
                                0x3D16_0987_257C_16C1, 0x3D16_0987_257C_16C1]

@Test func hadpoWorldExportWritesTheSameBytesAsTheWorldDidBefore() throws {
    #expect(try worldExportDigests(HADPOData.worldExport) == pinned)
}

@Test func hadpoWorldFilesReadBackAsHADPOsTrainingList() throws {
    let (dir, catalog) = try pluginWorld(HADPOPlugin.plugin, export: HADPOData.worldExport, trainImages: 120, evalImages: 20, seed: 7)
    let ds = try Dataset.load(dir.path, catalog: catalog)
    #expect(ds.files.map(\.file) == ["llava_train.json", "desc_data.json", "pope_data.json"])
    let wrongPope = try DataRecord.readAll(dir.appendingPathComponent("pope_data.json").path).filter { (try? $0.bool("correct")) == false }.count
    let pairs = ds.preferences(from: HADPOData.formatName)
    #expect(pairs.count == wrongPope + 2 * 120 && pairs.count == ds.preferences.count)
    // Image ids resolve through scenes.jsonl.
    #expect(pairs.allSatisfy { $0.image!.hasSuffix(String(repeating: "0", count: 6 - $0.id.count) + $0.id + ".png") })
    #expect(pairs.allSatisfy { FileManager.default.fileExists(atPath: $0.image!) })
    #expect(pairs.allSatisfy { HADPOData.prompts.contains($0.question) || $0.question.hasPrefix("Is there") })
    #expect(pairs.allSatisfy { $0.chosen != $0.rejected })
}
