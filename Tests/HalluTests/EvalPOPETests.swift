import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

private func popeFile(_ split: String) -> String { TestPaths.sharedData("POPE/output/coco/coco_pope_\(split).json") }

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
              "I see no.\nNo", "No"]
    let yes = ["Yes.", "Yes, there is a dog.", "NO", "Not sure", "", "Nope", "No\nthere", "There is a dog. No.",
               "No,there"]
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
