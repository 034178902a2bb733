import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

private let hadpoDir = TestPaths.fixtures.appendingPathComponent("data/hadpo")

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

@Test func badInputErrorsNameFileLineAndKey() throws {
    let dir = TestPaths.tempDir("bad")
    let images = ImageResolver(root: dir)
    try AtomicFile.write(try PNGCodec.encode(RGBImage(width: 2, height: 2)), to: dir.appendingPathComponent("ok.png"))
    // Malformed JSON Lines: the line is named.
    let malformed = try write("{\"question_id\": 1, \"image\": \"x.jpg\", \"text\": \"q\", \"label\": \"yes\"}\n{oops\n", "m.jsonl", in: dir)
    #expect(message { _ = try DataReaders.popeQuestions(malformed) }.contains("m.jsonl:2:"))
    // Missing field: the key and the line.
    let missing = try write("{\"question_id\": 1, \"image\": \"x.jpg\", \"label\": \"yes\"}\n", "k.jsonl", in: dir)
    let m1 = message { _ = try DataReaders.popeQuestions(missing) }
    #expect(m1.contains("k.jsonl") && m1.contains("line 1") && m1.contains("\"text\""))
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
    // Malformed JSON in an object read in file order: line named.
    let obj = try write("{\n\"1\": [\"a\"],\n\"2\": [\"a\"] \"b\"\n}", "o.json", in: dir)
    #expect(message { _ = try OrderedJSON.read(obj) }.contains("o.json:3:"))
    // POPE label must be yes/no.
    let pope = try write("{\"question_id\": 1, \"image\": \"x.jpg\", \"text\": \"Is there a cat in the image?\", \"label\": \"maybe\"}\n", "p.jsonl", in: dir)
    #expect(message { _ = try DataReaders.popeQuestions(pope) }.contains("\"label\" must be"))
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

@Test func orderedJSONKeepsStringsExactAndNamesLineAndColumn() throws {
    // Precomposed "é" and "e" + U+0301 are equal Swift Strings but distinct vocabulary entries.
    let composed = try OrderedJSON.parse(Data(#"{"\u00e9": 1}"#.utf8)), decomposed = try OrderedJSON.parse(Data(#"{"e\u0301": 1}"#.utf8))
    #expect(composed != decomposed)
    #expect(try OrderedJSON.parse(Data(#"["\u00e9"]"#.utf8)) != OrderedJSON.parse(Data(#"["e\u0301"]"#.utf8)))
    // A surrogate pair decodes; a lone high surrogate becomes U+FFFD and the escape after it is kept.
    #expect(try OrderedJSON.parse(Data(#""\ud83d\ude00""#.utf8)) == .string("\u{1F600}"))
    #expect(try OrderedJSON.parse(Data(#""\ud83d\u0041""#.utf8)) == .string("\u{FFFD}A"))
    // A byte-order mark is skipped; invalid UTF-8 is refused, not replaced.
    #expect(try OrderedJSON.parse(Data([0xEF, 0xBB, 0xBF] + Array("[1]".utf8))) == .array([.int(1)]))
    #expect(message { _ = try OrderedJSON.parse(Data([0x22, 0xFF, 0x22]), path: "bad.json") }.contains("bad.json:1: malformed JSON: string is not valid UTF-8"))
    // Errors give the line and the column (in characters), and leading '+' is not JSON.
    #expect(message { _ = try OrderedJSON.parse(Data("{\n  \"é\": tru\n}".utf8), path: "t.json") } == "t.json:2: malformed JSON: expected true (column 8)")
    #expect(message { _ = try OrderedJSON.parse(Data("[+1]".utf8), path: "p.json") }.contains("unexpected character '+' (column 2)"))
    // Deep nesting is an error, not a stack overflow.
    #expect(message { _ = try OrderedJSON.parse(Data(String(repeating: "[", count: 100_000).utf8)) }.contains("nesting too deep"))
    // The tokenizer layout keeps short arrays of plain values on one line.
    let merges = OrderedJSON.obj(["merges": .array([.array([.string("a"), .string("b")])]), "ids": .array([.int(1), .int(2)])])
    #expect(merges.pretty(indent: 2, inlineArrays: 16) == "{\n  \"merges\": [\n    [\"a\", \"b\"]\n  ],\n  \"ids\": [1, 2]\n}")
}

/// A plugin's kind and format, as a plugin would declare them: files found by name, one sample per
/// line, errors that name the file and line, collation into a batch.
private struct Note: Sample, Equatable {
    var id: String
    var text: String
    var length: Int { text.utf8.count }
}

@Test func pluginDataKindsReadLinesWithFileLineErrorsAndCollate() throws {
    let notes = DataKind("notes")
    let catalog = DataCatalog()
    let format = DataFormat.records("notes", kind: notes, files: ["notes.jsonl"]) { r, _ -> Note? in
        let text = try r.string("text")
        guard !text.isEmpty else { throw HalluError("\"text\" is empty") }
        return text == "skip" ? nil : Note(id: try r.id("id"), text: text)
    }
    // A format needs its kind declared first; names and files are unique.
    #expect(message { try catalog.register(format) }.contains("no one declares"))
    try catalog.register(DataKindSpec(notes, summary: "notes", of: Note.self) { samples, _ in samples.map(\.text).joined(separator: "|") })
    try catalog.register(format)
    #expect(message { try catalog.register(format) }.contains("exists already"))
    #expect(message { try catalog.register(DataFormat.records("other", kind: notes, files: ["notes.jsonl"]) { _, _ -> Note? in nil }) }
        .contains("reads notes.jsonl"))
    let dir = TestPaths.tempDir("notes")
    _ = try write("{\"id\": 1, \"text\": \"a\"}\n{\"id\": 2, \"text\": \"skip\"}\n{\"id\": 3, \"text\": \"bc\"}\n", "notes.jsonl", in: dir)
    let ds = try Dataset.load(dir.path, catalog: catalog)
    #expect(ds.data[notes, as: Note.self] == [Note(id: "1", text: "a"), Note(id: "3", text: "bc")])
    #expect(ds.files.map(\.file) == ["notes.jsonl"] && ds.count(notes) == 2 && ds.data.lengths(notes) == [1, 2])
    // A parser's own error gets the file and line; DataRecord's errors name the key too.
    _ = try write("{\"id\": 1, \"text\": \"a\"}\n{\"id\": 2, \"text\": \"\"}\n", "notes.jsonl", in: dir)
    let m = message { _ = try Dataset.load(dir.path, catalog: catalog) }
    #expect(m.contains("notes.jsonl: line 2: \"text\" is empty"), "\(m)")
    _ = try write("{\"id\": 1}\n", "notes.jsonl", in: dir)
    #expect(message { _ = try Dataset.load(dir.path, catalog: catalog) }.contains("line 1: missing required key \"text\""))
    // Collation: the trainer hands the batch's notes to the kind's collate function.
    let ctx = selectiveEOSContext()
    ctx.catalog = catalog
    ctx.data[notes] = [Note(id: "1", text: "a"), Note(id: "2", text: "b")]
    let collated = try catalog.kind(notes)!.collate!(ctx.data.list(notes)!, ctx)
    #expect(collated as? String == "a|b")
}
