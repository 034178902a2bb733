import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
@testable import HADPO

private let hadpoDir = TestPaths.fixtures.appendingPathComponent("data/hadpo")

@Test func pythonRandomMatchesCPython() {
    var r = PythonRandom(seed: 42)
    #expect((0..<3).map { _ in r.getrandbits(32) } == [2_746_317_213, 478_163_327, 107_420_369])
    var c = PythonRandom(seed: 42)
    #expect((0..<10).map { _ in c.choice(["a", "b", "c", "d"]) } == ["a", "a", "c", "b", "b", "b", "a", "a", "d", "a"])
    var big = PythonRandom(seed: (1 << 40) + 5)
    #expect(big.getrandbits(32) == 2_166_296_868)
}

@Test func hadpoDescSamplesLikeHADPO() throws {
    let images = ImageResolver(root: hadpoDir, folders: ["images"])
    let pairs = try HADPOData.desc(hadpoDir.appendingPathComponent("desc_data.json").path, images: images)
    let want = try #require(try JSONFiles.readJSON(hadpoDir.appendingPathComponent("desc_expected.json").path) as? [[String: String]])
    #expect(pairs.count == want.count)
    for (p, w) in zip(pairs, want) {
        #expect(p.id == w["id"] && p.question == w["question"] && p.chosen == w["chosen"] && p.rejected == w["rejected"])
        #expect(p.image == hadpoDir.appendingPathComponent("images/\(p.id).png").path)
        #expect(p.source == HADPOData.formatName && p.rejectedScore == nil)
    }
}

@Test func hadpoPopeSkipsCorrectAnswersAndListIsPopePlusDescTwice() throws {
    let images = ImageResolver(root: hadpoDir, folders: ["images"])
    let pope = try HADPOData.pope(hadpoDir.appendingPathComponent("pope_data.json").path, images: images)
    #expect(pope.map(\.id) == ["2343", "105"])
    #expect(pope[1].question == "Is there a car in the image?")  // "<image>\n" is stripped; `prompt` adds it back
    #expect(pope[1].prompt == "<image>\nIs there a car in the image?")
    #expect(pope[0].chosen == "No, there is no dog in the image." && pope[0].rejected == "Yes, there is a dog in the image.")
    let all = try HADPOData.pairs(desc: hadpoDir.appendingPathComponent("desc_data.json").path,
                                    pope: hadpoDir.appendingPathComponent("pope_data.json").path, images: images)
    #expect(all.count == 2 + 8 * 2)
    #expect(Array(all[2..<10]) == Array(all[10..<18]))
}

@Test func hadpoDescErrorsNameTheFileLineAndKey() throws {
    let dir = TestPaths.tempDir("hadpo-bad")
    let desc = dir.appendingPathComponent("desc_data.json")
    try AtomicFile.write("{\n\"1\": {\"chosen\": [\"a\"], \"rejected\": [\"b\"]},\n\"2\": {\"chosen\": [\"a\"] \"rejected\": []}\n}", to: desc)
    #expect(message { _ = try HADPOData.desc(desc.path, images: ImageResolver(root: dir)) }.contains("desc_data.json:3:"))
    let empty = dir.appendingPathComponent("desc2.json")
    try AtomicFile.write("{\"1\": {\"chosen\": [\"a\"], \"rejected\": []}}", to: empty)
    #expect(message { _ = try HADPOData.desc(empty.path, images: ImageResolver(root: dir, check: false)) }.contains("\"rejected\" must be a non-empty list"))
}
