import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
@testable import HACL

// Hand-built embeddings: two images, their true captions, three hallucinated captions.
private let handImage: [Float] = [0.6, 0.8, 0.0, 0.0, 0.6, -0.8]
private let handPositive: [Float] = [0.48, 0.64, 0.6, 0.36, 0.48, -0.8]
private let handHallucinated: [Float] = [0.8, 0.6, 0.0, 0.0, 0.8, -0.6, 1.0, 0.0, 0.0]

private func rows(_ v: [Float], _ d: Int, grad: Bool = false) throws -> Tensor {
    try Tensor(v, shape: [v.count / d, d], requiresGrad: grad)
}

/// The formula written out in Double: mean over rows of -log softmax(row)[target].
private func handCrossEntropy(_ logits: [[Double]]) -> Double {
    var total = 0.0
    for (i, row) in logits.enumerated() {
        let m = row.max()!
        let lse = m + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - m) })
        total += lse - row[i]
    }
    return total / Double(logits.count)
}

private func dot(_ a: [Float], _ i: Int, _ b: [Float], _ j: Int, _ d: Int) -> Double {
    (0..<d).reduce(0) { $0 + Double(a[i * d + $1]) * Double(b[j * d + $1]) }
}

@Test func haclContrastiveLossEqualsTheFormula() throws {
    let tau: Float = 0.2, d = 3
    let out = try HACLContrastive.loss(image: rows(handImage, d), positive: rows(handPositive, d),
                                       hallucinated: rows(handHallucinated, d), temperature: Tensor(scalar: tau))
    // s_i2t = I [Tpos; Thal]^T / τ  (2 x 5),  s_t2i = Tpos I^T / τ  (2 x 2)
    let bank = handPositive + handHallucinated
    let i2t = (0..<2).map { i in (0..<5).map { j in dot(handImage, i, bank, j, d) / Double(tau) } }
    let t2i = (0..<2).map { i in (0..<2).map { j in dot(handPositive, i, handImage, j, d) / Double(tau) } }
    let expectI2T = handCrossEntropy(i2t), expectT2I = handCrossEntropy(t2i)
    #expect(abs(Double(out.imageToText.item) - expectI2T) < 1e-5)
    #expect(abs(Double(out.textToImage.item) - expectT2I) < 1e-5)
    #expect(abs(Double(out.loss.item) - (expectI2T + expectT2I) / 2) < 1e-5)
    // The same numbers from PyTorch running the released code's log_softmax-times-one-hot form in float64.
    #expect(abs(out.imageToText.item - 1.1469335) < 1e-5)
    #expect(abs(out.textToImage.item - 0.0942810) < 1e-5)
    #expect(abs(out.loss.item - 0.6206072) < 1e-5)
    #expect(out.imageToTextLogits.shape == [2, 5])
    #expect(out.textToImageLogits.shape == [2, 2])
}

@Test func hallucinatedCaptionsEnterOnlyTheImageToTextTerm() throws {
    let d = 3, tau = Tensor(scalar: 0.2)
    let image = try rows(handImage, d), positive = try rows(handPositive, d)
    let base = try HACLContrastive.loss(image: image, positive: positive, hallucinated: rows(handHallucinated, d), temperature: tau)
    var moved = handHallucinated
    moved[1] += 0.3; moved[4] -= 0.5; moved[8] += 0.2
    let perturbed = try HACLContrastive.loss(image: image, positive: positive, hallucinated: rows(moved, d), temperature: tau)
    #expect(perturbed.textToImage.item == base.textToImage.item)
    #expect(perturbed.imageToText.item != base.imageToText.item)

    // No gradient path from a hallucinated caption to the text-to-image term.
    let hal = try rows(handHallucinated, d, grad: true)
    let out = try HACLContrastive.loss(image: image, positive: positive, hallucinated: hal, temperature: tau)
    try out.textToImage.backward()
    #expect((hal.grad?.values ?? []).allSatisfy { $0 == 0 })
    try out.imageToText.backward()
    #expect(hal.grad!.values.contains { $0 != 0 })

    // Without hallucinated captions the image-to-text term is plain in-batch CLIP, and adding
    // negatives can only raise it (every extra column adds a positive term to the partition sum).
    let plain = try HACLContrastive.loss(image: image, positive: positive, hallucinated: nil, temperature: tau)
    #expect(plain.imageToTextLogits.shape == [2, 2])
    #expect(plain.textToImage.item == base.textToImage.item)
    #expect(plain.imageToText.item < base.imageToText.item)
}

