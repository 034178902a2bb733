import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

private let scene = SceneFacts(
    objects: [SceneFacts.Object(category: "dog", colour: "red", size: "small"),
              SceneFacts.Object(category: "cat", colour: "black", size: "large"),
              SceneFacts.Object(category: "car", colour: "blue", size: "medium")],
    relations: [SceneFacts.Relation(subject: 0, relation: "left of", object: 1),
                SceneFacts.Relation(subject: 2, relation: "next_to", object: 0)])

@Test func shrSentenceSplitDropsRepeatsAndContainedSentences() {
    let s = SHRText.sentences("A dog. A dog.  The dog is big. dog. Two cats.\n\nA")
    #expect(s == ["A dog", "The dog is big", "Two cats"])  // "dog" and "A" are inside "A dog"
    #expect(SHRText.numbered(s) == "1. A dog\n2. The dog is big\n3. Two cats\n")
    #expect(SHRText.sentences("  ...  ").isEmpty)
    #expect(SHRText.wordCount("The dog is big") == 4)
}

@Test func shrRepetitionIsUniqueOverAllNgrams() {
    #expect(SHRText.repetition("a b a b", n: 1) == 0.5)
    #expect(SHRText.repetition("a b. a, b", n: 2) == 2.0 / 3.0)
    #expect(SHRText.repetition("one", n: 2) == nil)
}

@Test func groundTruthJudgeChecksObjectsAttributesAndRelations() {
    let judge = SceneGroundTruthJudge()
    let cases: [(String, SentenceJudgement)] = [
        ("A small red dog", .correct),
        ("A big dog", .hallucination),
        ("A green cat", .hallucination),
        ("A small, red dog and a large black cat", .correct),
        ("There is a bicycle", .hallucination),
        ("The dog is to the left of the cat", .correct),
        ("The cat is left of the dog", .hallucination),
        ("The cat is to the right of the dog", .correct),
        ("The dog is next to the car", .correct),
        ("The car sits next to a black cat", .hallucination),
        ("The dog is above the cat", .hallucination),
        ("The scene looks cheerful", .correct),
        ("An orange dog", .hallucination),       // colour, not the fruit: the dog is red
        ("A plate with an orange", .hallucination),  // the fruit is not in the scene
        ("Two kittens", .correct),               // synonyms map to the node word
    ]
    for (sentence, expected) in cases {
        #expect(judge.judge(sentence: sentence, scene: scene) == expected, "\(sentence)")
    }
}

@Test func shrEvaluatorMicroAveragesOverSentences() throws {
    let images = [
        SHRImage(id: "1", response: "A small red dog. A big dog. The scene is calm.", scene: scene),
        SHRImage(id: "2", response: "There is a bicycle.", scene: scene),
    ]
    let report = try SHREvaluator(judge: SceneGroundTruthJudge()).evaluate(images: images)
    #expect(report.sentences == 4 && report.hallucinated == 2 && report.shr == 0.5)
    #expect(report.n == 2 && report.unjudged == 0)
    #expect(report.sentencesPerImage == 2)
    #expect(report.hallucinatedWordsRatio == Double(3 + 4) / Double(4 + 3 + 4 + 4))
    let json = try #require(JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any])
    for key in ["shr", "sentences", "hallucinated"] { #expect(json[key] != nil, "missing \(key)") }
    #expect(json["images"] == nil)
    #expect(report.renderTable().contains("50.0"))
    // Length beside the score: 11 + 4 whitespace words, 3 + 1 Punkt sentences over 2 responses.
    let length = try #require(json["length"] as? [String: Any])
    #expect(length["words"] as? Int == 15 && length["sentences"] as? Int == 4 && length["responses"] as? Int == 2)
    #expect(length["words_per_response"] as? Double == 7.5 && length["sentences_per_response"] as? Double == 2)
    #expect(report.renderTable().contains("words, 2.00 sentences per response"))
    #expect(throws: HalluError.self) {
        try SHREvaluator(judge: SceneGroundTruthJudge()).evaluate(images: [SHRImage(id: "3", response: "A dog.")])
    }
}

