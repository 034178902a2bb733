import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

private func writeTemp(_ text: String, name: String = "tokenizer.json") throws -> String {
    let f = TestPaths.tempDir("tokload").appendingPathComponent(name)
    try AtomicFile.write(text, to: f)
    return f.path
}

/// A minimal valid tokenizer.json with `model`, `normalizer` etc. replaceable.
private func minimal(model: String = #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}"#,
                     normalizer: String = "null", preTokenizer: String = "null", decoder: String = "null",
                     postProcessor: String = "null") -> String {
    #"{"version": "1.0", "added_tokens": [], "normalizer": \#(normalizer), "pre_tokenizer": \#(preTokenizer), "#
        + #""post_processor": \#(postProcessor), "decoder": \#(decoder), "model": \#(model)}"#
}

private func loadError(_ text: String) throws -> String {
    let path = try writeTemp(text)
    do {
        _ = try Tokenizer.load(path)
    } catch let e as HalluError {
        #expect(e.message.contains(path), "error should name the file: \(e.message)")
        return e.message
    }
    Issue.record("expected an error for \(text)")
    return ""
}

@Test func tokenizerMinimalFileLoads() throws {
    let tok = try Tokenizer.load(try writeTemp(minimal()))
    #expect(tok.encode("abba") == [2, 1, 0])
    #expect(tok.vocabSize == 3)
    #expect(tok.decode([2, 1]) == "ab b")  // no decoder: HF joins tokens with spaces
}

@Test func tokenizerRejectsUnsupportedComponents() throws {
    #expect(try loadError(minimal(model: #"{"type": "Unigram", "vocab": [["a", 0.0]]}"#)).contains("unsupported model type \"Unigram\""))
    #expect(try loadError(minimal(model: #"{"type": "WordPiece", "vocab": {"a": 0}}"#)).contains("\"WordPiece\""))
    #expect(try loadError(minimal(model: #"{"type": "WordLevel", "vocab": {"a": 0}}"#)).contains("model"))
    #expect(try loadError(minimal(normalizer: #"{"type": "BertNormalizer"}"#)).contains("unsupported normalizer \"BertNormalizer\""))
    #expect(try loadError(minimal(normalizer: #"{"type": "Sequence", "normalizers": [{"type": "Precompiled", "precompiled_charsmap": ""}]}"#))
        .contains("normalizer.normalizers[0]: unsupported normalizer \"Precompiled\""))
    #expect(try loadError(minimal(preTokenizer: #"{"type": "BertPreTokenizer"}"#)).contains("unsupported pre_tokenizer \"BertPreTokenizer\""))
    #expect(try loadError(minimal(decoder: #"{"type": "WordPiece", "prefix": "__"}"#)).contains("unsupported decoder \"WordPiece\""))
    #expect(try loadError(minimal(postProcessor: #"{"type": "Foo"}"#)).contains("unsupported post_processor \"Foo\""))
    #expect(try loadError(minimal(model: #"{"type": "BPE", "dropout": 0.1, "vocab": {"a": 0}, "merges": []}"#)).contains("dropout"))
}

@Test func tokenizerRejectsMalformedFiles() throws {
    let m = try loadError("{\n  \"version\": \"1.0\",\n  \"model\": {oops}\n}")
    #expect(m.contains(":3: malformed JSON"))
    #expect(try loadError("").contains("malformed JSON"))
    #expect(try loadError("[1, 2]").contains("top level"))
    #expect(try loadError(#"{"version": "1.0"}"#).contains("missing required key \"model\""))
    #expect(try loadError(minimal(model: #"{"type": "BPE", "vocab": {"a": 0}}"#)).contains("\"model.merges\""))
    #expect(try loadError(minimal(model: #"{"type": "BPE", "vocab": {"a": "x"}, "merges": []}"#)).contains("model.vocab.a: expected an integer"))
    #expect(try loadError(minimal(model: #"{"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a c"]}"#)).contains("model.merges[0]"))
    #expect(try loadError(minimal(model: #"{"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}"#)).contains("result \"ab\""))
    #expect(try loadError(minimal(model: #"{"type": "BPE", "vocab": {"a": 0, "b": 0}, "merges": []}"#)).contains("id 0"))
    #expect(try loadError(minimal(model: #"{"type": "BPE", "unk_token": "<unk>", "vocab": {"a": 0}, "merges": []}"#)).contains("unk_token"))
    #expect(try loadError(minimal(postProcessor: #"{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}], "special_tokens": {}}"#))
        .contains("\"<s>\" is not listed"))
    do {
        _ = try Tokenizer.load("/nonexistent/dir/tokenizer.json")
        Issue.record("expected an error")
    } catch let e as HalluError {
        #expect(e.message.contains("/nonexistent/dir/tokenizer.json"))
    }
}

@Test func tokenizerKeepsCanonicallyEquivalentTokensApart() throws {
    // "é" precomposed and "e" + combining acute are different tokens; Swift's String == would merge them.
    let model = #"{"type": "BPE", "vocab": {"e": 0, "\u0301": 1, "\u00e9": 2, "e\u0301": 3}, "merges": ["e \u0301"]}"#
    let tok = try Tokenizer.load(try writeTemp(minimal(model: model)))
    #expect(tok.encode("\u{e9}") == [2])
    #expect(tok.encode("e\u{301}") == [3])
    #expect(tok.id(of: "\u{e9}") == 2 && tok.id(of: "e\u{301}") == 3)
}

