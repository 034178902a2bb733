import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
#if canImport(Glibc)
import Glibc
#endif

// Regression tests for malformed inputs that once crashed hallu, hung it, were read past the
// limits of memory, or were silently accepted. Each must now end in a clear error naming the
// file (or in correct behaviour).

/// A PNG of the given header with the chunks' CRCs right, so the decoder reads the header.
func craftedPNG(width: UInt32, height: UInt32, depth: UInt8 = 8, colourType: UInt8 = 2, rows: [UInt8] = []) throws -> Data {
    func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
    func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
        let t = Array(type.utf8)
        return be(UInt32(body.count)) + t + body + be(PNGCodec.crc32(t + body))
    }
    var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    out += chunk("IHDR", be(width) + be(height) + [depth, colourType, 0, 0, 0])
    out += chunk("IDAT", try Zlib.compress(rows))
    out += chunk("IEND", [])
    return Data(out)
}

func expectError(_ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    expectCheckpointError(fragments, sourceLocation: sourceLocation, body)
}

@Test func pngOfFourBillionSquaredIsRefusedNotAllocated() throws {
    // 69 bytes declaring 4294967295 x 4294967295: the size check's multiply used to wrap.
    let data = try craftedPNG(width: 0xFFFF_FFFF, height: 0xFFFF_FFFF)
    expectError(["huge.png", "4294967295x4294967295", "invalid"]) { _ = try PNGCodec.decode(data, path: "huge.png") }
    let big = try craftedPNG(width: 0x7FFF_FFFF, height: 0x7FFF_FFFF)
    expectError(["big.png", "above the limit", "image pixels", "HALLU_MAX_IMAGE_PIXELS"]) { _ = try PNGCodec.decode(big, path: "big.png") }
}

@Test func pngOf20000SquaredIsAboveThePixelLimit() throws {
    // 1.2 MB of compressed zeros used to decode into 2.4 GB.
    let data = try craftedPNG(width: 20_000, height: 20_000, colourType: 0, rows: [0, 0, 0])
    expectError(["g.png", "20000x20000", "400000000 is above the limit of 178956970 image pixels", "HALLU_MAX_IMAGE_PIXELS"]) {
        _ = try PNGCodec.decode(data, path: "g.png")
    }
}

@Test func wideImageCannotPadToAHugeSquare() throws {
    // A 370-byte PNG of 100000 x 1 decodes fine, but LLaVA pads it to 100000 x 100000 (30 GB).
    let row = [UInt8(0)] + [UInt8](repeating: 0x80, count: 300_000)
    let data = try craftedPNG(width: 100_000, height: 1, rows: row)
    let dir = TestPaths.tempDir("wide")
    try data.write(to: dir.appendingPathComponent("wide.png"))
    let img = try PNGCodec.decode(data, path: "wide.png")
    #expect(img.width == 100_000 && img.height == 1)
    let load = ImagePipeline.loader(size: 32, processor: nil, root: dir)
    expectError(["padding a 100000x1 image to a square", "image pixels", "HALLU_MAX_IMAGE_PIXELS"]) { _ = try load("wide.png") }
}

@Test func jpegHeaderOf65500SquaredIsRefusedBeforeDecoding() throws {
    guard JPEGCodec.isAvailable else { return }
    var j = [UInt8](try Data(contentsOf: TestPaths.fixtures.appendingPathComponent("data/images/photo.jpg")))
    var i = 2
    while i + 9 < j.count, j[i] == 0xFF {
        let len = Int(j[i + 2]) << 8 | Int(j[i + 3])
        if [0xC0, 0xC1, 0xC2].contains(j[i + 1]) { j[i + 5] = 0xFF; j[i + 6] = 0xDC; j[i + 7] = 0xFF; j[i + 8] = 0xDC; break }
        i += 2 + len
    }
    expectError(["x.jpg", "65500x65500", "above the limit", "HALLU_MAX_IMAGE_PIXELS"]) { _ = try ImageFile.decode(Data(j), path: "x.jpg") }
}

@Test func imageThatIsAFolderOrAFIFOIsAClearErrorWithoutBlocking() throws {
    let dir = TestPaths.tempDir("special")
    let folder = dir.appendingPathComponent("photo.png"), fifo = dir.appendingPathComponent("pipe.png")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    #expect(mkfifo(fifo.path, 0o644) == 0)
    expectError([folder.path, "is a folder, not a regular file"]) { _ = try ImageFile.load(folder.path) }
    // Opening a FIFO for reading would wait for a writer forever.
    expectError([fifo.path, "is a named pipe (FIFO), not a regular file"]) { _ = try ImageFile.load(fifo.path) }
    expectError([dir.appendingPathComponent("none.png").path, "no such file"]) { _ = try ImageFile.load(dir.appendingPathComponent("none.png").path) }
    let dev = dir.appendingPathComponent("zero.png")
    #expect(symlink("/dev/zero", dev.path) == 0)
    expectError([dev.path, "character device"]) { _ = try ImageFile.load(dev.path) }
}

