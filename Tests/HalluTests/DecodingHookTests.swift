import Foundation
import Testing
@testable import CoreRuntime

/// A hook that changes nothing but checks what every step offers: an extra stream with the main
/// inputs (its logits must equal the main ones), hidden states and attention readouts.
private final class ProbeHook: DecodingHook {
    let name = "probe"
    var steps = 0, checkedAttention = 0
    var worstStreamDiff: Float = 0, worstRowSum: Float = 0, worstEmbedding: Float = 0
    var model: LlavaModel?
    var promptLengths: [Int] = []
    var badKeyCount = 0, badParent = 0
    var lastRows: [[Int]] = []

    func begin(_ c: DecodingContext) throws -> DecodingNeeds {
        model = c.model
        promptLengths = c.promptLengths
        lastRows = []
        return DecodingNeeds(streams: [DecodingStream(name: "same", inputs: { $0 })], hiddenLayers: [0], attentionLayers: [1])
    }

    func adjust(_ step: DecodingStep) throws {
        steps += 1
        let other = try step.streamLogits(0)
        worstStreamDiff = max(worstStreamDiff, zip(other.values, step.logits.values).map { abs($0 - $1) }.max() ?? 0)
        let h0 = try step.hidden(layer: 0)
        for r in 0..<step.rows {
            let g = step.generated(r)
            // Keys: the spliced prompt and every generated token (the newest is the step's query).
            let a = try step.attention(layer: 1, row: r)
            if a.keys != promptLengths[step.sample(of: r)] + g.count { badKeyCount += 1 }
            for h in 0..<a.heads {
                for q in 0..<a.queries {
                    var sum: Float = 0
                    for k in 0..<a.keys { sum += a[h, q, k] }
                    worstRowSum = max(worstRowSum, abs(sum - 1))
                }
            }
            checkedAttention += 1
            if let last = g.last {
                let e = try model!.languageModel.embedTokens([last])
                let d = e.count
                for j in 0..<d { worstEmbedding = max(worstEmbedding, abs(e.data[j] - h0.data[r * d + j])) }
                if let p = step.parent(of: r), p < lastRows.count, lastRows[p] != Array(g.dropLast()) { badParent += 1 }
            }
        }
        lastRows = (0..<step.rows).map { step.generated($0) }
    }
}

/// Bans one token in every mode.
private final class BanHook: DecodingHook {
    let name = "ban"
    let token: Int
    init(_ token: Int) { self.token = token }
    func begin(_ c: DecodingContext) throws -> DecodingNeeds { DecodingNeeds() }
    func adjust(_ step: DecodingStep) throws {
        for r in 0..<step.rows { step.row(r)[token] = -.infinity }
    }
}

private func goldenModel() throws -> (LlavaModel, Tensor, Int) {
    let g = try LlavaGolden.load("layer_minus2_default")
    return (g.model, try g.pixels, g.model.config.imageTokenIndex)
}

@Test func decodingHookSeesStreamsHiddenStatesAndAttention() throws {
    let (model, pixels, img) = try goldenModel()
    let inputs = LlavaInputs(ids: [[1, 12, img, 30, 31, 32], [1, 40, 41, img, 7, 8, 9, 10, 11]], pixels: pixels)
    for beams in [1, 3] {
        var cfg = GenerationConfig()
        cfg.maxNewTokens = 6
        cfg.numBeams = beams
        cfg.eosTokenId = 3
        let probe = ProbeHook()
        let plain = try Generator(model: model).generateWithStats(inputs, cfg)
        let probed = try Generator(model: model, hooks: [probe]).generateWithStats(inputs, cfg)
        #expect(plain.ids == probed.ids, "a hook that changes nothing changes nothing (beams \(beams))")
        #expect(probe.steps > 0 && probe.checkedAttention > 0)
        #expect(probe.worstStreamDiff <= 1e-5, "stream logits differ by \(probe.worstStreamDiff)")
        #expect(probe.worstRowSum <= 1e-5, "attention rows sum to 1 within \(probe.worstRowSum)")
        #expect(probe.worstEmbedding <= 1e-6, "hidden_states[0] of a step is the new token's embedding")
        #expect(probe.badKeyCount == 0 && probe.badParent == 0)
        // The extra stream doubles the passes.
        #expect(probed.stats.forwardPasses == 2 * plain.stats.forwardPasses)
        #expect(plain.stats.generatedTokens == plain.ids.reduce(0) { $0 + $1.count })
    }
}

