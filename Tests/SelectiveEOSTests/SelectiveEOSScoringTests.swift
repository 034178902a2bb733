import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
@testable import SelectiveEOS

// V = 3, EOS = 1. Rows are interleaved across samples on purpose.
//   row 0 (sample 1): [0, 30, 0]      target 0   P[EOS] ~ 1 - 2e-13 -> floored: -log(1e-5)
//   row 1 (sample 0): [0, 0, 0]       target 2   P[EOS] = 1/3      -> -log(2/3)
//   row 2 (sample 0): [0, ln 4, 0]    target EOS P[EOS] = 2/3      -> S_pos += -log(2/3)
//   row 3 (sample 1): [1, 0, 2]       ignored
//   row 4 (sample 1): [ln 2, 0, 0]    target EOS P[EOS] = 1/4      -> S_pos += log 4
//   row 5 (sample 1): [0, 0, 0]       target 0   P[EOS] = 1/3      -> -log(2/3)
// Sample 2 has no rows.
@Test func eosScoresEqualHandComputedValues() throws {
    let ln4 = Float(log(4.0)), ln2 = Float(log(2.0))
    let logits = try Tensor([0, 30, 0, 0, 0, 0, 0, ln4, 0, 1, 0, 2, ln2, 0, 0, 0, 0, 0], shape: [6, 3])
    let targets = [0, 2, 1, Tensor.ignoreIndex, 1, 0]
    let s = try EOSScoring.scores(logits: logits, targets: targets, samples: [1, 0, 0, 1, 1, 1], sampleCount: 3, eosId: 1)
    #expect(s.count == 3)
    let tol = 1e-6
    #expect(abs(s[0].sPos - log(1.5)) < tol)
    #expect(abs(s[0].sNeg - log(1.5)) < tol)
    #expect(s[0].eosPositions == 1 && s[0].otherPositions == 1)
    #expect(abs(s[1].sPos - log(4)) < tol)
    #expect(abs(s[1].sNeg - (log(1e5) + log(1.5))) < tol)            // the floor caps the near-certain stop
    #expect(abs(s[1].sNeg - 11.9183906) < 1e-6)
    #expect(s[1].eosPositions == 1 && s[1].otherPositions == 2)
    #expect(abs(s[1].sNegMean - s[1].sNeg / 2) < tol)
    #expect(abs(s[1].sPosMean - log(4)) < tol)
    #expect(s[2] == EOSScore(sPos: 0, sNeg: 0, eosPositions: 0, otherPositions: 0))
    #expect(s[2].sPosMean == 0 && s[2].sNegMean == 0)
}

@Test func eosScoringRejectsBadInput() throws {
    let logits = try Tensor([0, 0, 0, 0, 0, 0], shape: [2, 3])
    #expect(throws: HalluError.self) { try EOSScoring.scores(logits: logits, targets: [0], samples: [0], sampleCount: 1, eosId: 1) }
    #expect(throws: HalluError.self) { try EOSScoring.scores(logits: logits, targets: [0, 1], samples: [0, 1], sampleCount: 1, eosId: 1) }
    #expect(throws: HalluError.self) { try EOSScoring.scores(logits: logits, targets: [0, 1], samples: [0, 0], sampleCount: 1, eosId: 3) }
    let nan = try Tensor([0, .nan, 0, 0, 0, 0], shape: [2, 3])
    let s = try EOSScoring.scores(logits: nan, targets: [0, 1], samples: [0, 0], sampleCount: 1, eosId: 1)
    #expect(s[0].sNeg.isNaN)
}

@Test func eosScoreKindsRankByTheDocumentedNumbers() throws {
    let s = EOSScore(sPos: 1, sNeg: 6, eosPositions: 2, otherPositions: 3)
    #expect(EOSScoreKind.sNeg.value(s) == 6)
    #expect(EOSScoreKind.sNegMean.value(s) == 2)
    #expect(EOSScoreKind.sNegMinusSPos.value(s) == 5)
    #expect(EOSScoreKind.sNegMeanMinusSPosMean.value(s) == 1.5)
    #expect(try EOSScoreKind.parse("s_neg_mean") == .sNegMean)
    #expect(throws: HalluError.self) { try EOSScoreKind.parse("s_negg") }
}

@Test func eosFilterRulesSelectTheRightSamples() throws {
    let values = [0.1, 5, 3, 5, 0.2]
    #expect(try EOSFilterRule.dropTopFraction(0.4).keep(values) == [true, false, true, false, true])
    // Ties: the earlier of two equal scores goes first.
    #expect(try EOSFilterRule.dropTopFraction(0.2).keep(values) == [true, false, true, true, true])
    #expect(try EOSFilterRule.dropTopFraction(0.6).keep(values) == [true, false, false, false, true])
    #expect(try EOSFilterRule.dropTopFraction(0).keep(values) == [true, true, true, true, true])
    #expect(try EOSFilterRule.dropTopFraction(1).keep(values) == [false, false, false, false, false])
    #expect(try EOSFilterRule.threshold(3).keep(values) == [true, false, true, false, true])
    #expect(try EOSFilterRule.threshold(0.15).keep(values) == [true, false, false, false, false])
    #expect(throws: HalluError.self) { try EOSFilterRule.dropTopFraction(1.5).keep(values) }
    #expect(throws: HalluError.self) { try EOSFilterRule.threshold(1).keep([0, .nan]) }
    // End to end on hand scores: the sample that talks past the image (high S_neg, low S_pos) goes.
    let scores = [EOSScore(sPos: 0.1, sNeg: 0.3, eosPositions: 1, otherPositions: 30),    // faithful
                  EOSScore(sPos: 0.05, sNeg: 2.4, eosPositions: 1, otherPositions: 45),   // goes on past a likely stop
                  EOSScore(sPos: 1.6, sNeg: 0.2, eosPositions: 1, otherPositions: 12)]    // stops early
    let keep = try EOSFilterRule.dropTopFraction(1.0 / 3).keep(scores.map(EOSScoreKind.sNegMinusSPos.value))
    #expect(keep == [true, false, true])
}

