import CoreRuntime
import Foundation

/// OPERA, over-trust penalty and retrospection-allocation (Huang et al., "OPERA: Alleviating
/// Hallucination in Multi-Modal Large Language Models via Over-Trust Penalty and
/// Retrospection-Allocation", CVPR 2024), with the rules of `opera_beam_search` in the authors'
/// transformers 4.29.2 (shikiw/OPERA, generation/utils.py). At every step, for every beam:
///
///     candidates  the num_attn_candidates largest logits; each is run once more (a speculative pass)
///                 to read its attention row
///     window      last-layer attention, max over heads, each row divided by its sum, restricted to
///                 the response (rows and columns), times scale_factor
///     s_j         1e-7 * prod_{i >= j} window_ij (float16); penalty = max_j s_j, location = argmax_j
///                 (while the window holds at most 10 tokens the penalty is minus the candidate's
///                 attention on the image instead)
///     score       logit - penalty_weights * penalty for the candidates, -999 for every other token
///
/// The beam's location is the mode of its candidates' locations. Retrospection: when every beam has
/// had the most common location more than `threshold` times and it is at least 10, the search goes
/// back to the position after it (at most num_attn_candidates times per position), recomputes that
/// step and forbids the (beam, token) pairs chosen there before; that step's scores are the plain
/// logits. Then log-softmax and beam search.
///
/// Beam search with any width; greedy decoding is the same rules with one beam (the authors' code
/// stops at one beam). Sampling is undefined: the authors give no sampling rule, and going back
/// restores beams and their scores. Defaults are the authors' README for LLaVA-1.5.
public final class OPERAMethod: DecodingMethod {
    public init() {}
    public var id: String { "opera" }
    public var summary: String { "OPERA: beam search over the top candidates penalised by last-layer attention over-trust, with retrospection rollback (scale 50, threshold 15, 5 candidates)" }
    public var options: [MethodOption] {
        [MethodOption("scale_factor", "50", "scales the attention window before the column products; above 0"),
         MethodOption("threshold", "15", "go back when a location repeats more than this many times; 0 or more"),
         MethodOption("num_attn_candidates", "5", "candidates per beam, each run once more; 1 or more"),
         MethodOption("penalty_weights", "1", "weight of the over-trust penalty; 0 or more")]
    }
    public private(set) var scaleFactor: Float = 50
    public private(set) var threshold = 15
    public private(set) var candidates = 5
    public private(set) var penaltyWeight: Float = 1
    /// Rollbacks so far, and rows whose best candidate the penalty changed (for tests and reports).
    public private(set) var rollbacks = 0
    public private(set) var penaltyChanges = 0

    private var samples: [Retrospection] = []
    private var layer = 0
    private var beams = 1

    public func configure(_ values: [String: String]) throws {
        let v = OptionValues(method: id, values: try OptionValues.resolve(options, overrides: values, method: id))
        scaleFactor = try v.float("scale_factor", above: 0)
        threshold = try v.int("threshold", in: 0...1_000_000)
        candidates = try v.int("num_attn_candidates", in: 1...1024)
        penaltyWeight = try v.float("penalty_weights", atLeast: 0)
    }

    public func begin(_ context: DecodingContext) throws -> DecodingNeeds {
        if case .sampling = context.mode {
            throw HalluError("opera: not defined for sampling (its retrospection restores beams and their scores, and the authors give no sampling rule); use greedy decoding (--temperature 0) or beam search (--num-beams N)")
        }
        let vocab = context.model.config.text.vocabSize
        guard candidates <= vocab else { throw HalluError("opera.num_attn_candidates: \(candidates) is more than the vocabulary (\(vocab))") }
        layer = context.model.config.text.numHiddenLayers - 1
        if case .beam(let k) = context.mode { beams = k } else { beams = 1 }
        samples = zip(context.promptLengths, context.imageSpans).map { Retrospection(promptLength: $0, image: $1) }
        return DecodingNeeds(attentionLayers: [layer], rollback: true)
    }

