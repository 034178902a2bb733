import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// Chosen and rejected must see the same prompt tokens at the same positions and the same image
/// features, even when their answers differ in length (a left-padding or collation mix-up shows here).
@Test func chosenAndRejectedSharePromptAndImageFeatures() throws {
    let ctx = dpoContext(lora: true)
    let pairs = dpoPairs(3)
    let b = pairs.count
    let (inputs, feats) = try ctx.preferenceInputs(pairs)
    let labels = inputs.labels!
    let (x, layout) = try withNoGrad { try ctx.model.embed(inputs, imageFeatures: feats) }
    let d = ctx.model.config.text.hiddenSize, p = ctx.model.imageTokens, t = layout.length
    for i in 0..<b {
        let (c, r) = (i, b + i)
        #expect(inputs.ids[c].count != inputs.ids[r].count, "pair \(i): answers should differ in length for this test")
        let promptLength = labels[c].firstIndex { $0 != Tensor.ignoreIndex }!
        #expect(labels[r].firstIndex { $0 != Tensor.ignoreIndex } == promptLength)
        #expect(Array(inputs.ids[c][0..<promptLength]) == Array(inputs.ids[r][0..<promptLength]), "pair \(i): prompt ids differ")
        // Same image start, and every embedded position before the answer is bitwise identical:
        // the image-feature rows and the prompt tokens.
        let start = try #require(layout.imageStart[c])
        #expect(layout.imageStart[r] == start)
        let promptRows = promptLength - 1 + p   // the placeholder became p feature rows
        let xc = Array(UnsafeBufferPointer(start: x.data + c * t * d, count: promptRows * d))
        let xr = Array(UnsafeBufferPointer(start: x.data + r * t * d, count: promptRows * d))
        let differing = zip(xc, xr).filter { $0.bitPattern != $1.bitPattern }.count
        #expect(differing == 0, "pair \(i): \(differing) embedded prompt values differ between chosen and rejected")
        // The feature rows are this pair's image (not a neighbour's).
        let own = try withNoGrad { try ctx.model.imageFeatures(ctx.images.batch([pairs[i].image!])!) }.values
        let rows = Array(xc[(start * d)..<((start + p) * d)])
        #expect(zip(rows, own).allSatisfy { abs($0 - $1) < 1e-5 }, "pair \(i): image rows are not its image's features")
    }
    // Right padding: positions count from 0 in every sequence, so each sequence's log-prob does not
    // depend on the others in the batch.
    let together = try withNoGrad { try DPO.sequenceForward(ctx.model, inputs, features: feats).logps.values }
    for s in 0..<(2 * b) {
        let alone = LlavaInputs(ids: [inputs.ids[s]], pixels: try ctx.images.batch([pairs[s % b].image!]), labels: [labels[s]])
        let v = try withNoGrad { try DPO.sequenceForward(ctx.model, alone, features: nil).logps.item }
        #expect(abs(v - together[s]) < 1e-4, "sequence \(s): \(v) alone vs \(together[s]) in the batch")
    }
}

@Test func preferenceForwardEncodesEachImageOnce() throws {
    // The reference encodes the repeated pixels once and duplicates the features; the result must
    // equal encoding both copies.
    let ctx = dpoContext(lora: false)
    let pairs = dpoPairs(2)
    let (inputs, _) = try ctx.preferenceInputs(pairs)
    #expect(inputs.pixels!.shape[0] == 4)
    let shared = try ctx.reference.logProbs(inputs, context: ctx)
    let full = try withNoGrad { try DPO.sequenceForward(ctx.reference.model, inputs, features: nil).logps.values }
    for (a, b) in zip(shared, full) { #expect(abs(a - b) <= 1e-6 * max(1, abs(b)), "\(a) vs \(b)") }
}

@Test func answersWithoutSupervisedTokensAreRejected() throws {
    let ctx = dpoContext(lora: true)
    let pairs = dpoPairs(1)
    let (inputs, feats) = try ctx.preferenceInputs(pairs)
    var bad = inputs
    bad.labels = bad.labels!.map { $0.map { _ in Tensor.ignoreIndex } }
    let seqOfRow = try withNoGrad { try DPO.sequenceForward(ctx.model, bad, features: feats).sequenceOfRow }
    #expect(seqOfRow.isEmpty)
    #expect(throws: HalluError.self) {
        try DPO.chosenSFT(logits: Tensor.zeros([0, 50]), targets: [], sequenceOfRow: [], chosen: 1, objective: CrossEntropyObjective())
    }
}