@Test func batchedBeamSearchMatchesOneSampleAtATime() throws {
    let (model, pixels, img) = try goldenModel()
    let prompts = [[1, 12, img, 30, 31, 32], [1, 40, 41, img, 7, 8, 9, 10, 11], [1, 5, 6]]
    var cfg = GenerationConfig()
    cfg.maxNewTokens = 7
    cfg.numBeams = 3
    for eos in [3, 17, 60] {
        cfg.eosTokenId = eos
        let batched = try Generator(model: model).generate(LlavaInputs(ids: prompts, pixels: pixels), cfg)
        for (s, p) in prompts.enumerated() {
            let px = p.contains(img) ? try pixels.slice(axis: 0, s..<(s + 1)) : nil
            let alone = try Generator(model: model).generate(LlavaInputs(ids: [p], pixels: px), cfg)
            #expect(batched[s] == alone[0], "sample \(s), eos \(eos)")
        }
    }
}

@Test func aHookRewritesLogitsInEveryMode() throws {
    let (model, pixels, img) = try goldenModel()
    let inputs = LlavaInputs(ids: [[1, 12, img, 30, 31, 32]], pixels: try pixels.slice(axis: 0, 0..<1))
    var cfg = GenerationConfig()
    cfg.maxNewTokens = 8
    cfg.eosTokenId = 3
    for mode in 0..<3 {
        cfg.numBeams = mode == 2 ? 3 : 1
        cfg.temperature = mode == 1 ? 1 : 0
        let plain = try Generator(model: model).generate(inputs, cfg)[0]
        let banned = try #require(plain.first)
        let out = try Generator(model: model, hooks: [BanHook(banned)]).generate(inputs, cfg)[0]
        #expect(!out.contains(banned), "mode \(cfg.mode): \(out)")
    }
}

/// Rolls sample 0 back once, at its fourth step, to one generated token, and bans the tokens its
/// beams had chosen there.
private final class RollbackOnceHook: DecodingHook {
    let name = "rollback-once"
    var rolled = false, retried = 0
    var banned: [Int: Set<Int>] = [:]
    var chosenAtOne: Set<Int> = []
    func begin(_ c: DecodingContext) throws -> DecodingNeeds { rolled = false; return DecodingNeeds(rollback: true) }
    func adjust(_ step: DecodingStep) throws {
        if step.isRetry {
            retried += 1
            for r in 0..<step.rows {
                #expect(step.generated(r).count == 1 || step.generated(r).isEmpty)
                for t in chosenAtOne { step.row(r)[t] = -.infinity }
            }
            return
        }
        for r in 0..<step.rows where !rolled && step.generated(r).count == 2 { chosenAtOne.insert(step.generated(r)[1]) }
        if !rolled, step.rows > 0, step.generated(0).count == 3 {
            rolled = true
            try step.requestRollback(sample: 0, toLength: 1)
        }
    }
}

@Test func rollbackRestoresTheBeamStateAndRetries() throws {
    let (model, pixels, img) = try goldenModel()
    let inputs = LlavaInputs(ids: [[1, img, 50, 51]], pixels: try pixels.slice(axis: 0, 1..<2))
    var cfg = GenerationConfig()
    cfg.maxNewTokens = 8
    cfg.numBeams = 3
    cfg.eosTokenId = -1
    let hook = RollbackOnceHook()
    let (ids, stats) = try Generator(model: model, hooks: [hook]).generateWithStats(inputs, cfg)
    #expect(hook.rolled && hook.retried == 1)
    #expect(ids[0].count == 8)
    #expect(!hook.chosenAtOne.contains(ids[0][1]), "the retried step avoids the tokens chosen before")
    let plain = try Generator(model: model).generateWithStats(inputs, cfg)
    #expect(stats.forwardPasses > plain.stats.forwardPasses)

    // Rolling back to a state that does not exist is an error, not a crash.
    final class BadRollback: DecodingHook {
        let name = "bad"
        func begin(_ c: DecodingContext) throws -> DecodingNeeds { DecodingNeeds(rollback: true) }
        func adjust(_ step: DecodingStep) throws { try step.requestRollback(sample: 0, toLength: 5) }
    }
    #expect(throws: HalluError.self) { try Generator(model: model, hooks: [BadRollback()]).generate(inputs, cfg) }
    // Without beam search (or without asking) there is no rollback.
    cfg.numBeams = 1
    #expect(throws: HalluError.self) { try Generator(model: model, hooks: [BadRollback()]).generate(inputs, cfg) }
}

