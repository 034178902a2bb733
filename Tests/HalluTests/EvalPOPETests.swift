import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

private func popeFile(_ split: String) -> String { TestPaths.data("POPE/output/coco/coco_pope_\(split).json") }

/// Writes an answers file for `questionsPath` giving the requested confusion counts, in the free-form
/// styles models produce. Returns the path.
private func writeAnswers(for questionsPath: String, tp: Int, fn: Int, fp: Int, withIds: Bool,
                          shuffled: Bool = false, name: String) throws -> String {
    let questions = try EvalRecords.read(questionsPath).map(\.record)
    var yesSeen = 0, noSeen = 0
    var rows: [[String: Any]] = []
    for q in questions {
        let label = q["label"] as! String
        let sayYes: Bool
        if label == "yes" { sayYes = yesSeen < tp; yesSeen += 1 } else { sayYes = noSeen < fp; noSeen += 1 }
        let object = (q["text"] as! String).replacingOccurrences(of: "Is there a ", with: "")
        let answer = sayYes ? (rows.count % 2 == 0 ? "Yes." : "Yes, there is \(object)") :
                              (rows.count % 2 == 0 ? "No, there is not." : "There is no \(object)")
        var row: [String: Any] = ["question": q["text"]!, "answer": answer]
        if withIds { row["question_id"] = q["question_id"]! }
        rows.append(row)
    }
    #expect(yesSeen == tp + fn)
    if shuffled { rows.reverse() }
    let url = TestPaths.tempDir("pope").appendingPathComponent(name)
    try AtomicFile.write(rows.map { String(data: try JSONSerialization.data(withJSONObject: $0), encoding: .utf8)! }
        .joined(separator: "\n") + "\n", to: url)
    return url.path
}

@Test func popeRandomSplitGivesPublishedLLaVACounts() throws {
    let answers = try writeAnswers(for: popeFile("random"), tp: 1360, fn: 140, fp: 172, withIds: false, name: "a.jsonl")
    let m = try POPEEval.run(questionsPath: popeFile("random"), answersPath: answers)
    #expect(m.n == 3000)
    #expect(m.truePositives == 1360 && m.falsePositives == 172 && m.trueNegatives == 1328 && m.falseNegatives == 140)
    #expect(m.accuracy == 0.896)
    #expect(m.precision == 1360.0 / 1532.0)
    #expect(m.recall == 1360.0 / 1500.0)
    let p = 1360.0 / 1532.0, r = 1360.0 / 1500.0
    #expect(m.f1 == 2 * p * r / (p + r))
    #expect(m.yesRatio == 1532.0 / 3000.0)
    #expect(m.renderTable().contains("89.60"))
}

@Test func popeMatchesByQuestionIdWhenBothFilesHaveIt() throws {
    let ordered = try writeAnswers(for: popeFile("popular"), tp: 1000, fn: 500, fp: 300, withIds: true, name: "o.jsonl")
    let reversed = try writeAnswers(for: popeFile("popular"), tp: 1000, fn: 500, fp: 300, withIds: true, shuffled: true, name: "r.jsonl")
    let a = try POPEEval.run(questionsPath: popeFile("popular"), answersPath: ordered)
    let b = try POPEEval.run(questionsPath: popeFile("popular"), answersPath: reversed)
    #expect(a == b)
    #expect(a.truePositives == 1000 && a.falsePositives == 300)
}