    public func adjust(_ step: DecodingStep) throws {
        if step.isRetry { return forbid(step) }
        let k = beams
        // The beams' newest attention rows and the choices that led to them.
        var tops: [[Int]] = []
        for r in 0..<step.rows {
            let s = step.sample(of: r), t = step.generated(r).count, b = step.beam(of: r)
            let parentBeam = step.parent(of: r).map { $0 % k }
            if t > 0 {
                let a = try step.attention(layer: layer, row: r)
                let row = AttentionRow(a, query: a.queries - 1, promptLength: samples[s].promptLength, image: nil, scale: scaleFactor)
                samples[s].add(step: t, beam: b, beams: k, parentBeam: parentBeam, row: row.local)
                if let p = parentBeam {
                    if b == 0 { samples[s].choices[t - 1] = [] }
                    samples[s].choices[t - 1]!.append((p, step.generated(r).last!))
                }
            } else {
                samples[s].start(beams: k)
            }
            tops.append(Sampling.topIndices(UnsafePointer(step.row(r).baseAddress!), count: step.vocabSize, n: candidates))
        }
        let spec = try step.speculate(tops)
        var locations: [Int: [Int]] = [:]
        for r in 0..<step.rows {
            let s = step.sample(of: r), t = step.generated(r).count, b = step.beam(of: r)
            let products = OverTrust.columnProducts(samples[s].history(step: t, beam: b))
            let row = step.row(r)
            var scores: [Float] = [], locs: [Int] = []
            for (j, token) in tops[r].enumerated() {
                let a = try spec.attention(layer: layer, row: r, candidate: j)
                let cand = AttentionRow(a, query: 0, promptLength: samples[s].promptLength, image: samples[s].image, scale: scaleFactor)
                let (penalty, at) = OverTrust.score(products: products, candidate: cand.local)
                // While the window is short the penalty rewards attention on the image instead.
                let score = cand.local.count <= 10
                    ? row[token] - penaltyWeight * -cand.image
                    : row[token] - Float(Float16(penaltyWeight * penalty))
                scores.append(score)
                locs.append(at)
            }
            var best = 0
            for j in scores.indices where scores[j] > scores[best] { best = j }
            if best != 0 { penaltyChanges += 1 }
            for j in 0..<row.count { row[j] = -999 }
            for (j, token) in tops[r].enumerated() { row[token] = scores[j] }
            locations[s, default: []].append(OverTrust.mode(locs))
        }
        for (s, locs) in locations.sorted(by: { $0.key < $1.key }) {
            let t = step.generated((0..<step.rows).first { step.sample(of: $0) == s }!).count
            samples[s].locations.append(locs)
            precondition(samples[s].locations.count == t + 1)
            if let target = samples[s].rollback(step: t, threshold: threshold, limit: candidates) {
                rollbacks += 1
                try step.requestRollback(sample: s, toLength: target)
            }
        }
    }

    /// The retried step: the plain logits shifted so their minimum is -999, and the pairs chosen
    /// there before set to -999.
    private func forbid(_ step: DecodingStep) {
        for r in 0..<step.rows {
            let s = step.sample(of: r), b = step.beam(of: r)
            let row = step.row(r)
            var m = Float.infinity
            for j in 0..<row.count where row[j] < m { m = row[j] }
            let shift = Float(999) + m
            for j in 0..<row.count { row[j] -= shift }
            for (beam, token) in samples[s].pending ?? [] where beam == b { row[token] = -999 }
        }
        for s in Set((0..<step.rows).map { step.sample(of: $0) }) { samples[s].pending = nil }
    }
}

/// What the library hands to hallu (see Entry/).
public enum OPERAPlugin {
    public static var plugin: HalluPlugin {
        let m = OPERAMethod()
        return HalluPlugin(name: "OPERA", decoders: [DecoderDescriptor(id: m.id, summary: m.summary, make: { OPERAMethod() })])
    }
}