@Test func haclContrastiveGradientsMatchFiniteDifferences() throws {
    var rng = SeededRNG(seed: 21)
    let image = Tensor.randn([3, 4], rng: &rng, requiresGrad: true)
    let positive = Tensor.randn([3, 4], rng: &rng, requiresGrad: true)
    let hallucinated = Tensor.randn([4, 4], rng: &rng, requiresGrad: true)
    let tau = Tensor.full([], 0.7, requiresGrad: true)
    let r = try GradCheck.check([image, positive, hallucinated, tau], eps: 1e-2) { x in
        try HACLContrastive.loss(image: x[0], positive: x[1], hallucinated: x[2], temperature: x[3]).loss
    }
    #expect(r.passes(1e-2), "\(r)")
    // Each direction on its own, so that an error in one cannot hide behind the other.
    for pick in [0, 1] {
        let q = try GradCheck.check([image, positive, hallucinated, tau], eps: 1e-2) { x in
            let o = try HACLContrastive.loss(image: x[0], positive: x[1], hallucinated: x[2], temperature: x[3])
            return pick == 0 ? o.imageToText : o.textToImage
        }
        #expect(q.passes(1e-2), "direction \(pick): \(q)")
    }
}

@Test func similarityLogitsOpEqualsTheProductOverTheTemperatureAndPassesFiniteDifferences() throws {
    var rng = SeededRNG(seed: 12)
    let a = Tensor.randn([3, 5], rng: &rng, requiresGrad: true)
    let b = Tensor.randn([4, 5], rng: &rng, requiresGrad: true)
    let tau = Tensor.full([], 0.3, requiresGrad: true)
    // The custom op against the same formula written with core ops.
    let s = try Tensor.similarityLogits(a, b, temperature: tau)
    let want = try a.matmul(b.transposed(0, 1)) / tau
    #expect(s.shape == [3, 4] && zip(s.values, want.values).allSatisfy { abs($0 - $1) < 1e-6 })
    // Its backward, checked by the core's finite differences as a plugin's tests can.
    let r = try GradCheck.check([a, b, tau], eps: 1e-3) { t in try Tensor.similarityLogits(t[0], t[1], temperature: t[2]) }
    #expect(r.passes(1e-2), "\(r)")
    // Without a tape it records nothing; bad shapes are named.
    let inference = try withNoGrad { try Tensor.similarityLogits(a, b, temperature: tau) }
    #expect(inference.gradFn == nil)
    #expect(throws: HalluError.self) { try Tensor.similarityLogits(a, Tensor.zeros([4, 6]), temperature: tau) }
}

@Test func headsProjectionNormalisationAndLossGradientsMatchFiniteDifferences() throws {
    let heads = try HACLHeads(hidden: 8, seed: 3)
    var rng = SeededRNG(seed: 9)
    let imageReadout = Tensor.randn([3, 8], rng: &rng, requiresGrad: true)
    let textReadout = Tensor.randn([3, 8], rng: &rng, requiresGrad: true)
    let halReadout = Tensor.randn([2, 8], rng: &rng, requiresGrad: true)
    try heads.temperature.assign([0.5])
    let inputs = [imageReadout, textReadout, halReadout, heads.visionProjector.weight, heads.textProjector.bias!, heads.temperature]
    let r = try GradCheck.check(inputs, eps: 2e-3) { _ in
        try HACLContrastive.loss(image: heads.embedImages(imageReadout), positive: heads.embedTexts(textReadout),
                                 hallucinated: heads.embedTexts(halReadout), temperature: heads.temperature).loss
    }
    #expect(r.passes(2e-2), "\(r)")
}

