import Foundation

/// Rewrites next-token logits before a choice is made (e.g. a decoding-time hallucination method).
/// Plugins supply these through their eval hooks.
public protocol LogitsProcessor: AnyObject {
    /// `logits` are one sample's next-token scores; `generated` the tokens produced so far.
    func process(_ logits: UnsafeMutableBufferPointer<Float>, generated: [Int], sample: Int)
}

/// How to decode. Defaults are greedy decoding.
public struct GenerationConfig: Codable, Equatable {
    public var maxNewTokens = 64
    /// Beam width; 1 is greedy or sampling.
    public var numBeams = 1
    /// Beam scores are divided by length^lengthPenalty.
    public var lengthPenalty: Float = 1
    /// 0 is greedy; above 0 samples from softmax(logits / temperature).
    public var temperature: Float = 0
    public var topP: Float = 1
    public var topK = 0
    public var seed: UInt64 = 0
    /// Stop token; defaults to the model config's EOS.
    public var eosTokenId: Int? = nil
    public init() {}
}

/// Autoregressive decoding with a KV cache: greedy and sampling over a left-padded batch, and beam search.
public struct Generator {
    public let model: LlavaModel
    public var processors: [LogitsProcessor] = []

    public init(model: LlavaModel, processors: [LogitsProcessor] = []) {
        self.model = model
        self.processors = processors
    }

    /// Generated ids per sample (EOS included when produced).
    public func generate(_ inputs: LlavaInputs, _ cfg: GenerationConfig) throws -> [[Int]] {
        try cfg.check(for: model.config, prompts: inputs.ids)
        return try withNoGrad {
            if cfg.numBeams > 1 {
                return try (0..<inputs.ids.count).map { s in
                    let px = try inputs.pixels.map { p in try imageSlice(p, inputs: inputs, sample: s) } ?? nil
                    return try beamSearch(LlavaInputs(ids: [inputs.ids[s]], pixels: px), cfg)
                }
            }
            return try sampleOrGreedy(inputs, cfg)
        }
    }

    /// Pixels of sample `s` (images are stacked only for samples that have a placeholder).
    private func imageSlice(_ pixels: Tensor, inputs: LlavaInputs, sample s: Int) throws -> Tensor? {
        let img = model.config.imageTokenIndex
        guard inputs.ids[s].contains(img) else { return nil }
        let k = inputs.ids[..<s].filter { $0.contains(img) }.count
        return try pixels.slice(axis: 0, k..<(k + 1))
    }

    private var eos: Int { model.config.text.eosTokenId ?? 2 }

    private func lastLogits(_ h: Tensor) throws -> Tensor {
        let (b, t, d) = (h.shape[0], h.shape[1], h.shape[2])
        let rows = (0..<b).map { $0 * t + t - 1 }
        return try model.languageModel.logits(h.reshaped([b * t, d]).indexSelect(rows))
    }

    private func sampleOrGreedy(_ inputs: LlavaInputs, _ cfg: GenerationConfig) throws -> [[Int]] {
        let eosId = cfg.eosTokenId ?? eos
        let (x, layout) = try model.embed(inputs, leftPad: true)
        let b = inputs.ids.count, t = layout.length
        var lengths = layout.lengths
        var positions: [Int] = []
        for s in 0..<b { let pad = t - lengths[s]; positions += (0..<t).map { max(0, $0 - pad) } }
        var mask = layout.keyMask
        let cache = KVCache(layers: model.config.text.numHiddenLayers, capacity: t + cfg.maxNewTokens)
        var logits = try lastLogits(model.languageModel.hidden(x, positions: positions, keyMask: mask, cache: cache))
        var out = Array(repeating: [Int](), count: b)
        var done = Array(repeating: false, count: b)
        var rng = SeededRNG(seed: cfg.seed)
        let v = logits.shape[1]
        for _ in 0..<cfg.maxNewTokens {
            var next = [Int](repeating: eosId, count: b)
            for s in 0..<b where !done[s] {
                let row = UnsafeMutableBufferPointer(start: logits.data + s * v, count: v)
                for p in processors { p.process(row, generated: out[s], sample: s) }
                next[s] = cfg.temperature > 0 ? Sampling.sample(row, cfg, rng: &rng) : Sampling.argmax(row)
                out[s].append(next[s])
                if next[s] == eosId { done[s] = true }
            }
            if done.allSatisfy({ $0 }) { break }
            let e = try model.languageModel.embedTokens(next).reshaped([b, 1, -1])
            let pos = lengths
            lengths = lengths.map { $0 + 1 }
            let cached = mask.count / b
            var newMask = [Bool](repeating: true, count: b * (cached + 1))
            for s in 0..<b { for j in 0..<cached { newMask[s * (cached + 1) + j] = mask[s * cached + j] } }
            mask = newMask
            logits = try lastLogits(model.languageModel.hidden(e, positions: pos, keyMask: mask, cache: cache))
        }
        return out
    }

