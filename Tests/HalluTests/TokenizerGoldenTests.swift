import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// Goldens from HF `tokenizers` (scripts/gen_tokenizer_goldens.py): every case must give the same ids
/// and the same decoded text in hallu.
enum TokenizerGoldens {
    static let root = TestPaths.fixtures.appendingPathComponent("tokenizer")

    struct Case {
        let text: String
        let ids: [Int]
        let idsNoSpecial: [Int]
        let decoded: String
        let decodedWithSpecial: String
    }

    struct DecodeCase {
        let ids: [Int]
        let decoded: String
        let decodedWithSpecial: String
    }

    static func load(_ folder: String) throws -> (tokenizer: Tokenizer, cases: [Case], decodes: [DecodeCase], vocabSize: Int) {
        let dir = root.appendingPathComponent(folder)
        let tok = try Tokenizer.load(dir.appendingPathComponent("tokenizer.json").path)
        let any = try JSONFiles.readJSON(dir.appendingPathComponent("cases.json").path)
        let d = try #require(any as? [String: Any])
        let cases = try #require(d["cases"] as? [[String: Any]]).map {
            Case(text: $0["text"] as! String, ids: $0["ids"] as! [Int], idsNoSpecial: $0["ids_no_special"] as! [Int],
                 decoded: $0["decoded"] as! String, decodedWithSpecial: $0["decoded_with_special"] as! String)
        }
        let decodes = try #require(d["decode_cases"] as? [[String: Any]]).map {
            DecodeCase(ids: $0["ids"] as! [Int], decoded: $0["decoded"] as! String,
                       decodedWithSpecial: $0["decoded_with_special"] as! String)
        }
        return (tok, cases, decodes, try #require(d["vocab_size"] as? Int))
    }

    /// Compares by scalars: Swift's `==` on strings ignores normalization differences that matter here.
    static func same(_ a: String, _ b: String) -> Bool { a.unicodeScalars.elementsEqual(b.unicodeScalars) }

    static func check(_ folder: String) throws {
        let g = try load(folder)
        #expect(g.tokenizer.vocabSize == g.vocabSize)
        #expect(g.cases.count >= 20)
        for c in g.cases {
            #expect(g.tokenizer.encode(c.text) == c.ids, "\(folder): \(c.text.debugDescription)")
            #expect(g.tokenizer.encode(c.text, addSpecialTokens: false) == c.idsNoSpecial, "\(folder): \(c.text.debugDescription)")
            let dec = g.tokenizer.decode(c.ids)
            #expect(same(dec, c.decoded), "\(folder): decode \(c.text.debugDescription) gave \(dec.debugDescription)")
            let decS = g.tokenizer.decode(c.ids, skipSpecialTokens: false)
            #expect(same(decS, c.decodedWithSpecial), "\(folder): decode \(c.text.debugDescription) gave \(decS.debugDescription)")
        }
        for c in g.decodes {
            #expect(same(g.tokenizer.decode(c.ids), c.decoded), "\(folder): decode \(c.ids)")
            #expect(same(g.tokenizer.decode(c.ids, skipSpecialTokens: false), c.decodedWithSpecial), "\(folder): decode \(c.ids)")
        }
    }
}

@Test func tokenizerByteLevelMatchesHF() throws {
    try TokenizerGoldens.check("bytelevel")
}

@Test func tokenizerLlamaMatchesHF() throws {
    try TokenizerGoldens.check("llama")
}

@Test func tokenizerLlamaMetaspaceMatchesHF() throws {
    try TokenizerGoldens.check("llama_metaspace")
}

@Test func tokenizerSpecialIdsAreRecognised() throws {
    let bl = try TokenizerGoldens.load("bytelevel").tokenizer
    #expect(bl.bosId == 1 && bl.eosId == 2 && bl.padId == 3 && bl.unkId == 0)
    #expect(bl.sequencePrefix == [1])
    let ll = try TokenizerGoldens.load("llama").tokenizer
    #expect(ll.bosId == 1 && ll.eosId == 2 && ll.padId == nil && ll.unkId == 0)
    #expect(ll.id(of: "<0x0A>") != nil)
}

@Test func tokenizerLlama3LayoutMatchesHF() throws {
    try TokenizerGoldens.check("llama3")
}

@Test func tokenizerNormalizersAndSplitsMatchHF() throws {
    try TokenizerGoldens.check("misc")
}

/// Encoding from several threads at once (the word cache is shared) gives the serial results.
@Test func tokenizerEncodesConcurrently() throws {
    let any = try JSONFiles.readJSON(TokenizerGoldens.root.appendingPathComponent("corpus.json").path)
    let corpus = try #require(any as? [String])
    for folder in ["bytelevel", "llama"] {
        let serialTok = try TokenizerGoldens.load(folder).tokenizer
        let serial = corpus.map { serialTok.encode($0) }
        let tok = try TokenizerGoldens.load(folder).tokenizer
        let results = UnsafeMutableBufferPointer<[Int]>.allocate(capacity: corpus.count)
        results.initialize(repeating: [])
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 4) { part in
            for k in stride(from: part, to: corpus.count, by: 4) { results[k] = tok.encode(corpus[k]) }
        }
        #expect(Array(results) == serial)
    }
}
