import Foundation
import Testing
@testable import CoreRuntime

private let hadpoDir = TestPaths.fixtures.appendingPathComponent("data/hadpo")

private func write(_ text: String, _ name: String, in dir: URL) throws -> String {
    let u = dir.appendingPathComponent(name)
    try AtomicFile.write(text, to: u)
    return u.path
}

private func message(_ body: () throws -> Void) -> String {
    do { try body() } catch let e as HalluError { return e.message } catch { return "\(error)" }
    return ""
}

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
    let pairs = try DataReaders.hadpoDesc(hadpoDir.appendingPathComponent("desc_data.json").path, images: images)
    let want = try #require(try JSONFiles.readJSON(hadpoDir.appendingPathComponent("desc_expected.json").path) as? [[String: String]])
    #expect(pairs.count == want.count)
    for (p, w) in zip(pairs, want) {
        #expect(p.id == w["id"] && p.question == w["question"] && p.chosen == w["chosen"] && p.rejected == w["rejected"])
        #expect(p.image == hadpoDir.appendingPathComponent("images/\(p.id).png").path)
        #expect(p.format == .hadpo && p.rejectedScore == nil)
    }
}

@Test func hadpoPopeSkipsCorrectAnswersAndListIsPopePlusDescTwice() throws {
    let images = ImageResolver(root: hadpoDir, folders: ["images"])
    let pope = try DataReaders.hadpoPope(hadpoDir.appendingPathComponent("pope_data.json").path, images: images)
    #expect(pope.map(\.id) == ["2343", "105"])
    #expect(pope[1].question == "Is there a car in the image?")  // "<image>\n" is stripped; `prompt` adds it back
    #expect(pope[1].prompt == "<image>\nIs there a car in the image?")
    #expect(pope[0].chosen == "No, there is no dog in the image." && pope[0].rejected == "Yes, there is a dog in the image.")
    let all = try DataReaders.hadpo(desc: hadpoDir.appendingPathComponent("desc_data.json").path,
                                    pope: hadpoDir.appendingPathComponent("pope_data.json").path, images: images)
    #expect(all.count == 2 + 8 * 2)
    #expect(Array(all[2..<10]) == Array(all[10..<18]))
}

@Test func realPOPEQuestionFilesRead() throws {
    for split in ["random", "popular", "adversarial"] {
        let qs = try DataReaders.popeQuestions(TestPaths.data("POPE/output/coco/coco_pope_\(split).json"))
        #expect(qs.count == 3000)
        #expect(qs.filter { $0.label == "yes" }.count == 1500)
        #expect(qs.allSatisfy { !$0.object.isEmpty }, "every question parses as POPE's template")
        #expect(qs[0].questionId == 1 && qs[0].image == "COCO_val2014_000000310196.jpg")
        // POPE's alternation: yes, no, yes, no, ...
        #expect(qs.enumerated().allSatisfy { ($0.offset % 2 == 0) == ($0.element.label == "yes") })
    }
    let random = try DataReaders.popeQuestions(TestPaths.data("POPE/output/coco/coco_pope_random.json"))
    #expect(random.first { $0.text == "Is there an umbrella in the image?" }?.object == "umbrella")
}

@Test func realCHAIRFilesRead() throws {
    let prompts = try DataReaders.chairPrompts(TestPaths.data("less-is-more/chair-500.jsonl"))
    #expect(prompts.count == 500)
    #expect(prompts[0].imageId == 2239 && prompts[0].questionId == 0 && prompts[0].text == "Please describe this image in detail.")
    let gt = try DataReaders.chairGroundTruth(TestPaths.data("CHAIR-metric-standalone/chair500_gt_objects.json"))
    #expect(gt.count == 500)
    #expect(gt[2239] == ["person", "sports ball", "tennis racket"])
    #expect(Set(prompts.map(\.imageId)) == Set(gt.keys))
    for name in ["r1-llava1.5-7b", "r2-vcd", "r3-opera", "r4-opera-fast", "r5-ours-inst", "r6-ours-cap"] {
        let caps = try DataReaders.chairCaptions(TestPaths.data("less-is-more/Table1-results/\(name).jsonl"))
        #expect(caps.count == 500, "\(name)")
        #expect(Set(caps.map(\.imageId)) == Set(gt.keys), "\(name)")
        #expect(caps.allSatisfy { !$0.caption.isEmpty })
    }
    let example = try DataReaders.chairCaptions(TestPaths.data("CHAIR-metric-standalone/example_inputs.jsonl"), captionKey: "caption")
    #expect(example.map(\.imageId) == [1290, 6871])
    #expect(DataReaders.imageId("COCO_val2014_000000310196.jpg") == 310_196)
    #expect(DataReaders.imageId("images/eval/006000.png") == 6000)
}