@Test func shrFilesWithSceneFacts() throws {
    let dir = TestPaths.tempDir("shr")
    let responses = dir.appendingPathComponent("responses.json")
    try AtomicFile.writeJSON(["000000000001.jpg": "A small red dog. A green cat.", "2": "A car."], to: responses)
    let facts = dir.appendingPathComponent("facts.jsonl")
    let factsRecord: (Int) -> String = { id in
        "{\"image_id\": \(id), \"objects\": [{\"category\": \"dog\", \"colour\": \"red\", \"size\": \"small\"}, "
            + "{\"category\": \"cat\", \"colour\": \"black\", \"size\": \"large\"}], "
            + "\"relations\": [{\"subject\": 0, \"relation\": \"left of\", \"object\": 1}]}"
    }
    try AtomicFile.write(factsRecord(1) + "\r\n" + factsRecord(2) + "\r\n", to: facts)
    let report = try SHREval.run(responsesPath: responses.path, sceneFactsPath: facts.path)
    #expect(report.sentences == 3 && report.hallucinated == 2)  // green cat; car absent
    let bad = dir.appendingPathComponent("bad.jsonl")
    try AtomicFile.write("{\"image_id\": 1, \"objects\": [{\"category\": \"dragon\", \"colour\": \"red\", \"size\": \"small\"}]}\n", to: bad)
    do {
        _ = try SHREval.loadSceneFacts(path: bad.path)
        Issue.record("expected an error")
    } catch let e as HalluError {
        #expect(e.message.contains("bad.jsonl:1") && e.message.contains("dragon"))
    }
    try AtomicFile.write("{\"image_id\": 1, \"objects\": [{\"category\": \"dog\", \"size\": \"small\"}]}\n", to: bad)
    do {
        _ = try SHREval.loadSceneFacts(path: bad.path)
        Issue.record("expected an error")
    } catch let e as HalluError {
        #expect(e.message.contains("colour"))
    }
    let onlyOne = dir.appendingPathComponent("one.jsonl")
    try AtomicFile.write(factsRecord(1) + "\n", to: onlyOne)
    #expect(throws: HalluError.self) { try SHREval.run(responsesPath: responses.path, sceneFactsPath: onlyOne.path) }
}

@Test func chatPromptLayoutAndReplyParsing() {
    let prompt = ChatJudgePrompt.render(regions: [SHRRegion(box: [0.1, 0.25, 0.5, 1], phrase: "a brown dog")],
                                        facts: ["A dog lies on a sofa."], sentences: ["A dog sleeps", "A cat watches"])
    #expect(prompt.contains("[0.1, 0.25, 0.5, 1.0]: a brown dog\n"))
    #expect(prompt.contains("A dog lies on a sofa.\n"))
    #expect(prompt.contains("1. A dog sleeps\n2. A cat watches\n"))
    #expect(prompt.contains("Judgement:\n1. hallucination or correct or cannot judge: <reason>"))
    let reply = "Sure.\nJudgement:\n\n1. Correct: the dog sleeps\n2. hallucination: no cat\n"
    #expect(ChatJudgePrompt.parse(reply: reply, sentenceCount: 2) == [.correct, .hallucination])
    #expect(ChatJudgePrompt.parse(reply: reply, sentenceCount: 3) == [nil, nil, nil])
    #expect(ChatJudgePrompt.parse(reply: "Judgement:\n1. cannot judge: mood\n2. maybe: unsure", sentenceCount: 2) == [.cannotJudge, nil])
    #expect(ChatJudgePrompt.parse(reply: "1. correct: x", sentenceCount: 1) == [nil])
}