@Test func tokenizerReadsConfigAndFolders() throws {
    let dir = TestPaths.tempDir("tokcfg")
    let src = TokenizerGoldens.root.appendingPathComponent("bytelevel/tokenizer.json")
    try FileManager.default.copyItem(at: src, to: dir.appendingPathComponent("tokenizer.json"))
    try AtomicFile.write(#"{"eos_token": {"content": "<pad>"}, "pad_token": "<unk>", "bos_token": null}"#,
                         to: dir.appendingPathComponent("tokenizer_config.json"))
    let tok = try Tokenizer.load(dir.path)
    #expect(tok.eosId == 3 && tok.padId == 0 && tok.bosId == 1)
    try AtomicFile.write(#"{"eos_token": "<nope>"}"#, to: dir.appendingPathComponent("tokenizer_config.json"))
    #expect(throws: HalluError.self) { try Tokenizer.load(dir.path) }
    // saveConfig writes what load reads back.
    let plain = try Tokenizer.load(src.path)
    try plain.saveConfig(dir.appendingPathComponent("tokenizer_config.json").path)
    let again = try Tokenizer.load(dir.path)
    #expect(again.eosId == 2 && again.padId == 3 && again.bosId == 1 && again.unkId == 0)
}

/// Loading an HF file and saving it keeps every component; the Llama files saved by hallu are read by
/// HF (swift_resaved_*/cases.json come from HF reading hallu's output).
@Test(arguments: ["llama", "llama_metaspace", "bytelevel", "llama3", "misc"])
func tokenizerSaveKeepsHFFile(folder: String) throws {
    let src = TokenizerGoldens.root.appendingPathComponent("\(folder)/tokenizer.json").path
    let tok = try Tokenizer.load(src)
    let out = TestPaths.tempDir("toksave").appendingPathComponent("tokenizer.json").path
    try tok.save(out)
    let original = try OrderedJSON.parse(Data(contentsOf: URL(fileURLWithPath: src)), path: src)
    let saved = try OrderedJSON.parse(Data(contentsOf: URL(fileURLWithPath: out)), path: out)
    for key in ["added_tokens", "normalizer", "pre_tokenizer", "post_processor", "decoder", "truncation", "padding"] {
        #expect(original[key] == saved[key], "\(folder): \(key) changed on save")
    }
    #expect(original["model"]?["vocab"] == saved["model"]?["vocab"])
    let reloaded = try Tokenizer.load(out)
    #expect(reloaded.model.merges.count == tok.model.merges.count)
    #expect(zip(reloaded.model.merges, tok.model.merges).allSatisfy { $0 == $1 })
    // Saving is stable.
    let out2 = TestPaths.tempDir("toksave").appendingPathComponent("tokenizer.json").path
    try reloaded.save(out2)
    #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(contentsOf: URL(fileURLWithPath: out2)))
    if folder.hasPrefix("llama") && folder != "llama3" {
        let fixture = TokenizerGoldens.root.appendingPathComponent("swift_resaved_\(folder)/tokenizer.json")
        if ProcessInfo.processInfo.environment["HALLU_WRITE_TOKENIZER_GOLDENS"] == "1" {
            try AtomicFile.write(try Data(contentsOf: URL(fileURLWithPath: out)), to: fixture)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(contentsOf: fixture))
        try TokenizerGoldens.check("swift_resaved_\(folder)")
    }
}

@Test func tokenizerOffsetsPointIntoTheInput() throws {
    let tok = try Tokenizer.load(TokenizerGoldens.root.appendingPathComponent("llama/tokenizer.json").path)
    let text = "A cat 🐱</s> sat"
    let e = tok.encoding(text)
    let scalars = Array(text.unicodeScalars)
    #expect(e.offsets.first == 0..<0)  // BOS from the post-processor
    for (id, r) in zip(e.ids.dropFirst(), e.offsets.dropFirst()) {
        let piece = ExactKey(scalars[r]).text
        let tokenText = tok.decode([id], skipSpecialTokens: false)
        if tokenText != "\u{FFFD}" {
            #expect(piece.trimmingCharacters(in: .whitespaces) == tokenText.trimmingCharacters(in: .whitespaces), "\(id) \(r)")
        } else {
            #expect(piece == "🐱")
        }
    }
    let bl = try Tokenizer.load(TokenizerGoldens.root.appendingPathComponent("bytelevel/tokenizer.json").path)
    let e2 = bl.encoding("red car", addSpecialTokens: false)
    #expect(e2.offsets.first?.lowerBound == 0 && e2.offsets.last?.upperBound == 7)
}

@Test func tokenizerTruncationFromFile() throws {
    var text = try String(contentsOf: TokenizerGoldens.root.appendingPathComponent("bytelevel/tokenizer.json"), encoding: .utf8)
    text = text.replacingOccurrences(of: "\"truncation\": null", with: #""truncation": {"direction": "Right", "max_length": 4, "strategy": "LongestFirst", "stride": 0}"#)
    let tok = try Tokenizer.load(try writeTemp(text))
    let full = try Tokenizer.load(TokenizerGoldens.root.appendingPathComponent("bytelevel/tokenizer.json").path)
    let ids = tok.encode("A dog is next to a green bicycle")
    #expect(ids.count == 4 && ids == Array(full.encode("A dog is next to a green bicycle").prefix(4)))
    #expect(tok.encode("A dog is next to a green bicycle", addSpecialTokens: false).count == 4)
}