@Test func popeReadsFreeFormAnswersWithTheOriginalRule() {
    let no = ["No, there is not.", "There is no dog", "No.", "no", "It is not there", "Yes, but no.",
              "I see no.\nNo", "No", "no \u{301}"]
    // Code points, as Python sees them: a combining mark after "." or " " does not hide it.
    let yes = ["Yes.", "Yes, there is a dog.", "NO", "Not sure", "", "Nope", "No\nthere", "There is a dog. No.",
               "No,there", "Yes.\u{301} no", "no\u{301}"]
    for a in no { #expect(POPEScorer.isNo(a), "\(a.debugDescription) should read as no") }
    for a in yes { #expect(!POPEScorer.isNo(a), "\(a.debugDescription) should read as yes") }
}

@Test func popeAveragesSplitsAndEncodesContract() throws {
    var splits: [(name: String, questionsPath: String, answersPath: String)] = []
    for (i, split) in ["random", "popular", "adversarial"].enumerated() {
        let answers = try writeAnswers(for: popeFile(split), tp: 1500 - 100 * i, fn: 100 * i, fp: 50 * (i + 1),
                                       withIds: true, name: "\(split).jsonl")
        splits.append((split, popeFile(split), answers))
    }
    let report = try POPEEval.run(splits: splits)
    #expect(report.splitNames == ["random", "popular", "adversarial"])
    let accs = report.splitNames.map { report.splits[$0]!.accuracy }
    #expect(abs(report.average.accuracy - accs.reduce(0, +) / 3) < 1e-15)
    #expect(report.average.n == 9000)
    let json = try #require(JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: [String: Any]])
    #expect(Set(json.keys) == ["random", "popular", "adversarial", "average"])
    for key in ["accuracy", "precision", "recall", "f1", "yes_ratio", "n"] { #expect(json["random"]?[key] != nil) }
    let decoded = try JSONDecoder().decode(POPEReport.self, from: JSONEncoder().encode(report))
    #expect(decoded.splits == report.splits && decoded.average == report.average)
}

@Test func popeEdgeCasesNeverDivideByZero() {
    let m = POPEScorer.metrics(labels: [false, false], predictions: [false, false])
    #expect(m.accuracy == 1 && m.precision == 0 && m.recall == 0 && m.f1 == 0 && m.yesRatio == 0)
}

@Test func popeBadInputIsAClearError() throws {
    let dir = TestPaths.tempDir("pope-bad")
    let short = dir.appendingPathComponent("short.jsonl")
    try AtomicFile.write("{\"answer\": \"Yes\"}\n{\"answer\": \"No\"}\n", to: short)
    do {
        _ = try POPEEval.run(questionsPath: popeFile("random"), answersPath: short.path)
        Issue.record("expected an error")
    } catch let e as HalluError {
        #expect(e.message.contains("2 answers for 3000 questions"))
    }
    let missing = dir.appendingPathComponent("ids.jsonl")
    try AtomicFile.write("{\"question_id\": 1, \"answer\": \"Yes\"}\n", to: missing)
    do {
        _ = try POPEEval.run(questionsPath: popeFile("random"), answersPath: missing.path)
        Issue.record("expected an error")
    } catch let e as HalluError {
        #expect(e.message.contains("no answer for question_id 2"))
    }
    let noText = dir.appendingPathComponent("notext.jsonl")
    try AtomicFile.write("{\"answer\": \"Yes\"}\n{\"reply\": \"No\"}\n", to: noText)
    do {
        _ = try POPEEval.loadAnswers(path: noText.path)
        Issue.record("expected an error")
    } catch let e as HalluError {
        #expect(e.message.contains("notext.jsonl:2"))
    }
    let badLabel = dir.appendingPathComponent("q.jsonl")
    try AtomicFile.write("{\"question_id\": 1, \"text\": \"Is there a dog?\", \"label\": \"maybe\"}\n", to: badLabel)
    do {
        _ = try POPEEval.loadQuestions(path: badLabel.path)
        Issue.record("expected an error")
    } catch let e as HalluError {
        #expect(e.message.contains("q.jsonl:1") && e.message.contains("label"))
    }
}

// MARK: - answer-file layouts against POPE's evaluate.py (golden from scripts/eval_pope_goldens.py)

private struct POPEGolden {
    let answers: [String: [String]]
    let expected: [String: [String: Any]]
    let mean: [String: Double]

    static func load() throws -> POPEGolden {
        let json = try #require(try ExactJSON.read(TestPaths.fixtures.appendingPathComponent("eval/pope_answers.json.gz").path)
                                as? [String: Any])
        return POPEGolden(answers: try #require(json["answers"] as? [String: [String]]),
                          expected: try #require(json["expected"] as? [String: [String: Any]]),
                          mean: try #require(json["mean"] as? [String: Double]))
    }

    /// hallu's metrics equal evaluate.py's, bit for bit.
    func check(_ m: POPEMetrics, _ split: String, _ layout: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let e = expected[split]!
        #expect(m.truePositives == e["tp"] as? Int && m.falsePositives == e["fp"] as? Int
                && m.trueNegatives == e["tn"] as? Int && m.falseNegatives == e["fn"] as? Int, "\(layout) \(split)", sourceLocation: sourceLocation)
        #expect(m.accuracy == e["accuracy"] as? Double && m.precision == e["precision"] as? Double
                && m.recall == e["recall"] as? Double && m.f1 == e["f1"] as? Double && m.yesRatio == e["yes_ratio"] as? Double,
                "\(layout) \(split)", sourceLocation: sourceLocation)
    }

    func checkMean(_ r: POPEReport, _ layout: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.splitNames == ["random", "popular", "adversarial"], "\(layout)", sourceLocation: sourceLocation)
        for s in r.splitNames { check(r.splits[s]!, s, layout, sourceLocation: sourceLocation) }
        #expect(r.average.accuracy == mean["accuracy"] && r.average.f1 == mean["f1"] && r.average.yesRatio == mean["yes_ratio"],
                "\(layout) mean", sourceLocation: sourceLocation)
    }
}