@Test func chatJudgeTalksToAnOpenAICompatibleEndpoint() throws {
    let key = "sk-test-\(UInt32.random(in: 1000...9999))"
    var calls = 0
    let server = try StubHTTPServer { request in
        calls += 1
        if calls == 1 { return (500, "{\"error\": \"busy\"}") }  // first attempt fails: the judge retries
        let body = (try? JSONSerialization.jsonObject(with: request.body)) as? [String: Any]
        let content = ((body?["messages"] as? [[String: Any]])?.first?["content"] as? String) ?? ""
        let count = content.components(separatedBy: "\n").filter { $0.range(of: #"^\d+\. "#, options: .regularExpression) != nil && !$0.contains("<reason>") && !$0.hasPrefix("2. ...") }.count
        let lines = (1...max(count, 1)).map { $0 == 2 ? "\($0). hallucination: not in the image" : "\($0). correct: seen" }
        return (200, StubHTTPServer.chatReply("Judgement:\n" + lines.joined(separator: "\n")))
    }
    defer { server.stop() }
    let config = ChatJudgeConfig(url: server.url, model: "judge-model", apiKeyVariable: "HALLU_TEST_JUDGE_KEY",
                                 timeout: 10, retries: 2, backoff: 0.01)
    let judge = try ChatSentenceJudge(config: config, environment: ["HALLU_TEST_JUDGE_KEY": key])
    let image = SHRImage(id: "7", response: "A dog sleeps. A cat watches. The room is bright.",
                         regions: [SHRRegion(box: [0, 0, 0.5, 0.5], phrase: "dog")], facts: ["A dog sleeps on a bed."])
    let report = try SHREvaluator(judge: judge).evaluate(images: [image])
    #expect(report.sentences == 3 && report.hallucinated == 1)
    let requests = server.requests
    #expect(requests.count == 2)
    let last = try #require(requests.last)
    #expect(last.method == "POST" && last.path == "/v1/chat/completions")
    #expect(last.headers["authorization"] == "Bearer \(key)")
    let body = try #require(try JSONSerialization.jsonObject(with: last.body) as? [String: Any])
    #expect(body["model"] as? String == "judge-model")
    let content = try #require((body["messages"] as? [[String: Any]])?.first?["content"] as? String)
    #expect(content.contains("1. A dog sleeps\n2. A cat watches\n3. The room is bright\n"))
    #expect(content.contains("[0.0, 0.0, 0.5, 0.5]: dog"))
    #expect(!"\(judge.config)".contains(key))
}

@Test func chatJudgeCountMismatchLeavesSentencesUnjudged() throws {
    let server = try StubHTTPServer { request in
        // One verdict for the two sentences of image 1; two for image 2.
        let both = String(decoding: request.body, as: UTF8.self).contains("Three")
        return (200, StubHTTPServer.chatReply(both ? "Judgement:\n1. correct: fine\n2. hallucination: no" : "Judgement:\n1. correct: fine"))
    }
    defer { server.stop() }
    let judge = try ChatSentenceJudge(config: ChatJudgeConfig(url: server.url.appendingPathComponent("v1"), model: "m", retries: 0))
    let report = try SHREvaluator(judge: judge).evaluate(images: [SHRImage(id: "1", response: "One. Two."), SHRImage(id: "2", response: "Three. Four.")])
    #expect(report.unjudged == 2 && report.sentences == 2 && report.shr == 0.5)
    // With no sentence judged at all, SHR would read 0 (perfect): that is an error instead.
    expectCheckpointError(["judge chat:m gave no usable verdict for any of the 2 sentences"]) {
        _ = try SHREvaluator(judge: judge).evaluate(images: [SHRImage(id: "1", response: "One. Two.")])
    }
}

@Test func chatJudgeErrorsAreClearNotCrashes() throws {
    // Nothing listens on this port.
    let port = StubHTTPServer.closedPort()
    let config = ChatJudgeConfig(url: URL(string: "http://127.0.0.1:\(port)")!, model: "m", timeout: 5, retries: 1, backoff: 0.01)
    let judge = try ChatSentenceJudge(config: config)
    do {
        _ = try SHREvaluator(judge: judge).evaluate(images: [SHRImage(id: "1", response: "A dog.")])
        Issue.record("expected an error")
    } catch let e as HalluError {
        #expect(e.message.contains("127.0.0.1:\(port)/v1/chat/completions") && e.message.contains("could not reach"))
        #expect(e.message.contains("2 attempts"))
    }
    // A missing key variable is named; a rejected key is reported without its value.
    do {
        _ = try ChatSentenceJudge(config: ChatJudgeConfig(url: URL(string: "http://127.0.0.1:1")!, model: "m",
                                                          apiKeyVariable: "HALLU_NO_SUCH_VAR"), environment: [:])
        Issue.record("expected an error")
    } catch let e as HalluError {
        #expect(e.message.contains("HALLU_NO_SUCH_VAR"))
    }
    let server = try StubHTTPServer { _ in (401, "{\"error\": \"bad key\"}") }
    defer { server.stop() }
    let secret = "sk-secret-value-123"
    let rejected = try ChatSentenceJudge(config: ChatJudgeConfig(url: server.url, model: "m", apiKeyVariable: "K", retries: 3),
                                         environment: ["K": secret])
    do {
        _ = try rejected.judge(sentences: ["A dog"], image: SHRImage(id: "1", response: "A dog."))
        Issue.record("expected an error")
    } catch let e as HalluError {
        #expect(e.message.contains("HTTP 401") && !e.message.contains(secret))
    }
    #expect(server.requests.count == 1)  // 401 is not retried
}