@Test func decompressionStopsAtTheLimit() throws {
    // 64 KB of compressed zeros expand to 64 MB: above a 1 MB limit it stops with an error.
    let bomb = try Zlib.compress([UInt8](repeating: 0x20, count: 64 << 20))
    #expect(bomb.count < 200_000)
    expectError(["gt.json.gz", "decompressed bytes", "above the limit of 1000000"]) {
        _ = try Gzip.decompress(Data(bomb), path: "gt.json.gz", limit: 1_000_000)
    }
}

@Test func tokenizerIdsBeyondTheLimitAreRefused() throws {
    var json = try #require(try JSONSerialization.jsonObject(with: Data(Tokenizer.fileText(TestText.tokenizer.json).utf8)) as? [String: Any])
    var model = json["model"] as! [String: Any]
    var vocab = model["vocab"] as! [String: Any]
    vocab[vocab.keys.sorted().last!] = 1 << 62
    model["vocab"] = vocab
    json["model"] = model
    let url = TestPaths.tempDir("tok").appendingPathComponent("tokenizer.json")
    try JSONSerialization.data(withJSONObject: json).write(to: url)
    expectError([url.path, "model.vocab", "4611686018427387904 is above the limit of 16777215 for a token id", "HALLU_MAX_TOKEN_ID"]) {
        _ = try Tokenizer.load(url.path)
    }
}

@Test func tokenizerMustFitTheModelsVocabulary() throws {
    let tok = TestText.tokenizer
    let small = try LlavaConfig.tiny(vocabSize: tok.vocabSize - 10, imageTokenIndex: 4)
    expectError(["tokenizer.json", "ids up to \(tok.vocabSize - 1)", "\(tok.vocabSize - 10) rows"]) {
        try tok.check(against: small, file: "tokenizer.json")
    }
    // A larger model vocabulary (a padded one) is fine; ids the tokenizer lacks decode to nothing.
    try tok.check(against: try LlavaConfig.tiny(vocabSize: tok.vocabSize + 64, imageTokenIndex: 4), file: "tokenizer.json")
    #expect(tok.decode([tok.vocabSize + 10, tok.vocabSize + 63]) == "")
}

@Test func configSizesAreBoundedAndSpecialIdsInsideTheVocabulary() throws {
    let base = try #require(try JSONSerialization.jsonObject(with: try Data(contentsOf: checkpointFixture("micro_llava/config.json"))) as? [String: Any])
    func load(_ edit: (inout [String: Any]) -> Void) throws -> LlavaConfig {
        var j = base
        edit(&j)
        let url = TestPaths.tempDir("cfg").appendingPathComponent("config.json")
        try JSONSerialization.data(withJSONObject: j).write(to: url)
        return try LlavaConfig.load(url.path)
    }
    func text(_ key: String, _ v: Any) -> (inout [String: Any]) -> Void {
        { j in var t = j["text_config"] as! [String: Any]; t[key] = v; j["text_config"] = t }
    }
    // hidden_size 2^62 used to wrap the weight sizes and write past small allocations.
    expectError(["config.json", "text_config.hidden_size", "must be at most 16777216", "4611686018427387904"]) { _ = try load(text("hidden_size", 1 << 62)) }
    expectError(["text_config.vocab_size"]) { _ = try load(text("vocab_size", 1 << 40)) }
    expectError(["text_config.eos_token_id", "outside the vocabulary"]) { _ = try load(text("eos_token_id", 32)) }
    expectError(["text_config.bos_token_id", "outside the vocabulary"]) { _ = try load(text("bos_token_id", -3)) }
    expectError(["vision_config.image_size"]) { _ = try load { j in var v = j["vision_config"] as! [String: Any]; v["image_size"] = 1 << 40; v["patch_size"] = 1 << 20; j["vision_config"] = v } }
    // Sizes that are each in range but whose product does not fit an Int.
    expectError(["config.json", "self_attn", "too many elements to represent"]) { _ = try load { j in
        var t = j["text_config"] as! [String: Any]
        t["hidden_size"] = 1 << 24; t["num_attention_heads"] = 1 << 16; t["num_key_value_heads"] = 1 << 16; t["head_dim"] = 1 << 24
        j["text_config"] = t
    } }
    // And weights that fit an Int but not this machine: refused before the model is allocated.
    let huge = try load { j in
        var t = j["text_config"] as! [String: Any]
        t["hidden_size"] = 1 << 20; t["intermediate_size"] = 1 << 20; t["num_hidden_layers"] = 4096
        j["text_config"] = t
    }
    expectError(["loading config.json", "more than this machine's"]) {
        try HostMemory.check(count: huge.parameterCount, elementSize: 8, "loading config.json")
    }
}

