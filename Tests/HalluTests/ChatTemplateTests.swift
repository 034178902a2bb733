import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

private func template(_ folder: String, image: Int = ChatTemplate.llavaImageTokenIndex) throws -> ChatTemplate {
    let tok = try Tokenizer.load(TokenizerGoldens.root.appendingPathComponent("\(folder)/tokenizer.json").path)
    return try ChatTemplate.llavaV1(tokenizer: tok, imageTokenIndex: image)
}

private let oneTurn = [ChatTurn(.human, "<image>\nWhat is in the picture?"), ChatTurn(.gpt, "A red car next to a dog.")]
private let threeTurns = [
    ChatTurn(.human, "<image>\nDescribe the image in detail."), ChatTurn(.gpt, "A cat is on a couch."),
    ChatTurn(.human, "What colour is the couch?"), ChatTurn(.gpt, "It is red."),
    ChatTurn(.human, "Is there a dog?"), ChatTurn(.gpt, "No, there isn't. Café 🐱!"),
]

/// Positions with a label, grouped into runs of consecutive positions.
private func supervisedRuns(_ e: ConversationEncoding) -> [[Int]] {
    var runs: [[Int]] = []
    for (t, l) in e.labels.enumerated() where l != ChatTemplate.ignoreIndex {
        if let last = runs.last?.last, last == t - 1 { runs[runs.count - 1].append(t) } else { runs.append([t]) }
    }
    return runs
}

/// LLaVA's tokenizer_image_token: pieces around <image> tokenized with special tokens, BOS kept once.
private func llavaTokenizerImageToken(_ prompt: String, _ tok: Tokenizer, _ image: Int) -> [Int] {
    let chunks = prompt.components(separatedBy: "<image>").map { tok.encode($0) }
    var ids: [Int] = []
    var offset = 0
    if let first = chunks.first?.first, first == tok.bosId {
        offset = 1
        ids.append(first)
    }
    for (k, c) in chunks.enumerated() {
        if k > 0 { ids.append(image) }
        ids += c.dropFirst(offset)
    }
    return ids
}

/// LLaVA's preprocess_v1 label arithmetic (legacy tokenizer branch), reimplemented to cross-check.
private func llavaPreprocessV1(_ t: ChatTemplate, _ turns: [ChatTurn]) throws -> ConversationEncoding {
    let conversation = try t.render(turns)
    let ids = llavaTokenizerImageToken(conversation, t.tokenizer, t.imageTokenIndex)
    var target = ids
    let sep = t.sep + t.assistantRole + ": "
    var cur = 1
    target[0] = ChatTemplate.ignoreIndex
    for rou in conversation.components(separatedBy: t.sep2) {
        if rou.isEmpty { break }
        var parts = rou.components(separatedBy: sep)
        if parts.count != 2 { break }
        parts[0] += sep
        let roundLen = llavaTokenizerImageToken(rou, t.tokenizer, t.imageTokenIndex).count
        let instructionLen = llavaTokenizerImageToken(parts[0], t.tokenizer, t.imageTokenIndex).count - 2
        for k in cur..<min(cur + instructionLen, target.count) { target[k] = ChatTemplate.ignoreIndex }
        cur += roundLen
    }
    for k in min(cur, target.count)..<target.count { target[k] = ChatTemplate.ignoreIndex }
    if cur != ids.count { target = Array(repeating: ChatTemplate.ignoreIndex, count: ids.count) }
    return ConversationEncoding(inputIds: ids, labels: target)
}

@Test func chatTemplateRendersVicunaV1() throws {
    let t = try template("bytelevel")
    #expect(try t.render(oneTurn) == ChatTemplate.vicunaSystem
        + " USER: <image>\nWhat is in the picture? ASSISTANT: A red car next to a dog.</s>")
    #expect(try t.render(Array(threeTurns[0..<4])).hasSuffix("ASSISTANT: A cat is on a couch.</s>USER: What colour is the couch? ASSISTANT: It is red.</s>"))
}