private func jsonLines(_ rows: [[String: Any]]) throws -> String {
    try rows.map { String(data: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), encoding: .utf8)! }
        .joined(separator: "\n") + "\n"
}

@Test func popeScoresEveryAnswerLayoutAsEvaluatePy() throws {
    let golden = try POPEGolden.load()
    let dir = TestPaths.tempDir("pope-layouts")
    let splits = ["random", "popular", "adversarial"]
    var questions: [String: [[String: Any]]] = [:]
    for s in splits { questions[s] = try EvalRecords.read(popeFile(s)).map(\.record) }
    func write(_ name: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try AtomicFile.write(text, to: url)
        return url.path
    }
    for s in splits {
        let qs = questions[s]!, answers = golden.answers[s]!
        #expect(qs.count == 3000 && answers.count == 3000)
        // POPE's own layout: {"question", "answer"}, paired by line.
        let pope = try write("pope-\(s).jsonl", try jsonLines(zip(qs, answers).map { ["question": $0["text"]!, "answer": $1] }))
        golden.check(try POPEEval.run(questionsPath: popeFile(s), answersPath: pope), s, "POPE")
        // HA-DPO: with question_id (paired by id, so the order may differ).
        let hadpo = try write("hadpo-\(s).jsonl", try jsonLines(zip(qs, answers).reversed().map {
            ["question": $0["text"]!, "answer": $1, "question_id": $0["question_id"]!]
        }))
        golden.check(try POPEEval.run(questionsPath: popeFile(s), answersPath: hadpo), s, "HA-DPO")
        // LLaVA model_vqa_loader run on a POPE question file.
        let llava = try write("llava-\(s).jsonl", try jsonLines(zip(qs, answers).map {
            ["question_id": $0["question_id"]!, "prompt": $0["text"]!, "text": $1, "answer_id": "Ab3", "model_id": "llava-v1.5-7b",
             "metadata": [String: Any]()]
        }))
        golden.check(try POPEEval.run(questionsPath: popeFile(s), answersPath: llava), s, "LLaVA")
        // VCD's object_hallucination_vqa_llava.py.
        let vcd = try write("vcd-\(s).jsonl", try jsonLines(zip(qs, answers).map {
            ["question_id": $0["question_id"]!, "prompt": $0["text"]!, "text": $1, "model_id": "llava-v1.5-7b",
             "image": $0["image"]!, "metadata": [String: Any]()]
        }))
        golden.check(try POPEEval.run(questionsPath: popeFile(s), answersPath: vcd), s, "VCD")
    }
    // LLaVA on llava_pope_test.jsonl: one answers file for all splits; the question file names each
    // question_id's category (ids run on across splits).
    var categories: [[String: Any]] = [], combined: [[String: Any]] = []
    var lmms: [[String: Any]] = []
    for s in splits {
        for (q, a) in zip(questions[s]!, golden.answers[s]!) {
            let id = categories.count + 1
            categories.append(["question_id": id, "image": q["image"]!, "text": q["text"]!, "category": s])
            combined.append(["question_id": id, "prompt": q["text"]!, "text": a, "answer_id": "x", "model_id": "m", "metadata": [String: Any]()])
            lmms.append(["doc_id": lmms.count, "doc": ["id": "\(lmms.count)", "question_id": "\(q["question_id"]!)", "question": q["text"]!,
                                                       "answer": q["label"]!, "category": s],
                         "target": q["label"]!, "arguments": [q["text"]!, ["max_new_tokens": 128]], "resps": [[a]], "filtered_resps": [a],
                         "doc_hash": "0", "pope_accuracy": ["question_id": "\(q["question_id"]!)", "score": 0, "prediction": a.lowercased(),
                                                            "ground_truth": q["label"]!]])
        }
    }
    let categoryFile = try write("llava_pope_test.jsonl", try jsonLines(categories))
    let combinedFile = try write("llava-all.jsonl", try jsonLines(combined))
    golden.checkMean(try POPEEval.run(answersPath: combinedFile, splits: splits.map { ($0, popeFile($0)) }, categoriesPath: categoryFile),
                     "LLaVA combined")
    // lmms-eval: samples JSONL (labels and splits inside), and the older {"logs": [...]} file.
    let lmmsFile = try write("samples_pope.jsonl", try jsonLines(lmms.reversed()))
    golden.checkMean(try POPEEval.run(answersPath: lmmsFile), "lmms-eval samples")
    let oldLmms = dir.appendingPathComponent("pope.json")
    try AtomicFile.writeJSON(["args": ["model": "llava"], "logs": lmms], to: oldLmms)
    golden.checkMean(try POPEEval.run(answersPath: oldLmms.path), "lmms-eval logs")
    // Separate files per split.
    let report = try POPEEval.run(splits: splits.map { ($0, popeFile($0), dir.appendingPathComponent("llava-\($0).jsonl").path) })
    golden.checkMean(report, "--split")
    #expect(report.renderTable().contains(String(format: "F1 %.2f", golden.mean["f1"]! * 100)))

    // The command line takes each layout as it is.
    let cli = try HalluCLI.run(["eval", "pope", "--answers", combinedFile, "--categories", categoryFile, "--json"]
                               + splits.flatMap { ["--split", "\($0)=\(popeFile($0))"] })
    #expect(cli.status == 0, "\(cli.stderr)")
    let cliJSON = ExactJSON.value(try OrderedJSON.parse(Data(cli.stdout.utf8))) as? [String: Any]
    #expect((cliJSON?["average"] as? [String: Any])?["f1"] as? Double == golden.mean["f1"])
    let cliLmms = try HalluCLI.run(["eval", "pope", "--answers", lmmsFile, "--json"])
    #expect(cliLmms.status == 0, "\(cliLmms.stderr)")
    #expect(Set(try cliLmms.object().keys) == ["random", "popular", "adversarial", "average"])
}