@Test func headsAreNamedSeededAndKeepTheTemperatureInRange() throws {
    let a = try HACLHeads(hidden: 64, seed: 4), b = try HACLHeads(hidden: 64, seed: 4), c = try HACLHeads(hidden: 64, seed: 5)
    #expect(a.checkpointParameters.map(\.0) == ["hacl.itc_temp", "hacl.vision_projector.weight", "hacl.vision_projector.bias",
                                                "hacl.text_projector.weight", "hacl.text_projector.bias"])
    #expect(a.visionProjector.weight.shape == [16, 64] && a.textProjector.weight.shape == [16, 64])
    #expect(a.temperature.shape == [] && a.temperature.item == 0.07)
    #expect(a.checkpointParameters.allSatisfy { $0.1.requiresGrad })
    #expect(a.visionProjector.weight.values == b.visionProjector.weight.values)
    #expect(a.textProjector.weight.values == b.textProjector.weight.values)
    #expect(a.visionProjector.weight.values != c.visionProjector.weight.values)
    #expect(a.visionProjector.weight.values != a.textProjector.weight.values)

    for (set, expect) in [(Float(3), Float(0.5)), (1e-6, 0.001), (0.2, 0.2), (-1, 0.001)] {
        try a.temperature.assign([set])
        a.clampTemperature()
        #expect(a.temperature.item == expect)
    }
    // An optimiser step that drives τ far below the range is undone by the clamp.
    try a.temperature.assign([0.002])
    let opt = try AdamW(groups: [ParamGroup(name: "t", params: [a.temperature], lr: 0.5, weightDecay: 0)])
    a.temperature.grad = Tensor(scalar: 10)
    try opt.step(lrScale: 1)
    #expect(a.temperature.item < 0.001)
    a.clampTemperature()
    #expect(a.temperature.item == 0.001)
    #expect(throws: HalluError.self) { try HACLHeads(hidden: 2, seed: 0) }
}

@Test func haclContrastiveRejectsBadShapes() throws {
    let tau = Tensor(scalar: 0.1)
    #expect(throws: HalluError.self) {
        try HACLContrastive.loss(image: Tensor.zeros([2, 3]), positive: Tensor.zeros([3, 3]), hallucinated: nil, temperature: tau)
    }
    #expect(throws: HalluError.self) {
        try HACLContrastive.loss(image: Tensor.zeros([2, 3]), positive: Tensor.zeros([2, 3]), hallucinated: Tensor.zeros([2, 4]), temperature: tau)
    }
    #expect(throws: HalluError.self) {
        try HACLContrastive.loss(image: Tensor.zeros([2, 3]), positive: Tensor.zeros([2, 3]), hallucinated: nil, temperature: Tensor(scalar: 0))
    }
    #expect(throws: HalluError.self) {
        try HACLContrastive.loss(image: Tensor.zeros([0, 3]), positive: Tensor.zeros([0, 3]), hallucinated: nil, temperature: tau)
    }
}

@Test func haclBatchAccuraciesCountTheRightColumns() throws {
    // Two images, four texts: [pos0, pos1, hal(owner 0), hal(owner 1)].
    let logits = try Tensor([5, 1, 4, 0,
                             0, 2, 0, 3], shape: [2, 4])
    #expect(HACLContrastive.inBatchAccuracy(logits) == 0.5)
    #expect(HACLContrastive.hardNegativeAccuracy(logits, owners: [0, 1]) == 0.5)
    // Image 1's distractor belongs to image 0 only: image 1 is not judged.
    #expect(try HACLContrastive.hardNegativeAccuracy(logits.slice(axis: 1, 0..<3), owners: [0]) == 1)
    #expect(try HACLContrastive.hardNegativeAccuracy(logits.slice(axis: 1, 0..<2), owners: []) == nil)
}

@Test func haclHoldOutKeepsAtMostAFifthForEvaluation() {
    let examples = (0..<10).map { ContrastiveExample(id: "c\($0)", image: "i\($0)", prompt: "Describe.", caption: "cap", hallucinatedCaptions: ["h"]) }
    let data = TrainingData(contrastive: examples)
    let (train, held) = HACLObjective.holdOut(data, count: 32)
    #expect(held.map(\.id) == ["c8", "c9"])
    #expect(train.contrastive.map(\.id) == (0..<8).map { "c\($0)" })
    let (all, none) = HACLObjective.holdOut(data, count: 0)
    #expect(none.isEmpty && all.contrastive.count == 10)
    #expect(HACLObjective.holdOut(data, count: 1).heldOut.map(\.id) == ["c9"])
}