    /// Beam search for one sample, with the scoring and stopping rule of transformers' `generate`
    /// (`early_stopping=False`): each step ranks the 2k best continuations of the k running beams;
    /// those among the first k that end in EOS (or reach `maxNewTokens`) become finished hypotheses
    /// scored by sum log-prob / generated length^lengthPenalty (EOS counted), the best k that do not
    /// end keep running. The search stops when k hypotheses are finished and the best running beam's
    /// score over its current length cannot beat the worst of them, or at `maxNewTokens`.
    private func beamSearch(_ inputs: LlavaInputs, _ cfg: GenerationConfig) throws -> [Int] {
        let k = cfg.numBeams, eosId = cfg.eosTokenId ?? eos
        guard cfg.maxNewTokens > 0 else { return [] }
        let (x, layout) = try model.embed(inputs)
        let t = layout.length
        let cache = KVCache(layers: model.config.text.numHiddenLayers, capacity: t + cfg.maxNewTokens)
        var logits = try lastLogits(model.languageModel.hidden(x, positions: Array(0..<t), keyMask: nil, cache: cache))
        try cache.select(Array(repeating: 0, count: k))
        logits = try logits.indexSelect(Array(repeating: 0, count: k))
        var beams = Array(repeating: [Int](), count: k)
        // Only the first beam is live at the start, so the k copies of the prompt do not all propose the same tokens.
        var scores = [Float](repeating: -Float.infinity, count: k)
        scores[0] = 0
        var finished: [(score: Float, ids: [Int])] = []
        let v = logits.shape[1]
        for step in 0..<cfg.maxNewTokens {
            let logp = logits.logSoftmax()
            var candidates: [(score: Float, beam: Int, token: Int)] = []
            for bi in 0..<beams.count {
                let row = UnsafeMutableBufferPointer(start: logp.data + bi * v, count: v)
                for p in processors { p.process(row, generated: beams[bi], sample: 0) }
                for tok in 0..<v { candidates.append((scores[bi] + row[tok], bi, tok)) }
            }
            candidates.sort { $0.score > $1.score || ($0.score == $1.score && ($0.beam, $0.token) < ($1.beam, $1.token)) }
            let top = candidates.prefix(2 * k)
            let last = step == cfg.maxNewTokens - 1
            let norm = pow(Float(step + 1), cfg.lengthPenalty)
            var running: [(score: Float, beam: Int, token: Int)] = []
            for (rank, c) in top.enumerated() {
                if c.token == eosId || last {
                    // Only the first k continuations may finish; the rest are spares that keep k beams alive.
                    if rank < k { finished.append((c.score / norm, beams[c.beam] + [c.token])) }
                } else if running.count < k {
                    running.append(c)
                }
            }
            // Among equal scores the earlier hypothesis stays ahead.
            finished = finished.enumerated().sorted { a, b in
                a.element.score > b.element.score || (a.element.score == b.element.score && a.offset < b.offset)
            }.map(\.element)
            if finished.count > k { finished.removeLast(finished.count - k) }
            if last || running.isEmpty { break }
            if finished.count == k, let worst = finished.last?.score, running[0].score / norm <= worst { break }
            try cache.select(running.map(\.beam))
            beams = running.map { beams[$0.beam] + [$0.token] }
            scores = running.map(\.score)
            let e = try model.languageModel.embedTokens(running.map(\.token)).reshaped([running.count, 1, -1])
            let pos = Array(repeating: t + step, count: running.count)
            logits = try lastLogits(model.languageModel.hidden(e, positions: pos, keyMask: nil, cache: cache))
        }
        return finished.first?.ids ?? beams[0]
    }
}

/// Token choice from one row of logits.
public enum Sampling {
    /// Index of the largest value (the first on ties, like torch.argmax).
    public static func argmax(_ row: UnsafeMutableBufferPointer<Float>) -> Int {
        var best = row[0], bi = 0
        for i in 1..<row.count where row[i] > best { best = row[i]; bi = i }
        return bi
    }

    /// Temperature, top-k and top-p (nucleus) sampling with a seeded generator.
    public static func sample(_ row: UnsafeMutableBufferPointer<Float>, _ cfg: GenerationConfig, rng: inout SeededRNG) -> Int {
        var idx = Array(0..<row.count)
        idx.sort { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
        if cfg.topK > 0 && cfg.topK < idx.count { idx.removeLast(idx.count - cfg.topK) }
        let m = row[idx[0]]
        var probs = idx.map { Double(Foundation.exp((row[$0] - m) / cfg.temperature)) }
        let total = probs.reduce(0, +)
        probs = probs.map { $0 / total }
        if cfg.topP < 1 {
            var acc = 0.0, keep = 0
            for p in probs { acc += p; keep += 1; if acc >= Double(cfg.topP) { break } }
            probs.removeLast(probs.count - keep); idx.removeLast(idx.count - keep)
            let z = probs.reduce(0, +)
            probs = probs.map { $0 / z }
        }
        let u = rng.nextDouble()
        var acc = 0.0
        for (i, p) in probs.enumerated() { acc += p; if u < acc { return idx[i] } }
        return idx[idx.count - 1]
    }
}
