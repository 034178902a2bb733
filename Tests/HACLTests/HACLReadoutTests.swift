import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport
@testable import HACL

private func lastRow(_ h: Tensor, row: Int) -> [Float] {
    let d = h.shape[2], t = h.shape[1]
    return Array(h.values[((row * t) + t - 1) * d..<((row * t) + t) * d])
}

private func close(_ a: [Float], _ b: [Float], _ tol: Float = 1e-5) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tol * max(1, abs($1)) }
}

@Test func haclImageReadoutIsTheLastHiddenStateOverVisualTokensAndEOS() throws {
    let ctx = HACLFixture.context(seed: 2)
    let m = ctx.model
    let pixels = try ctx.images.batch(["img0", "img1"])!
    let states = try HACLReadout.imageStates(model: m, pixels: pixels, eos: 2)
    #expect(states.shape == [2, 64])
    // Independent path: the model's own splice of `[<image>, </s>]` (no BOS, no text), final norm included.
    for i in 0..<2 {
        let px = try pixels.slice(axis: 0, i..<(i + 1))
        let (h, layout) = try m.hidden(LlavaInputs(ids: [[m.config.imageTokenIndex, 2]], pixels: px))
        #expect(layout.lengths == [m.imageTokens + 1])
        #expect(close(Array(states.values[i * 64..<(i + 1) * 64]), lastRow(h, row: 0)))
    }
}

@Test func haclTextReadoutReadsTheEOSAndIgnoresPadding() throws {
    let ctx = HACLFixture.context(seed: 3)
    let m = ctx.model, tok = ctx.codec.tokenizer
    let ids = ["a cup", "two dogs in the park today", "cat"].map { HACLReadout.captionIds($0, tokenizer: tok, eos: 2) }
    #expect(ids[0] == [1] + tok.encode("a cup", addSpecialTokens: false) + [2])
    let batched = try HACLReadout.textStates(model: m, ids: ids)
    #expect(batched.shape == [3, 64])
    for (i, seq) in ids.enumerated() {
        let (h, _) = try m.hidden(LlavaInputs(ids: [seq], pixels: nil))
        #expect(close(Array(batched.values[i * 64..<(i + 1) * 64]), lastRow(h, row: 0)), "caption \(i)")
    }
    #expect(throws: HalluError.self) { try HACLReadout.textStates(model: m, ids: [[1, m.config.imageTokenIndex, 2]]) }
    #expect(throws: HalluError.self) { try HACLReadout.textStates(model: m, ids: [[]]) }
}

@Test func haclBatchEmbeddingsFollowTheNegativesRule() throws {
    let ctx = HACLFixture.context()
    let heads = try HACLHeads(hidden: 64, seed: 1)
    var examples = HACLFixture.contrastive(3)
    examples[1].hallucinatedCaptions = []
    let all = try HACLReadout.embed(examples, negatives: .all, model: ctx.model, codec: ctx.codec, images: ctx.images, heads: heads)
    #expect(all.owners == [0, 0, 2, 2])
    #expect(all.image.shape == [3, 16] && all.positive.shape == [3, 16] && all.hallucinated?.shape == [4, 16])
    let first = try HACLReadout.embed(examples, negatives: .first, model: ctx.model, codec: ctx.codec, images: ctx.images, heads: heads)
    #expect(first.owners == [0, 2])
    // The same caption gives the same embedding whichever batch it is in.
    #expect(close(Array(first.hallucinated!.values[16..<32]), Array(all.hallucinated!.values[32..<48])))
    for i in 0..<3 {
        let n = (0..<16).reduce(Float(0)) { $0 + all.image.data[i * 16 + $1] * all.image.data[i * 16 + $1] }
        #expect(abs(n - 1) < 1e-5)
    }
    let none = examples.map { e -> ContrastiveExample in var c = e; c.hallucinatedCaptions = []; return c }
    let plain = try HACLReadout.embed(none, negatives: .all, model: ctx.model, codec: ctx.codec, images: ctx.images, heads: heads)
    #expect(plain.hallucinated == nil && plain.owners.isEmpty)
}

@Test func haclEmbeddingRejectsExamplesWithoutImages() throws {
    let ctx = HACLFixture.context()
    let heads = try HACLHeads(hidden: 64, seed: 1)
    var examples = HACLFixture.contrastive(2)
    examples[1].image = nil
    do {
        _ = try HACLReadout.embed(examples, negatives: .all, model: ctx.model, codec: ctx.codec, images: ctx.images, heads: heads)
        Issue.record("expected an error")
    } catch let e as HalluError {
        #expect("\(e)".contains("c1"))
    }
    examples[1].image = "missing.png"
    #expect(throws: HalluError.self) {
        try HACLReadout.embed(examples, negatives: .all, model: ctx.model, codec: ctx.codec, images: ctx.images, heads: heads)
    }
    #expect(throws: HalluError.self) {
        try HACLReadout.embed([], negatives: .all, model: ctx.model, codec: ctx.codec, images: ctx.images, heads: heads)
    }
}

@Test func haclRetrievalCountsImagesWhoseTrueCaptionWins() throws {
    let ctx = HACLFixture.context()
    let heads = try HACLHeads(hidden: 64, seed: 1)
    var examples = HACLFixture.contrastive(5)
    examples[4].hallucinatedCaptions = []
    let r = try HACLRetrieval.accuracy(model: ctx.model, heads: heads, examples: examples, context: ctx, chunk: 2)
    #expect(r.examples == 4)
    // Recount by hand from the embeddings.
    let e = try withNoGrad {
        try HACLReadout.embed(Array(examples.prefix(4)), negatives: .all, model: ctx.model, codec: ctx.codec, images: ctx.images, heads: heads)
    }
    var correct = 0
    var margin = 0.0
    for i in 0..<4 {
        func cos(_ t: Tensor, _ j: Int) -> Double { (0..<16).reduce(0.0) { $0 + Double(e.image.data[i * 16 + $1]) * Double(t.data[j * 16 + $1]) } }
        let wrong = e.owners.enumerated().filter { $0.element == i }.map { cos(e.hallucinated!, $0.offset) }.max()!
        if cos(e.positive, i) > wrong { correct += 1 }
        margin += cos(e.positive, i) - wrong
    }
    #expect(r.correct == correct)
    #expect(abs(r.meanMargin - margin / 4) < 1e-5)
    #expect(r.accuracy == Double(correct) / 4)
    let empty = try HACLRetrieval.accuracy(model: ctx.model, heads: heads, examples: [], context: ctx)
    #expect(empty.examples == 0 && empty.accuracy == 0)
}
