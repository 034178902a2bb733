import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// CHAIR's tokenisers and tagger against the real NLTK 3.8.1 with its trained English models
/// (golden files from scripts/eval_nltk_goldens.py).

private func golden(_ name: String) throws -> Any {
    try ExactJSON.read(TestPaths.fixtures.appendingPathComponent("eval/\(name)").path)
}

/// Mismatch report: how many, and the first few in full.
private func report(_ mismatches: [String], of total: Int) -> Comment {
    "\(mismatches.count) of \(total) differ:\n\(mismatches.prefix(4).joined(separator: "\n"))"
}

@Test func embeddedNLTKModelsAreTheRepositoryFiles() throws {
    for (base64, file) in [(NLTKModelData.averagedPerceptronTagger, "averaged_perceptron_tagger.json.gz"),
                           (NLTKModelData.punktEnglish, "punkt_english.json.gz")] {
        let onDisk = try Data(contentsOf: URL(fileURLWithPath: TestPaths.data("nltk/\(file)")))
        let embedded = NLTKEnglish.gzipBytes(base64)
        #expect(embedded == [UInt8](onDisk), "\(file): run scripts/eval_embed_nltk.py")
        // The built-in decoder gives what libz gives.
        #expect(try EmbeddedGzip.decompress(embedded) == [UInt8](try Gzip.decompress(onDisk)))
    }
    let tagger = PerceptronTagger.english
    #expect(tagger.classes.count == 45 && tagger.tagDictionary.count == 1549 && tagger.featureRange.count == 75447)
    #expect(tagger.entryWeight.count == 271_206)
    let punkt = PunktParameters.english
    #expect(punkt.abbreviations.count == 156 && punkt.collocations.count == 37)
    #expect(punkt.sentenceStarters.count == 39 && punkt.orthographicContext.count == 20366)
}

@Test func punktTreebankAndTaggerMatchNLTKOnSentences() throws {
    let cases = try #require(try golden("nltk_sentences.json.gz") as? [[String: Any]])
    #expect(cases.count > 5000)
    var badSentences: [String] = [], badTokens: [String] = [], badTags: [String] = []
    var tokenCount = 0
    for c in cases {
        let text = try #require(c["text"] as? String)
        let sentences = try #require(c["sentences"] as? [String])
        let tokens = try #require(c["tokens"] as? [String])
        let tags = try #require(c["tags"] as? [String])
        tokenCount += tokens.count
        let mySentences = PunktSentenceTokenizer.english.sentences(text)
        if mySentences != sentences { badSentences.append("\(text.debugDescription)\n  nltk: \(sentences)\n  got:  \(mySentences)") }
        let myTokens = TreebankWordTokenizer.tokenize(text)
        if myTokens != tokens { badTokens.append("\(text.debugDescription)\n  nltk: \(tokens)\n  got:  \(myTokens)") }
        let myTags = PerceptronTagger.english.tag(tokens)
        if myTags != tags {
            let diff = zip(tokens, zip(tags, myTags)).filter { $1.0 != $1.1 }.map { "\($0): nltk \($1.0), got \($1.1)" }
            badTags.append("\(text.debugDescription)\n  \(diff.prefix(5).joined(separator: "; "))")
        }
    }
    #expect(tokenCount > 90_000)
    #expect(badSentences.isEmpty, report(badSentences, of: cases.count))
    #expect(badTokens.isEmpty, report(badTokens, of: cases.count))
    #expect(badTags.isEmpty, report(badTags, of: cases.count))
}

/// Every caption of every Table 1 file: Punkt's sentence spans as written, and the tokens and tags of
/// the lower-cased caption that chair.py parses (compared through a SHA-256 of both sequences).
@Test func everyTable1CaptionSplitsTokenisesAndTagsAsNLTK() throws {
    let cases = try #require(try golden("nltk_captions.json.gz") as? [[String: Any]])
    #expect(cases.count == 6000)
    var captions: [String: [String]] = [:]
    var badSpans: [String] = [], badTokens: [String] = []
    for c in cases {
        let file = try #require(c["file"] as? String), line = try #require(c["line"] as? Int)
        if captions[file] == nil {
            captions[file] = try EvalRecords.read(TestPaths.data("less-is-more/Table1-results/\(file).jsonl")).map { $0.record["text"] as! String }
        }
        let text = captions[file]![line]
        let spans = try #require(c["spans"] as? [[Int]]).map { $0[0]..<$0[1] }
        let mySpans = PunktSentenceTokenizer.english.spans(Array(text.unicodeScalars))
        if mySpans != spans { badSpans.append("\(file):\(line + 1) nltk \(spans), got \(mySpans)") }
        let tokens = TreebankWordTokenizer.tokenize(PythonText.lower(text))
        let tags = PerceptronTagger.english.tag(tokens)
        let digest = String(SHA256.hex(tokens.joined(separator: "\t") + "\n" + tags.joined(separator: "\t")).prefix(16))
        if tokens.count != c["tokens"] as? Int || digest != c["sha256"] as? String {
            badTokens.append("\(file):\(line + 1): \(tokens.count) tokens (nltk \(c["tokens"] ?? "?"))")
        }
    }
    #expect(badSpans.isEmpty, report(badSpans, of: cases.count))
    #expect(badTokens.isEmpty, report(badTokens, of: cases.count))
}

