import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
@testable import SelectiveEOS

// Hand-built logits, V = 4, EOS = 1. Row 0 and row 2 have non-EOS targets, row 1 targets EOS,
// row 3 is unsupervised.
private let eos = 1
private let handLogits: [Float] = [
    1, 2, 0, -1,
    0.5, 1.5, -0.5, 0,
    0, 3, 1, 2.5,
    2, 2, 2, 2,
]
private let handTargets = [0, eos, 3, Tensor.ignoreIndex]

private func lse(_ xs: [Double]) -> Double { log(xs.map { exp($0) }.reduce(0, +)) }

@Test func selectiveEOSLossEqualsHandComputedValue() throws {
    let logits = try Tensor(handLogits, shape: [4, 4])
    let loss = try SelectiveEOSObjective(eosId: eos).loss(logits: logits, targets: handTargets)
    // Non-EOS rows: logsumexp without the EOS column; EOS row: the full softmax; mean over 3 rows.
    let row0 = lse([1, 0, -1]) - 1
    let row1 = lse([0.5, 1.5, -0.5, 0]) - 1.5
    let row2 = lse([0, 1, 2.5]) - 2.5
    let expected = (row0 + row1 + row2) / 3
    #expect(abs(expected - 0.40666008473069530) < 1e-12)
    #expect(abs(Double(loss.item) - expected) < 1e-6, "\(loss.item) vs \(expected)")
}

@Test func selectiveEOSGradientSparesTheEOSLogitOnlyAtNonEOSPositions() throws {
    let logits = try Tensor(handLogits, shape: [4, 4], requiresGrad: true)
    try SelectiveEOSObjective(eosId: eos).loss(logits: logits, targets: handTargets).backward()
    let g = try #require(logits.grad).values
    // Non-EOS positions: exactly zero gradient on the EOS logit.
    #expect(g[0 * 4 + eos] == 0)
    #expect(g[2 * 4 + eos] == 0)
    // EOS position: the ordinary (p - 1) / N on the EOS logit.
    let row1 = [0.5, 1.5, -0.5, 0.0]
    let pEOS = exp(row1[eos]) / row1.map { exp($0) }.reduce(0, +)
    #expect(abs(Double(g[1 * 4 + eos]) - (pEOS - 1) / 3) < 1e-6)
    // Other columns of a non-EOS row: the softmax over the columns that remain.
    let z0 = [1.0, 0, -1], denom = z0.map { exp($0) }.reduce(0, +)
    #expect(abs(Double(g[0]) - (exp(1) / denom - 1) / 3) < 1e-6)
    #expect(abs(Double(g[2]) - (exp(0) / denom) / 3) < 1e-6)
    // Each supervised row's gradient sums to zero (a softmax minus a one-hot); the ignored row has none.
    for r in 0..<3 { #expect(abs(g[(r * 4)..<(r * 4 + 4)].reduce(0, +)) < 1e-6) }
    #expect(g[12..<16].allSatisfy { $0 == 0 })
}

@Test func selectiveEOSIgnoresTheEOSLogitWhereTheTargetIsNotEOS() throws {
    var shifted = handLogits
    shifted[0 * 4 + eos] += 7      // rows 0 and 2 have non-EOS targets
    shifted[2 * 4 + eos] -= 5
    let obj = SelectiveEOSObjective(eosId: eos)
    let a = try obj.loss(logits: Tensor(handLogits, shape: [4, 4]), targets: handTargets).item
    let b = try obj.loss(logits: Tensor(shifted, shape: [4, 4]), targets: handTargets).item
    #expect(a == b)
    // The EOS row still depends on its EOS logit.
    var eosRow = handLogits
    eosRow[1 * 4 + eos] += 1
    let c = try obj.loss(logits: Tensor(eosRow, shape: [4, 4]), targets: handTargets).item
    #expect(c < a)
}

@Test func selectiveEOSDisabledIsPlainCrossEntropy() throws {
    let logits = try Tensor(handLogits, shape: [4, 4], requiresGrad: true)
    let off = SelectiveEOSObjective(eosId: eos, enabled: false)
    let loss = try off.loss(logits: logits, targets: handTargets)
    let plain = try Tensor.crossEntropy(try Tensor(handLogits, shape: [4, 4]), targets: handTargets)
    #expect(loss.item == plain.item)
    #expect(abs(Double(loss.item) - 1.023111584075963) < 1e-6)
    try loss.backward()
    let g = try #require(logits.grad).values
    #expect(g[0 * 4 + eos] > 0)      // plain CE pushes EOS down at a non-EOS position
    #expect(off.name.contains("disabled"))
}

@Test func selectiveEOSPassesFiniteDifferenceCheck() throws {
    var rng = SeededRNG(seed: 41)
    let logits = Tensor.uniform([6, 5], low: -2, high: 2, rng: &rng, requiresGrad: true)
    let targets = [0, 2, 4, Tensor.ignoreIndex, 2, 3]
    let obj = SelectiveEOSObjective(eosId: 2)
    let r = try GradCheck.check([logits], eps: 1e-2) { x in try obj.loss(logits: x[0], targets: targets) }
    #expect(r.passes(), "\(r)")
    let perRow = try GradCheck.check([logits], eps: 1e-2) { x in
        try Tensor.crossEntropyRows(x[0], targets: targets, excluded: obj.excludedColumns(targets: targets))
    }
    #expect(perRow.passes(), "\(perRow)")
}

@Test func selectiveEOSExcludedColumnsAndBadInput() throws {
    let obj = SelectiveEOSObjective(eosId: 2)
    #expect(obj.excludedColumns(targets: [0, 2, Tensor.ignoreIndex, 7]) == [2, -1, -1, 2])
    let logits = try Tensor(handLogits, shape: [4, 4])
    #expect(throws: HalluError.self) { try SelectiveEOSObjective().loss(logits: logits, targets: handTargets) }
    #expect(throws: HalluError.self) { try SelectiveEOSObjective(eosId: 4).loss(logits: logits, targets: handTargets) }
    #expect(throws: HalluError.self) { try SelectiveEOSObjective(eosId: 1).loss(logits: logits, targets: [0, 1]) }
    #expect(throws: HalluError.self) { try SelectiveEOSObjective(eosId: 1).loss(logits: logits, targets: [0, 1, 9, 0]) }
}
