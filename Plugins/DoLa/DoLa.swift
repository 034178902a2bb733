import CoreRuntime
import Foundation

/// DoLa, decoding by contrasting layers (Chuang et al., "DoLa: Decoding by Contrasting Layers
/// Improves Factuality in Large Language Models", ICLR 2024), with the rules of transformers 4.43-4.5x
/// `generate(dola_layers=...)` (voidism/DoLa's method as merged there):
///
///     premature layer m = argmax over the candidate layers of JS(softmax(final), softmax(lm_head(h_m)))
///     keep  = { v : log p_final(v) >= max log p_final + log(relative_top) }
///     out_v = log p_final(v) - log p_m(v)   on keep, -inf elsewhere
///     then the repetition penalty on every token of the prompt and the answer (x1.2 below 0, /1.2 above)
///
/// h_m is the input of block m (m = 0: the embeddings), read before the final norm as transformers
/// does. Candidate layers scale with the depth N like transformers': "low" is every second layer
/// of the first half, "high" of the second half (the last 20 layers above 40), or a comma list.
/// The Jensen-Shannon divergence is taken per sequence (transformers averages it over the batch,
/// which makes a sequence's choice depend on its neighbours; the authors decoded one at a time).
/// Defined for greedy decoding and sampling, as by its authors and transformers.
public final class DoLaMethod: DecodingMethod {
    public init() {}
    public var id: String { "dola" }
    public var summary: String { "DoLa: contrast final-layer with premature-layer log-probabilities (layer by Jensen-Shannon), relative-top filter, repetition penalty 1.2" }
    public var options: [MethodOption] {
        [MethodOption("layers", "high", "candidate premature layers: low, high, or indices like 0,2 (below the layer count)"),
         MethodOption("relative_top", "0.1", "keep tokens within log(relative_top) of the best final log-probability; in (0, 1]"),
         MethodOption("repetition_penalty", "1.2", "divides positive / multiplies negative scores of tokens already in the sequence; 1 is off, at least 1")]
    }
    public private(set) var layerSpec = "high"
    public private(set) var relativeTop: Float = 0.1
    public private(set) var repetitionPenalty: Float = 1.2
    private var model: LlavaModel?
    /// The candidate layers of the current batch.
    public private(set) var candidates: [Int] = []

    public func configure(_ values: [String: String]) throws {
        let v = OptionValues(method: id, values: try OptionValues.resolve(options, overrides: values, method: id))
        layerSpec = v.string("layers")!
        if !["low", "high"].contains(layerSpec) {
            let parts = layerSpec.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard !parts.isEmpty, parts.allSatisfy({ Int($0).map { $0 >= 0 } ?? false }) else {
                throw HalluError("dola.layers: expected low, high or comma-separated layer indices such as 0,2, got \"\(layerSpec)\"")
            }
        }
        relativeTop = try v.float("relative_top", above: 0, atMost: 1)
        repetitionPenalty = try v.float("repetition_penalty", atLeast: 1, atMost: 100)
    }

    /// transformers' candidate layers for a decoder of `n` layers.
    public static func candidateLayers(_ spec: String, layers n: Int, tiedEmbeddings: Bool) throws -> [Int] {
        // With a tied head the embeddings' logits say nothing, so they are skipped.
        let start = !tiedEmbeddings ? 0 : n > 2 ? 2 : n == 2 ? 1 : 0
        switch spec {
        case "low":
            if start == n / 2 { return [start] }
            return n <= 40 ? Array(stride(from: start, to: n / 2, by: 2)) : Array(stride(from: start, to: 20, by: 2))
        case "high":
            return n <= 40 ? Array(stride(from: n / 2, to: n, by: 2)) : Array(stride(from: n - 20, to: n, by: 2))
        default:
            let list = spec.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 < n }
            guard !list.isEmpty else { throw HalluError("dola.layers: none of \(spec) is below the decoder's \(n) layers") }
            return list
        }
    }

    public func begin(_ context: DecodingContext) throws -> DecodingNeeds {
        if case .beam = context.mode {
            throw HalluError("dola is defined for greedy decoding and sampling only: its premature layer is chosen per token from one sequence's distributions, and neither DoLa's code nor transformers defines it for beam search; use --num-beams 1")
        }
        let text = context.model.config.text
        candidates = try Self.candidateLayers(layerSpec, layers: text.numHiddenLayers, tiedEmbeddings: text.tieWordEmbeddings)
        guard !candidates.isEmpty else { throw HalluError("dola.layers: \(layerSpec) selects no layer of a \(text.numHiddenLayers)-layer decoder") }
        model = context.model
        return DecodingNeeds(hiddenLayers: candidates)
    }

    public func adjust(_ step: DecodingStep) throws {
        guard let model else { return }
        let v = step.vocabSize
        let finalLogp = step.logits.logSoftmax()
        var premature: [Tensor] = []
        for l in candidates { premature.append(try model.languageModel.logits(step.hidden(layer: l)).logSoftmax()) }
        let logTop = Foundation.log(relativeTop)
        for r in 0..<step.rows {
            let f = finalLogp.data + r * v
            var best = 0
            if premature.count > 1 {
                var bestJS = -Float.infinity
                for (i, p) in premature.enumerated() {
                    let js = Self.jensenShannon(f, p.data + r * v, count: v)
                    if js > bestJS { bestJS = js; best = i }
                }
            }
            let base = premature[best].data + r * v
            var top = -Float.infinity
            for j in 0..<v where f[j] > top { top = f[j] }
            let threshold = top + logTop
            let row = step.row(r)
            for j in 0..<v { row[j] = f[j] < threshold ? -.infinity : f[j] - base[j] }
            if repetitionPenalty != 1 {
                for t in Set(step.promptIds(sample: step.sample(of: r)) + step.generated(r)) where t >= 0 && t < v {
                    row[t] = row[t] < 0 ? row[t] * repetitionPenalty : row[t] / repetitionPenalty
                }
            }
        }
    }

    /// 0.5 (KL(M || P) + KL(M || Q)) / V with M = (P + Q) / 2, from log-probabilities, as
    /// transformers computes it (`kl_div(..., reduction="none").mean(-1)`).
    static func jensenShannon(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count v: Int) -> Float {
        var kl1: Float = 0, kl2: Float = 0
        for j in 0..<v {
            let m = 0.5 * (Foundation.exp(a[j]) + Foundation.exp(b[j]))
            guard m > 0 else { continue }
            let lm = Foundation.log(m)
            kl1 += m * (lm - a[j])
            kl2 += m * (lm - b[j])
        }
        return 0.5 * (kl1 / Float(v) + kl2 / Float(v))
    }
}

/// What the library hands to hallu (see Entry/).
public enum DoLaPlugin {
    public static var plugin: HalluPlugin {
        let m = DoLaMethod()
        return HalluPlugin(name: "DoLa", decoders: [DecoderDescriptor(id: m.id, summary: m.summary, make: { DoLaMethod() })])
    }
}