@Test func hsadpoMissingScoreIsNil() throws {
    let dir = TestPaths.tempDir("hsa")
    try AtomicFile.write(try PNGCodec.encode(RGBImage(width: 2, height: 2)), to: dir.appendingPathComponent("images/17.png"))
    let p = try write("""
    {"id": 17, "question": "<image>\\nDescribe this image in detail.", "chosen": "A.", "rejected": "B.", "rejected_score": 0.67}
    {"id": 17, "question": "Describe this image in detail.", "chosen": "A.", "rejected": "C."}
    {"id": "17", "question": "Q?", "chosen": "A.", "rejected": "D.", "chosen_score": null, "rejected_score": 1}
    """, "hsa_dpo_preference.jsonl", in: dir)
    let pairs = try DataReaders.hsadpoPreference(p, images: ImageResolver(root: dir))
    #expect(pairs.map(\.rejectedScore) == [0.67, nil, 1])
    #expect(pairs.map(\.chosenScore) == [nil, nil, nil])
    #expect(pairs[0].question == "Describe this image in detail.")
    #expect(pairs.allSatisfy { $0.image == dir.appendingPathComponent("images/17.png").path })
}

@Test func haclCaptionAsStringOrList() throws {
    let dir = TestPaths.tempDir("hacl")
    try AtomicFile.write(try PNGCodec.encode(RGBImage(width: 2, height: 2)), to: dir.appendingPathComponent("train2014/a.png"))
    let p = try write("""
    [{"image": "train2014/a.png", "text": "A cat.", "Hallucination caption": "A dog.",
      "conversations": [{"from": "human", "value": "Give a brief description of the image.\\n<image>"}, {"from": "gpt", "value": "A cat."}]},
     {"image": "train2014/a.png", "text": "A cup.", "Hallucination caption": ["A bowl.", "A red cup."]}]
    """, "hacl.json", in: dir)
    let ex = try DataReaders.hacl(p, images: ImageResolver(root: dir))
    #expect(ex.count == 2)
    #expect(ex[0].prompt == "Give a brief description of the image." && ex[0].caption == "A cat." && ex[0].hallucinatedCaptions == ["A dog."])
    #expect(ex[1].hallucinatedCaptions == ["A bowl.", "A red cup."] && ex[1].id == "1")
}

