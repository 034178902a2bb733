import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

@Test func scheduleShapesByHand() {
    // 10 warmup steps of 110.
    for s in [LRSchedule.constant, .linear, .cosine, .cosine(minRatio: 0.2)] {
        #expect(s.factor(step: 0, totalSteps: 110, warmupSteps: 10) == 0)
        #expect(s.factor(step: 5, totalSteps: 110, warmupSteps: 10) == 0.5)
        #expect(s.factor(step: 10, totalSteps: 110, warmupSteps: 10) == 1)
    }
    #expect(LRSchedule.constant.factor(step: 500, totalSteps: 110, warmupSteps: 10) == 1)
    #expect(LRSchedule.linear.factor(step: 60, totalSteps: 110, warmupSteps: 10) == 0.5)
    #expect(LRSchedule.linear.factor(step: 110, totalSteps: 110, warmupSteps: 10) == 0)
    #expect(LRSchedule.linear.factor(step: 200, totalSteps: 110, warmupSteps: 10) == 0)
    #expect(abs(LRSchedule.cosine.factor(step: 60, totalSteps: 110, warmupSteps: 10) - 0.5) < 1e-7)
    #expect(LRSchedule.cosine.factor(step: 110, totalSteps: 110, warmupSteps: 10) == 0)
    #expect(abs(LRSchedule.cosine(minRatio: 0.2).factor(step: 60, totalSteps: 110, warmupSteps: 10) - 0.6) < 1e-7)
    #expect(abs(LRSchedule.cosine(minRatio: 0.2).factor(step: 110, totalSteps: 110, warmupSteps: 10) - 0.2) < 1e-7)
    // No warmup: the very first update runs at the full rate.
    #expect(LRSchedule.cosine.factor(step: 0, totalSteps: 10, warmupSteps: 0) == 1)
}

@Test func warmupRatioAndSteps() {
    #expect(Warmup.ratio(0.03).steps(totalSteps: 3696) == 111)
    #expect(Warmup.steps(20).steps(totalSteps: 5) == 20)
    #expect(Warmup.none.steps(totalSteps: 100) == 0)
    #expect(LRSchedule.linear.factor(step: 1, totalSteps: 100, warmup: .ratio(0.03)) == Float(1.0 / 3.0))
}

@Test func scheduleJSONRoundTrip() throws {
    let enc = JSONEncoder()
    enc.outputFormatting = .sortedKeys
    for s in [LRSchedule.constant, .linear, .cosine, .cosine(minRatio: 0.1)] {
        let data = try enc.encode(s)
        #expect(try JSONDecoder().decode(LRSchedule.self, from: data) == s)
    }
    #expect(String(data: try enc.encode([LRSchedule.cosine]), encoding: .utf8) == "[\"cosine\"]")
    #expect(String(data: try enc.encode([LRSchedule.cosine(minRatio: 0.5)]), encoding: .utf8) == "[{\"cosine\":{\"minRatio\":0.5}}]")
    let decoded = try JSONDecoder().decode([LRSchedule].self, from: Data("[\"linear\", {\"cosine\": {}}, {\"constant\": {}}]".utf8))
    #expect(decoded == [.linear, .cosine, .constant])
    for bad in ["[\"step\"]", "[{\"cosine\": {\"minRatio\": 2}}]", "[{\"cosine\": {}, \"linear\": {}}]", "[3]"] {
        #expect(throws: DecodingError.self, "\(bad)") { try JSONDecoder().decode([LRSchedule].self, from: Data(bad.utf8)) }
    }
    for w in [Warmup.steps(30), .ratio(0.03)] {
        #expect(try JSONDecoder().decode(Warmup.self, from: try enc.encode(w)) == w)
    }
    let bare = try JSONDecoder().decode([Warmup].self, from: Data("[0.03, 50, 0, {\"ratio\": 0.1}]".utf8))
    #expect(bare == [.ratio(0.03), .steps(50), .ratio(0), .ratio(0.1)])
    for bad in ["[-1]", "[2.5]", "[{\"ratio\": 1.5}]", "[{\"steps\": -3}]", "[{\"steps\": 1, \"ratio\": 0.1}]"] {
        #expect(throws: DecodingError.self, "\(bad)") { try JSONDecoder().decode([Warmup].self, from: Data(bad.utf8)) }
    }
}

@Test func scheduleParsing() throws {
    #expect(try LRSchedule(parsing: "cosine") == .cosine)
    #expect(try LRSchedule(parsing: "Linear") == .linear)
    #expect(try LRSchedule(parsing: "cosine:0.1") == .cosine(minRatio: 0.1))
    for bad in ["", "cosine:x", "cosine:1.5", "linear:0.1", "exp"] {
        #expect(throws: HalluError.self, "\(bad)") { try LRSchedule(parsing: bad) }
    }
}