@Test func hooksAskingForMissingLayersOrStreamsGetClearErrors() throws {
    let (model, pixels, img) = try goldenModel()
    final class Greedy: DecodingHook {
        let name = "needs-layer-9"
        func begin(_ c: DecodingContext) throws -> DecodingNeeds { DecodingNeeds(hiddenLayers: [9]) }
        func adjust(_ step: DecodingStep) throws {}
    }
    let inputs = LlavaInputs(ids: [[1, img, 50]], pixels: try pixels.slice(axis: 0, 0..<1))
    do {
        _ = try Generator(model: model, hooks: [Greedy()]).generate(inputs, GenerationConfig())
        Issue.record("no error")
    } catch let e as HalluError {
        #expect(e.message.contains("needs-layer-9") && e.message.contains("layer 9"))
    }
    final class Reader: DecodingHook {
        let name = "reader"
        func begin(_ c: DecodingContext) throws -> DecodingNeeds { DecodingNeeds() }
        func adjust(_ step: DecodingStep) throws { _ = try step.streamLogits(0) }
    }
    #expect(throws: HalluError.self) { try Generator(model: model, hooks: [Reader()]).generate(inputs, GenerationConfig()) }
}

/// Speculates each row's `n` best tokens at every step without changing anything, and keeps the
/// logits it sees and the ones the speculative passes predict, by sample and sequence.
private final class SpeculateHook: DecodingHook {
    let name = "speculate"
    let n: Int
    var seen: [[Int]: [Float]] = [:], predicted: [[Int]: [Float]] = [:]
    var promptLengths: [Int] = []
    var badAttention = 0
    init(_ n: Int) { self.n = n }
    func begin(_ c: DecodingContext) throws -> DecodingNeeds { promptLengths = c.promptLengths; return DecodingNeeds(attentionLayers: [1]) }
    func adjust(_ step: DecodingStep) throws {
        let v = step.vocabSize
        for r in 0..<step.rows { seen[[step.sample(of: r)] + step.generated(r)] = Array(step.row(r)) }
        guard n > 0 else { return }
        let tops = (0..<step.rows).map { Sampling.topIndices(UnsafePointer(step.row($0).baseAddress!), count: v, n: n) }
        let spec = try step.speculate(tops)
        for r in 0..<step.rows {
            for (j, t) in tops[r].enumerated() {
                predicted[[step.sample(of: r)] + step.generated(r) + [t]] = Array(spec.logits.values[((r * n + j) * v)..<((r * n + j + 1) * v)])
                let a = try spec.attention(layer: 1, row: r, candidate: j)
                let sum = (0..<a.keys).reduce(Float(0)) { $0 + a[0, 0, $1] }
                if a.queries != 1 || a.keys != promptLengths[step.sample(of: r)] + step.generated(r).count + 1 || abs(sum - 1) > 1e-4 {
                    badAttention += 1
                }
            }
        }
    }
}

@Test func speculativePassesPredictTheNextStepAndAreReused() throws {
    let (model, pixels, img) = try goldenModel()
    let inputs = LlavaInputs(ids: [[1, img, 50, 51], [1, 60, img, 61, 62, 63]], pixels: pixels)
    for beams in [1, 3] {
        var cfg = GenerationConfig()
        cfg.maxNewTokens = 6
        cfg.numBeams = beams
        cfg.eosTokenId = -1
        let plain = SpeculateHook(0), spec = SpeculateHook(3)
        let a = try Generator(model: model, hooks: [plain]).generateWithStats(inputs, cfg)
        let b = try Generator(model: model, hooks: [spec]).generateWithStats(inputs, cfg)
        #expect(a.ids == b.ids, "beams \(beams)")
        #expect(spec.badAttention == 0)
        // What a speculative pass predicts is what a plain step computes for that sequence.
        var compared = 0
        for (key, logits) in spec.predicted {
            guard let real = plain.seen[key] else { continue }
            #expect(zip(real, logits).map { abs($0 - $1) }.max()! <= 1e-4, "beams \(beams) \(key)")
            compared += 1
        }
        #expect(compared >= 10)
        // Every chosen token was speculated, so no step runs apart from the speculative passes.
        let tokens = b.ids.reduce(0) { $0 + $1.count }
        if beams == 1 { #expect(b.stats.forwardPasses == 2 + 3 * tokens) }
        else { #expect(b.stats.forwardPasses == 2 + 3 * beams * cfg.maxNewTokens * 2) }
    }
}