@Test func popeCombinedAnswerFilesExplainWhatIsMissing() throws {
    let dir = TestPaths.tempDir("pope-combined-bad")
    let noCategory = dir.appendingPathComponent("a.jsonl")
    try AtomicFile.write("{\"question_id\": 1, \"text\": \"Yes\"}\n", to: noCategory)
    do {
        _ = try POPEEval.run(answersPath: noCategory.path, splits: [("random", popeFile("random"))])
        Issue.record("expected an error")
    } catch let e as HalluError {
        #expect(e.message.contains("a.jsonl") && e.message.contains("--categories"))
    }
    let categories = dir.appendingPathComponent("cats.jsonl")
    try AtomicFile.write("{\"question_id\": 1, \"category\": \"random\"}\n", to: categories)
    do {
        _ = try POPEEval.run(answersPath: noCategory.path, splits: [("random", popeFile("random"))], categoriesPath: categories.path)
        Issue.record("expected an error")
    } catch let e as HalluError {
        #expect(e.message.contains("1 answers of split \"random\" for 3000 questions"))
    }
    do {
        _ = try POPEEval.run(answersPath: noCategory.path)
        Issue.record("expected an error")
    } catch let e as HalluError {
        #expect(e.message.contains("names no split"))
    }
    // An lmms-eval sample whose label contradicts the question file is caught.
    let wrong = dir.appendingPathComponent("lmms.jsonl")
    let q = try EvalRecords.read(popeFile("random")).map(\.record)
    let rows = q.map { r -> [String: Any] in
        ["doc": ["question_id": r["question_id"]!, "answer": r["label"]! as! String == "yes" ? "no" : "yes", "category": "random"],
         "resps": [["Yes"]], "filtered_resps": ["Yes"]]
    }
    try AtomicFile.write(try jsonLines(rows), to: wrong)
    #expect(throws: HalluError.self) { try POPEEval.run(questionsPath: popeFile("random"), answersPath: wrong.path) }
}