@Test(arguments: ["bytelevel", "llama", "llama_metaspace", "swift_trained"])
func chatTemplateLabelsCoverAnswerAndEOS(folder: String) throws {
    let t = try template(folder)
    let e = try t.encode(oneTurn)
    #expect(e.inputIds.count == e.labels.count)
    #expect(e.inputIds.first == t.tokenizer.bosId && e.labels.first == ChatTemplate.ignoreIndex)
    #expect(e.inputIds.filter { $0 == t.imageTokenIndex }.count == 1)
    #expect(!e.inputIds.contains(t.tokenizer.id(of: "<image>") ?? -12345))
    let runs = supervisedRuns(e)
    #expect(runs.count == 1)
    let run = try #require(runs.first)
    #expect(run.last == e.inputIds.count - 1 && e.inputIds.last == t.eosId)
    for p in run { #expect(e.labels[p] == e.inputIds[p]) }
    let answer = t.tokenizer.decode(run.map { e.inputIds[$0] }, skipSpecialTokens: false)
    #expect(answer.trimmingCharacters(in: .whitespaces) == "A red car next to a dog.</s>")
    // The token before the answer is the ":" of "ASSISTANT:".
    #expect(t.tokenizer.decode([e.inputIds[run[0] - 1]]).hasSuffix(":"))
}

@Test(arguments: ["bytelevel", "llama", "llama_metaspace"])
func chatTemplateMultiTurnHasOneEOSLabelPerAnswer(folder: String) throws {
    let t = try template(folder)
    let e = try t.encode(threeTurns)
    let runs = supervisedRuns(e)
    #expect(runs.count == 3)
    #expect(e.labels.filter { $0 == t.eosId }.count == 3)
    #expect(e.inputIds.filter { $0 == t.eosId }.count == 3)
    #expect(e.inputIds.filter { $0 == t.imageTokenIndex }.count == 1)
    let answers = runs.map { r in
        t.tokenizer.decode(r.map { e.inputIds[$0] }, skipSpecialTokens: true).trimmingCharacters(in: .whitespaces)
    }
    #expect(answers == ["A cat is on a couch.", "It is red.", "No, there isn't. Café 🐱!"])
    for r in runs { #expect(e.inputIds[r.last!] == t.eosId) }
}

/// Where LLaVA's own arithmetic applies (Llama legacy and byte-level tokenizers), ids and labels are
/// identical to what preprocess_v1 computes.
@Test(arguments: ["bytelevel", "llama", "swift_trained"])
func chatTemplateAgreesWithLLaVAPreprocess(folder: String) throws {
    let t = try template(folder)
    for turns in [oneTurn, threeTurns, Array(threeTurns[0..<4])] {
        let ours = try t.encode(turns)
        let llava = try llavaPreprocessV1(t, turns)
        #expect(ours.inputIds == llava.inputIds)
        #expect(ours.labels == llava.labels)
        #expect(llava.labels.contains { $0 != ChatTemplate.ignoreIndex })
    }
}

/// The non-legacy Metaspace tokenizer is where LLaVA's arithmetic loses count; span labels do not.
@Test func chatTemplateMetaspaceStillLabelsWhereLLaVAArithmeticFails() throws {
    let t = try template("llama_metaspace")
    let ours = try t.encode(threeTurns)
    let llava = try llavaPreprocessV1(t, threeTurns)
    #expect(ours.inputIds == llava.inputIds)
    #expect(ours.labels != llava.labels)
    #expect(supervisedRuns(ours).count == 3)
}

@Test(arguments: ["bytelevel", "llama", "llama_metaspace"])
func chatTemplatePromptIsTheTrainingPrefix(folder: String) throws {
    let t = try template(folder)
    let p = t.prompt(for: "What is in the picture?")
    let e = try t.encode(oneTurn)
    let firstLabel = try #require(e.labels.firstIndex { $0 != ChatTemplate.ignoreIndex })
    #expect(p == Array(e.inputIds[..<firstLabel]))
    #expect(t.tokenizer.decode(p).hasSuffix("ASSISTANT:"))
    #expect(p.filter { $0 == t.imageTokenIndex }.count == 1)
    #expect(t.prompt(for: "<image>\nWhat is in the picture?") == p)
    #expect(!t.prompt(for: "Hi", withImage: false).contains(t.imageTokenIndex))
}

@Test func chatTemplateDescribeMarksSupervisedSpans() throws {
    let t = try template("bytelevel")
    let a = try t.encode(oneTurn)
    let b = try t.encode(Array(threeTurns[0..<4]))
    let text = t.describe(batch: [a, b])
    #expect(text.contains("#0 tokens=\(a.inputIds.count) supervised=\(a.labels.filter { $0 != -100 }.count)"))
    #expect(text.contains("#1 tokens="))
    #expect(text.contains("USER: <image>\nWhat is in the picture? ASSISTANT:⟦ A red car next to a dog.</s>⟧"))
    #expect(text.contains("ASSISTANT:⟦ A cat is on a couch.</s>⟧USER: What colour is the couch? ASSISTANT:⟦ It is red.</s>⟧"))
    #expect(text.hasPrefix("#0") && text.contains("<s>A chat between"))
    var broken = a
    broken.labels[0] = 5
    #expect(t.describe(broken).contains("label!=id at 1"))
}

@Test func chatTemplateValidatesRoles() throws {
    let t = try template("bytelevel")
    #expect(throws: HalluError.self) { try t.encode([ChatTurn(.human, "a"), ChatTurn(.human, "b")]) }
    #expect(throws: HalluError.self) { try t.encode([]) }
    #expect(throws: HalluError.self) { try t.encode([ChatTurn(.human, "q"), ChatTurn(.gpt, ""), ChatTurn(.human, "q2")]) }
    // A leading gpt turn is dropped, as LLaVA does.
    #expect(try t.encode([ChatTurn(.gpt, "hello")] + oneTurn) == t.encode(oneTurn))
    // A conversation ending with the user has no labels.
    let open = try t.encode([ChatTurn(.human, "hi")])
    #expect(open.labels.allSatisfy { $0 == ChatTemplate.ignoreIndex })
}

@Test func chatTemplateNeedsAnEOSToken() throws {
    let tok = Tokenizer.train(corpus: ["a b c"], vocabSize: 260, specialTokens: ["<s>"])
    #expect(throws: HalluError.self) { try ChatTemplate.llavaV1(tokenizer: tok, imageTokenIndex: -200) }
    let tok2 = Tokenizer.train(corpus: ["a b c"], vocabSize: 260, specialTokens: ["<s>", "</s>"])
    #expect(throws: HalluError.self) { try ChatTemplate.llavaV1(tokenizer: tok2, imageTokenIndex: 5) }
    #expect(try ChatTemplate.llavaV1(tokenizer: tok2, imageTokenIndex: 9999).imageTokenIndex == 9999)
}

@Test func chatTemplateMovesImageToFront() {
    let moved = ChatTemplate.movingImageToFront([ChatTurn(.human, "What is this? <image> "), ChatTurn(.gpt, "A cat.")])
    #expect(moved == [ChatTurn(.human, "<image>\nWhat is this?"), ChatTurn(.gpt, "A cat.")])
}