@Test func badInputErrorsNameFileLineAndKey() throws {
    let dir = TestPaths.tempDir("bad")
    let images = ImageResolver(root: dir)
    try AtomicFile.write(try PNGCodec.encode(RGBImage(width: 2, height: 2)), to: dir.appendingPathComponent("ok.png"))
    // Malformed JSON Lines: the line is named.
    let malformed = try write("{\"id\": 1, \"question\": \"q\", \"chosen\": \"a\", \"rejected\": \"b\", \"image\": \"ok.png\"}\n{oops\n", "m.jsonl", in: dir)
    #expect(message { _ = try DataReaders.hsadpoPreference(malformed, images: images) }.contains("m.jsonl:2:"))
    // Missing field: the key and the line.
    let missing = try write("{\"id\": 1, \"question\": \"q\", \"chosen\": \"a\", \"image\": \"ok.png\"}\n", "k.jsonl", in: dir)
    let m1 = message { _ = try DataReaders.hsadpoPreference(missing, images: images) }
    #expect(m1.contains("k.jsonl") && m1.contains("line 1") && m1.contains("\"rejected\""))
    // Wrong type.
    let wrong = try write("[{\"id\": \"x\", \"conversations\": \"hello\"}]", "w.json", in: dir)
    let m2 = message { _ = try DataReaders.llava(wrong, images: images) }
    #expect(m2.contains("w.json") && m2.contains("item 1") && m2.contains("\"conversations\" must be a list"))
    // Missing image: the record is named, never a blank image.
    let noImage = try write("[{\"id\": \"a\", \"image\": \"ok.png\", \"conversations\": [{\"from\": \"human\", \"value\": \"hi\"}]},\n"
                            + "{\"id\": \"b\", \"image\": \"gone.png\", \"conversations\": [{\"from\": \"human\", \"value\": \"hi\"}]}]", "l.json", in: dir)
    let m3 = message { _ = try DataReaders.llava(noImage, images: images) }
    #expect(m3.contains("l.json") && m3.contains("item 2") && m3.contains("gone.png"))
    // Image folders outside the data folder are searched too.
    let elsewhere = TestPaths.tempDir("imgs")
    try AtomicFile.write(try PNGCodec.encode(RGBImage(width: 2, height: 2)), to: elsewhere.appendingPathComponent("gone.png"))
    try AtomicFile.write(String(contentsOfFile: noImage, encoding: .utf8), to: dir.appendingPathComponent("sub/llava_train.json"))
    let ds = try Dataset.load(dir.appendingPathComponent("sub").path, imageFolders: [dir.path, elsewhere.path])
    #expect(ds.conversations.map(\.image) == [dir.appendingPathComponent("ok.png").path, elsewhere.appendingPathComponent("gone.png").path])
    // Unchecked resolution keeps the name (for question files whose images live elsewhere).
    #expect(try DataReaders.llava(noImage, images: ImageResolver(root: dir, check: false)).count == 2)
    // Malformed desc_data (order-preserving parser): line named.
    let desc = try write("{\n\"1\": {\"chosen\": [\"a\"], \"rejected\": [\"b\"]},\n\"2\": {\"chosen\": [\"a\"] \"rejected\": []}\n}", "desc_data.json", in: dir)
    #expect(message { _ = try DataReaders.hadpoDesc(desc, images: images) }.contains("desc_data.json:3:"))
    let empty = try write("{\"1\": {\"chosen\": [\"a\"], \"rejected\": []}}", "desc2.json", in: dir)
    #expect(message { _ = try DataReaders.hadpoDesc(empty, images: ImageResolver(root: dir, check: false)) }.contains("\"rejected\" must be a non-empty list"))
    // POPE label must be yes/no; detection severity must match its label.
    let pope = try write("{\"question_id\": 1, \"image\": \"x.jpg\", \"text\": \"Is there a cat in the image?\", \"label\": \"maybe\"}\n", "p.jsonl", in: dir)
    #expect(message { _ = try DataReaders.popeQuestions(pope) }.contains("\"label\" must be"))
    let det = try write("{\"id\": \"d\", \"image\": \"ok.png\", \"question\": \"q\", \"response\": \"r\", \"sentences\": [{\"text\": \"r\", \"hallucinated\": true, \"type\": \"object\", \"severity\": 0, \"reason\": \"\"}]}\n", "d.jsonl", in: dir)
    let m4 = message { _ = try DataReaders.detection(det, images: images) }
    #expect(m4.contains("d.jsonl") && m4.contains("sentences[0]") && m4.contains("severity"))
    // Missing file.
    #expect(message { _ = try DataReaders.popeQuestions(dir.appendingPathComponent("none.jsonl").path) }.contains("none.jsonl"))
}

@Test func orderedJSONKeepsOrderAndRoundTrips() throws {
    let text = #"{"b": 1, "a": [true, null, 2.5, "x\"\n\u00e9"], "c": {"z": -3, "y": 1e3}}"#
    let v = try OrderedJSON.parse(Data(text.utf8))
    guard case .object(let kv) = v else { Issue.record("not an object"); return }
    #expect(kv.map(\.0) == ["b", "a", "c"])
    #expect(try OrderedJSON.parse(Data(v.text().utf8)) == v)
    #expect(OrderedJSON.number(0.1).text() == "0.1" && OrderedJSON.number(1).text() == "1.0")
    #expect(OrderedJSON.rounded(2.0 / 3.0).text() == "0.6667")
}
