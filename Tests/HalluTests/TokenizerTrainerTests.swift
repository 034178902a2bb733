import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

private func goldenCorpus() throws -> [String] {
    let any = try JSONFiles.readJSON(TokenizerGoldens.root.appendingPathComponent("corpus.json").path)
    return try #require(any as? [String])
}

private let specials = ["<unk>", "<s>", "</s>", "<pad>"]

/// hallu's trainer on the corpus HF trained the bytelevel fixture on: same vocabulary, same merges.
@Test func tokenizerTrainerMatchesHFTrainer() throws {
    let corpus = try goldenCorpus()
    let ours = Tokenizer.train(corpus: corpus, vocabSize: 700, specialTokens: specials)
    let hf = try Tokenizer.load(TokenizerGoldens.root.appendingPathComponent("bytelevel/tokenizer.json").path)
    #expect(ours.model.merges.count == hf.model.merges.count)
    let same = zip(ours.model.merges, hf.model.merges).filter { $0 == $1 }.count
    #expect(same == hf.model.merges.count, "merges agreeing with HF: \(same) of \(hf.model.merges.count)")
    for id in 0..<700 { #expect(ours.token(of: id) == hf.token(of: id)) }
}

/// Train in Swift, save, and HF's reader must encode the saved file exactly as hallu does
/// (swift_trained/cases.json is written by HF from the committed tokenizer.json).
@Test func tokenizerTrainedFileLoadsInHF() throws {
    let corpus = try goldenCorpus()
    let tok = Tokenizer.train(corpus: corpus, vocabSize: 600, specialTokens: specials + ["<image>"])
    let dir = TestPaths.tempDir("tok")
    let path = dir.appendingPathComponent("tokenizer.json").path
    try tok.save(path)
    let fixture = TokenizerGoldens.root.appendingPathComponent("swift_trained/tokenizer.json")
    if ProcessInfo.processInfo.environment["HALLU_WRITE_TOKENIZER_GOLDENS"] == "1" {
        try AtomicFile.write(try Data(contentsOf: URL(fileURLWithPath: path)), to: fixture)
    }
    // Same corpus, same settings: byte-identical file.
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(contentsOf: fixture))
    try TokenizerGoldens.check("swift_trained")
    // Reloading what was saved changes nothing.
    let again = try Tokenizer.load(path)
    for text in corpus.prefix(50) { #expect(again.encode(text) == tok.encode(text)) }
    #expect(again.bosId == 1 && again.eosId == 2 && again.padId == 3 && again.id(of: "<image>") == 4)
}

@Test func tokenizerTrainingIsDeterministicAndRoundTrips() throws {
    let corpus = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog", "naïve café 猫 🐱"]
    let a = Tokenizer.train(corpus: corpus, vocabSize: 300, specialTokens: ["<s>", "</s>"])
    let b = Tokenizer.train(corpus: corpus, vocabSize: 300, specialTokens: ["<s>", "</s>"])
    #expect(Tokenizer.fileText(a.json) == Tokenizer.fileText(b.json))
    #expect(a.vocabSize <= 300 && a.vocabSize > 258)
    for text in corpus + ["unseen wörds ✓ and </s> inside", "  spaces\n\nand tabs\t"] {
        let ids = a.encode(text)
        #expect(ids.first == a.bosId)
        #expect(a.decode(ids, skipSpecialTokens: false) == "<s>" + text)
        #expect(a.decode(ids) == text.replacingOccurrences(of: "</s>", with: ""))
    }
    // The special token in the text is one id, and is dropped when decoding skips specials.
    let ids = a.encode("end</s>", addSpecialTokens: false)
    #expect(ids.last == a.eosId)
    #expect(a.decode(ids) == "end")
    #expect(a.decode(ids, skipSpecialTokens: false) == "end</s>")
}

@Test func tokenizerTrainingStopsAtVocabSizeAndMinFrequency() throws {
    let corpus = Array(repeating: "abab abab", count: 3) + ["xyz"]
    let small = Tokenizer.train(corpus: corpus, vocabSize: 258, specialTokens: ["<s>", "</s>"])
    #expect(small.model.merges.isEmpty && small.vocabSize == 258)
    let freq = Tokenizer.train(corpus: corpus, vocabSize: 1000, specialTokens: [], minFrequency: 2)
    // "xyz" occurs once, so none of its pairs is merged.
    let xyz = Set(["x", "y", "z"].compactMap { freq.id(of: $0) })
    #expect(freq.model.merges.allSatisfy { !xyz.contains($0.0) && !xyz.contains($0.1) })
    #expect(freq.encode("xyz").count == 3)
    #expect(freq.encode("abab").count == 1)
}
