import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
@testable import HSADPO

@Test func severityWeightsFollowTheOptions() throws {
    var pairs = dpoPairs(3, rejectedScores: [0.25, nil, 2])
    pairs[0].chosenScore = 0.5
    let def = try SeverityWeights.weights(pairs, useChosenScore: false, useRejectedScore: true)
    #expect(def.chosen == [1, 1, 1] && def.rejected == [0.25, 1, 2])
    let both = try SeverityWeights.weights(pairs, useChosenScore: true, useRejectedScore: false)
    #expect(both.chosen == [0.5, 1, 1] && both.rejected == [1, 1, 1])
    for bad in [-0.5, Double.nan, Double.infinity] {
        let p = dpoPairs(2, rejectedScores: [0.5, bad])
        #expect(throws: HalluError.self) { try SeverityWeights.weights(p, useChosenScore: false, useRejectedScore: true) }
        do { _ = try SeverityWeights.weights(p, useChosenScore: false, useRejectedScore: true) } catch let e as HalluError {
            #expect(e.message.contains("pair p1") && e.message.contains("rejected_score"))
        }
        // An unused score is not read.
        #expect(try SeverityWeights.weights(p, useChosenScore: false, useRejectedScore: false).rejected == [1, 1])
    }
}

@Test func unitAndMissingScoresAreWeightOne() throws {
    var pairs = dpoPairs(4, rejectedScores: [1, nil, 1, nil]) + dpoPairs(1)
    pairs[0].chosenScore = 1
    let w = try SeverityWeights.weights(pairs, useChosenScore: true, useRejectedScore: true)
    #expect(w.chosen == [1, 1, 1, 1, 1] && w.rejected == [1, 1, 1, 1, 1])
}