@Test func eosScoreCSVAndLLaVAJSON() throws {
    let scores = [EOSScore(sPos: 0.5, sNeg: 1.25, eosPositions: 1, otherPositions: 5),
                  EOSScore(sPos: 0, sNeg: 3, eosPositions: 0, otherPositions: 2)]
    let text = try EOSScoreFiles.csv(ids: ["a", "b,\"c\""], scores: scores, kept: [true, false])
    #expect(text == "id,S_pos,S_neg,S_pos_mean,S_neg_mean,kept\na,0.5,1.25,0.5,0.25,1\n\"b,\"\"c\"\"\",0.0,3.0,0.0,1.5,0\n")
    #expect(throws: HalluError.self) { try EOSScoreFiles.csv(ids: ["a"], scores: scores, kept: [true, false]) }

    let convs = [Conversation(id: "k", image: "x.jpg", turns: [ConversationTurn(from: "human", value: "<image>\nQ"), ConversationTurn(from: "gpt", value: "A")]),
                 Conversation(id: "d", image: nil, turns: [ConversationTurn(from: "human", value: "Q2"), ConversationTurn(from: "gpt", value: "B")])]
    let dir = TestPaths.tempDir("seos-files")
    let urls = try EOSScoreFiles.write(to: dir, conversations: convs, scores: scores, kept: [true, false])
    let records = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: urls.filtered)) as? [[String: Any]])
    #expect(records.count == 1)
    #expect(records[0]["id"] as? String == "k")
    #expect(records[0]["image"] as? String == "x.jpg")
    let turns = try #require(records[0]["conversations"] as? [[String: String]])
    #expect(turns == [["from": "human", "value": "<image>\nQ"], ["from": "gpt", "value": "A"]])
    #expect(try String(contentsOf: urls.scores, encoding: .utf8).hasPrefix(EOSScoreFiles.header + "\nk,0.5,1.25,"))
    // Nothing but the two files is left behind (the atomic writes clean up their temporary files).
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["filtered.json", "scores.csv"])
}

@Test func eosScoringWithAModelIsIndependentOfBatching() throws {
    let ctx = selectiveEOSContext()
    let convs = selectiveEOSConversations()
    ctx.model.train(true)
    let one = try EOSScoring.score(convs, context: ctx, eosId: 2, batchSize: 1)
    let three = try EOSScoring.score(convs, context: ctx, eosId: 2, batchSize: 3)
    let all = try EOSScoring.score(convs, context: ctx, eosId: 2, batchSize: 64)
    #expect(ctx.model.training)                  // scoring switches dropout off and back
    #expect(one.count == convs.count)
    for i in convs.indices {
        for other in [three[i], all[i]] {
            #expect(abs(one[i].sPos - other.sPos) < 1e-4 && abs(one[i].sNeg - other.sNeg) < 1e-4, "\(convs[i].id)")
            #expect(one[i].eosPositions == other.eosPositions && one[i].otherPositions == other.otherPositions)
        }
    }
    // One EOS label per assistant turn; every other answer token is a non-EOS position.
    #expect(one.last?.eosPositions == 2)
    let supervised = try ctx.codec.encode(convs[0].turns).labels.filter { $0 != Tensor.ignoreIndex }.count
    #expect(one[0].eosPositions == 1 && one[0].otherPositions == supervised - 1)
    #expect(one.allSatisfy { $0.sPos > 0 && $0.sNeg > 0 })
    // The same numbers as the hand formulas applied to this model's own logits for sample 0.
    let (logits, targets, _) = try withNoGrad { try ctx.model.supervisedLogits(ctx.sftInputs([convs[0]])) }
    let v = logits.shape[1]
    var sPos = 0.0, sNeg = 0.0
    for r in targets.indices {
        let row = (0..<v).map { Double(logits.data[r * v + $0]) }
        let p = exp(row[2]) / row.map { exp($0) }.reduce(0, +)
        if targets[r] == 2 { sPos -= log(p) } else { sNeg -= log(max(1 - p, 1e-5)) }
    }
    #expect(abs(one[0].sPos - sPos) < 1e-5 && abs(one[0].sNeg - sNeg) < 1e-5)
    #expect(throws: HalluError.self) { try EOSScoring.score(convs, context: ctx, eosId: 2, batchSize: 0) }
}
