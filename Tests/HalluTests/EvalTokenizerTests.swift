import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// The CHAIR tokenizer against nltk.word_tokenize (NLTK 3.8.1, untrained Punkt) on crafted sentences and
/// a sample of real captions (golden file from scripts/eval_tokenizer_golden.py).
@Test func treebankTokenizerMatchesNLTKGolden() throws {
    let url = TestPaths.fixtures.appendingPathComponent("eval/tokenizer_golden.json")
    let cases = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [[String: Any]])
    #expect(cases.count > 100)
    var mismatches: [String] = []
    for c in cases {
        let text = try #require(c["text"] as? String)
        let expected = try #require(c["tokens"] as? [String])
        let got = TreebankWordTokenizer.tokenize(text)
        if got != expected { mismatches.append("\(text.debugDescription)\n  nltk: \(expected)\n  got:  \(got)") }
    }
    #expect(mismatches.isEmpty, "\(mismatches.count) mismatches:\n\(mismatches.prefix(5).joined(separator: "\n"))")
}

@Test func punktKeepsNumbersAndInitialsBeforeLowercase() {
    #expect(PunktSentenceSplitter.sentences("there are 2. more a. b here. next") == ["there are 2. more a. b here.", "next"])
    #expect(PunktSentenceSplitter.sentences("(a cat.) a dog.") == ["(a cat.)", "a dog."])
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
    #expect(WordNetLemmatizer.isAmbiguous("seated"))
    #expect(!WordNetLemmatizer.isAmbiguous("dog"))
}
