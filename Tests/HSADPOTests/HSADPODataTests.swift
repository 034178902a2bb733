import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
@testable import HSADPO

@Test func hsadpoMissingScoreIsNil() throws {
    let dir = TestPaths.tempDir("hsa")
    try AtomicFile.write(try PNGCodec.encode(RGBImage(width: 2, height: 2)), to: dir.appendingPathComponent("images/17.png"))
    let p = try write("""
    {"id": 17, "question": "<image>\\nDescribe this image in detail.", "chosen": "A.", "rejected": "B.", "rejected_score": 0.67}
    {"id": 17, "question": "Describe this image in detail.", "chosen": "A.", "rejected": "C."}
    {"id": "17", "question": "Q?", "chosen": "A.", "rejected": "D.", "chosen_score": null, "rejected_score": 1}
    """, "hsa_dpo_preference.jsonl", in: dir)
    let pairs = try HSADPOData.preferences(p, images: ImageResolver(root: dir))
    #expect(pairs.map(\.rejectedScore) == [0.67, nil, 1])
    #expect(pairs.map(\.chosenScore) == [nil, nil, nil])
    #expect(pairs[0].question == "Describe this image in detail.")
    #expect(pairs.allSatisfy { $0.image == dir.appendingPathComponent("images/17.png").path })
}

@Test func hsadpoFilesErrorsNameTheFileLineAndKey() throws {
    let dir = TestPaths.tempDir("hsa-bad")
    let images = ImageResolver(root: dir)
    try AtomicFile.write(try PNGCodec.encode(RGBImage(width: 2, height: 2)), to: dir.appendingPathComponent("ok.png"))
    let malformed = try write("{\"id\": 1, \"question\": \"q\", \"chosen\": \"a\", \"rejected\": \"b\", \"image\": \"ok.png\"}\n{oops\n", "m.jsonl", in: dir)
    #expect(message { _ = try HSADPOData.preferences(malformed, images: images) }.contains("m.jsonl:2:"))
    let missing = try write("{\"id\": 1, \"question\": \"q\", \"chosen\": \"a\", \"image\": \"ok.png\"}\n", "k.jsonl", in: dir)
    let m1 = message { _ = try HSADPOData.preferences(missing, images: images) }
    #expect(m1.contains("k.jsonl") && m1.contains("line 1") && m1.contains("\"rejected\""))
    let det = try write("{\"id\": \"d\", \"image\": \"ok.png\", \"question\": \"q\", \"response\": \"r\", \"sentences\": [{\"text\": \"r\", \"hallucinated\": true, \"type\": \"object\", \"severity\": 0, \"reason\": \"\"}]}\n", "d.jsonl", in: dir)
    let m4 = message { _ = try HSADPOData.detections(det, images: images) }
    #expect(m4.contains("d.jsonl") && m4.contains("sentences[0]") && m4.contains("severity"))
}