@Test func punktUsesTheTrainedEnglishModel() {
    let punkt = PunktSentenceTokenizer.english
    // Known abbreviations and initials do not end sentences; an unknown word with a period does.
    #expect(punkt.sentences("Mr. Smith met Dr. Jones. They left.") == ["Mr. Smith met Dr. Jones.", "They left."])
    #expect(punkt.sentences("J. S. Bach wrote it. A. Smith disagreed.") == ["J. S. Bach wrote it.", "A. Smith disagreed."])
    // A number before a lower-case word is not a break; closing brackets stay with their sentence.
    #expect(punkt.sentences("there are 2. more items here. next") == ["there are 2. more items here.", "next"])
    #expect(punkt.sentences("(a cat.) a dog.") == ["(a cat.)", "a dog."])
    // Untrained, the same text splits after every period.
    let untrained = PunktSentenceTokenizer(parameters: PunktParameters())
    #expect(untrained.sentences("Mr. Smith met Dr. Jones.").count == 3)
}

@Test func perceptronTaggerFollowsNLTK() {
    let tagger = PerceptronTagger.english
    // NLTK's own doctest.
    #expect(tagger.tag("The quick brown fox jumps over the lazy dog".split(separator: " ").map(String.init))
            == ["DT", "JJ", "NN", "NN", "VBZ", "IN", "DT", "JJ", "NN"])
    // The tag dictionary is looked up as written, the features on normalised words.
    #expect(PerceptronTagger.normalize(Array("well-known".unicodeScalars)) == "!HYPHEN")
    #expect(PerceptronTagger.normalize(Array("-5".unicodeScalars)) == "-5")
    #expect(PerceptronTagger.normalize(Array("1999".unicodeScalars)) == "!YEAR")
    #expect(PerceptronTagger.normalize(Array("19999".unicodeScalars)) == "!DIGITS")
    #expect(PerceptronTagger.normalize(Array("ΣΟΦΟΣ".unicodeScalars)) == "\u{03C3}\u{03BF}\u{03C6}\u{03BF}\u{03C2}")
    #expect(tagger.tag([]) == [])
}

@Test func embeddedGzipDecodesStoredFixedAndDynamicBlocks() throws {
    let text = Array((0..<5000).map { "word \($0 % 97) " }.joined().utf8)
    func gzip(_ deflate: [UInt8], of plain: [UInt8]) -> [UInt8] {
        let crc = EmbeddedGzip.crc32(plain), n = UInt32(plain.count)
        return [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3] + deflate
            + (0..<4).map { UInt8(truncatingIfNeeded: crc >> (8 * UInt32($0))) } + (0..<4).map { UInt8(truncatingIfNeeded: n >> (8 * UInt32($0))) }
    }
    // Zlib streams minus their 2-byte header and 4-byte Adler-32 are raw DEFLATE.
    let short = Array("ab".utf8)
    for (stream, plain) in [(Zlib.stored(text), text), (try Zlib.compress(text, level: 1), text),
                            (try Zlib.compress(text, level: 9), text), (try Zlib.compress(short, level: 9), short)] {
        let raw = Array(stream[2..<(stream.count - 4)])
        #expect(try EmbeddedGzip.decompress(gzip(raw, of: plain)) == plain)
    }
    var damaged = gzip(Array(try Zlib.compress(text).dropFirst(2).dropLast(4)), of: text)
    damaged[damaged.count - 8] ^= 1
    #expect(throws: EmbeddedGzip.Failure.self) { try EmbeddedGzip.decompress(damaged) }
    #expect(throws: EmbeddedGzip.Failure.self) { try EmbeddedGzip.decompress([0x1F, 0x8B, 8]) }
}

@Test func sha256KnownAnswers() {
    #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(SHA256.hex(String(repeating: "a", count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
}

@Test func wordNetLemmasFollowMorphy() {
    #expect(WordNetLemmatizer.lemmatize("glasses", as: .noun) == "glass")
    #expect(WordNetLemmatizer.lemmatize("men", as: .noun) == "men")  // both forms are WordNet nouns; NLTK keeps the first
    #expect(WordNetLemmatizer.lemmatize("women", as: .noun) == "woman")
    #expect(WordNetLemmatizer.lemmatize("skiing", as: .verb) == "ski")
    #expect(WordNetLemmatizer.lemmatize("skiing", as: .noun) == "skiing")
    #expect(WordNetLemmatizer.lemmatize("scissors", as: .verb) == "scissor")
    #expect(WordNetLemmatizer.lemmatize("knives", as: .noun) == "knife")
    #expect(WordNetLemmatizer.lemmatize("zebra", as: .noun) == "zebra")
    #expect(WordNetPOS(pennTag: "VBG") == .verb && WordNetPOS(pennTag: "JJR") == .adjective)
    #expect(WordNetPOS(pennTag: "RB") == .adverb && WordNetPOS(pennTag: "NNS") == .noun && WordNetPOS(pennTag: "DT") == .noun)
}