@Test func safetensorsHeaderFollowsTheReferenceLoader() throws {
    let data: [UInt8] = [0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64]
    func file(_ header: String, _ body: [UInt8]) throws -> String {
        var h = Array(header.utf8)
        h += Array(repeating: 0x20, count: (8 - h.count % 8) % 8)
        var out = [UInt8]()
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(h.count) >> (8 * UInt64(i)))) }
        let url = TestPaths.tempDir("st").appendingPathComponent("x.safetensors")
        try Data(out + h + body).write(to: url)
        return url.path
    }
    // A name listed twice: readers disagree on which entry wins, so it is an error.
    let dup = try file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, data)
    expectError([dup, "tensor \"w\"", "listed twice"]) { _ = try SafeTensorsFile(path: dup) }
    // Bytes past the last tensor, and a gap between tensors.
    let trailing = try file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data)
    expectError([trailing, "8 bytes after the last tensor"]) { _ = try SafeTensorsFile(path: trailing) }
    let gap = try file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, data)
    expectError([gap, "bytes [0, 8)", "belong to no tensor"]) { _ = try SafeTensorsFile(path: gap) }
    let ok = try file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, data)
    #expect(try SafeTensorsFile(path: ok).array("b").values == [3, 4])
}

@Test func shardIndexNamingAFIFOIsRefusedWithoutBlocking() throws {
    let dir = TestPaths.tempDir("fifo-index")
    #expect(mkfifo(dir.appendingPathComponent("shard.safetensors").path, 0o644) == 0)
    let index = dir.appendingPathComponent(SafeTensorsIndex.fileName)
    try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": ["w": "shard.safetensors"]]).write(to: index)
    expectError(["shard.safetensors", "named pipe (FIFO), not a regular file"]) { _ = try SafeTensorsIndex(path: index.path).arrays() }
}

@Test func nonFiniteWeightsAreRefusedNamingTheTensor() throws {
    let dir = TestPaths.tempDir("nan").appendingPathComponent("model")
    let model = LlavaModel(tinyConfig(), seed: 2)
    model.namedParameters().first { $0.0 == "model.language_model.norm.weight" }!.1.data[3] = .nan
    try model.save(to: dir, tokenizerJSON: nil, preprocessor: nil)
    expectError(["model.safetensors", "\"model.language_model.norm.weight\" holds 1 NaN or infinite value", "--allow-nonfinite-weights"]) {
        _ = try LlavaModel.load(dir)
    }
    var warnings: [String] = []
    let loaded = try LlavaModel.load(dir, nonFinite: .warn { warnings.append($0) })
    #expect(warnings.count == 1 && warnings[0].contains("model.language_model.norm.weight"))
    #expect(loaded.namedParameters().first { $0.0 == "model.language_model.norm.weight" }!.1.data[3].isNaN)
}

@Test func preprocessorSettingsAreImplementedOrRefused() throws {
    func config(_ json: String) throws -> ImageProcessorConfig {
        let url = TestPaths.tempDir("pre").appendingPathComponent("preprocessor_config.json")
        try Data(json.utf8).write(to: url)
        return try ImageProcessorConfig.load(url.path)
    }
    expectError(["preprocessor_config.json", "resample", "PIL filter 0 is not supported"]) { _ = try config(#"{"resample": 0}"#) }
    expectError(["image_grid_pinpoints", "not supported"]) { _ = try config(#"{"image_grid_pinpoints": [[336, 672]]}"#) }
    expectError(["rescale_factor"]) { _ = try config(#"{"rescale_factor": -1}"#) }
    var img = RGBImage(width: 12, height: 12)
    for y in 0..<12 { for x in 0..<12 { img[x, y] = RGB(UInt8(x * 20), UInt8(y * 20), UInt8(x * y)) } }
    // Resize to 12 (the shortest edge) then crop the centre 8: the crop is applied.
    let p = try config(#"{"size": {"shortest_edge": 12}, "crop_size": {"height": 8, "width": 8}, "do_normalize": false, "rescale_factor": 1}"#)
    let px = try p.pixels(img, side: 8, path: "x.png")
    #expect(px.count == 3 * 64 && px[0] == Float(img[2, 2].r))
    // Sizes that do not give the tower's input are an error, not a silent resize.
    expectError(["x.png", "makes 8x8 images", "vision tower takes 16x16", "preprocessor_config.json"]) { _ = try p.pixels(img, side: 16, path: "x.png") }
    // The default processor for a square tower input is the pipeline hallu always used.
    let square = try ImageProcessorConfig.square(12).pixels(img, side: 12, path: "x.png")
    #expect(square == (try img.normalizedCHW()))
}
