import Foundation

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

    /// The mode these settings select.
    public var mode: DecodingMode { numBeams > 1 ? .beam(numBeams) : temperature > 0 ? .sampling : .greedy }
}

/// What a generation cost: forward passes (one per sequence position computed: a prompt counts once,
/// every decoding step once per row, extra streams and speculative candidates included) and the
/// tokens it returned.
public struct GenerationStats: Equatable {
    public var forwardPasses = 0
    public var generatedTokens = 0
    public init() {}
    public static func += (a: inout GenerationStats, b: GenerationStats) {
        a.forwardPasses += b.forwardPasses; a.generatedTokens += b.generatedTokens
    }
}

/// Autoregressive decoding with a KV cache over a left-padded batch: greedy, sampling and beam
/// search, each with decoding hooks (`DecodingHook`).
public struct Generator {
    public let model: LlavaModel
    public var hooks: [DecodingHook] = []

    public init(model: LlavaModel, hooks: [DecodingHook] = []) {
        self.model = model
        self.hooks = hooks
    }

    /// Generated ids per sample (EOS included when produced).
    public func generate(_ inputs: LlavaInputs, _ cfg: GenerationConfig) throws -> [[Int]] {
        try generateWithStats(inputs, cfg).ids
    }

    /// Generated ids per sample and what they cost.
    public func generateWithStats(_ inputs: LlavaInputs, _ cfg: GenerationConfig) throws -> (ids: [[Int]], stats: GenerationStats) {
        try cfg.check(for: model.config, prompts: inputs.ids)
        return try withNoGrad {
            let run = try DecodingRun(model: model, hooks: hooks, inputs: inputs, cfg: cfg)
            // Greedy decoding with a hook that rolls back runs the beam loop with one beam: it picks the
            // same tokens (a top token that is EOS ends the search) and keeps the history to go back to.
            let beams = cfg.numBeams > 1 || (run.rollback && cfg.mode == .greedy)
            let ids = beams ? try run.beamSearch() : try run.sampleOrGreedy()
            var stats = GenerationStats()
            stats.forwardPasses = run.session.passes
            stats.generatedTokens = ids.reduce(0) { $0 + $1.count }
            return (ids, stats)
        }
    }
}

/// One batch being decoded: the session, the hooks with their needs, and the loops of each mode.
struct DecodingRun {
    let model: LlavaModel
    let hooks: [DecodingHook]
    let cfg: GenerationConfig
    let inputs: LlavaInputs
    let eosId: Int
    let needs: [DecodingNeeds]
    let streamInputs: [LlavaInputs]
    let session: DecodingSession
    let rollback: Bool
    /// The speculative passes hooks ran at the current step.
    let speculations = SpeculationLog()

    final class SpeculationLog { var passes: [Speculation] = [] }

    init(model: LlavaModel, hooks: [DecodingHook], inputs: LlavaInputs, cfg: GenerationConfig) throws {
        self.model = model; self.hooks = hooks; self.inputs = inputs; self.cfg = cfg
        eosId = cfg.eosTokenId ?? model.config.text.eosTokenId ?? 2
        let img = model.config.imageTokenIndex
        let lengths = inputs.ids.map { $0.count + ($0.contains(img) ? model.imageTokens - 1 : 0) }
        let spans: [Range<Int>?] = inputs.ids.map { ids in ids.firstIndex(of: img).map { $0..<($0 + model.imageTokens) } }
        let context = DecodingContext(model: model, config: cfg, mode: cfg.mode, inputs: inputs, promptLengths: lengths, imageSpans: spans)
        needs = try hooks.map { try $0.begin(context) }
        streamInputs = try [inputs] + needs.flatMap { n in try n.streams.map { try $0.inputs(inputs) } }
        let layers = model.config.text.numHiddenLayers
        for (hook, n) in zip(hooks, needs) {
            for l in n.hiddenLayers + n.attentionLayers where l < 0 || l >= layers {
                throw HalluError("\(hook.name): layer \(l) is outside the decoder's \(layers) layers")
            }
        }
        rollback = needs.contains { $0.rollback }
        let longest = lengths.max() ?? 0
        session = DecodingSession(model: model, streams: streamInputs.count,
                                  hiddenLayers: Set(needs.flatMap(\.hiddenLayers)), attentionLayers: Set(needs.flatMap(\.attentionLayers)),
                                  reserve: longest + cfg.maxNewTokens)
    }

    /// Calls every hook on a step (each sees its own streams).
    func adjust(_ step: DecodingStep) throws {
        var base = 0
        for (hook, n) in zip(hooks, needs) {
            step.streamBase = base
            try hook.adjust(step)
            base += n.streams.count
        }
    }

    /// A step over the session's main rows `rows`; hooks may speculate on it.
    func makeStep(_ output: DecodingSession.Output, rows: [Int], sample: [Int], beam: [Int], parent: [Int?],
                  generated: [[Int]], stride: Int) throws -> DecodingStep {
        let logits = try output.logits.indexSelect(rows)
        let step = DecodingStep(mode: cfg.mode, logits: logits, isRetry: false, rowSample: sample, rowBeam: beam, rowParent: parent,
                                rowGenerated: generated, prompts: inputs.ids, output: output, physical: rows, streamStride: stride)
        speculations.passes = []
        step.speculator = { [session, speculations] candidates in
            let s = try Speculation(passes: try session.speculate(candidates), physical: rows)
            speculations.passes.append(s)
            return s
        }
        return step
    }

    /// Keeps main rows `parents` (in that order) and appends `tokens` to them: from a speculative
    /// pass of this step when one holds every token on its parent row, else with a forward pass.
    func advance(parents: [Int], tokens: [Int], reorder: Bool) throws -> DecodingSession.Output {
        for spec in speculations.passes {
            let found = zip(parents, tokens).map { spec.candidate(row: $0, token: $1) }
            if found.allSatisfy({ $0 != nil }) {
                let out = try session.advance(reusing: spec.passes, parents: parents, candidates: found.map { $0! })
                speculations.passes = []
                return out
            }
        }
        speculations.passes = []
        if reorder { try session.select(parents) }
        return try session.step(tokens)
    }

    // MARK: greedy and sampling

    func sampleOrGreedy() throws -> [[Int]] {
        let b = inputs.ids.count
        var out = Array(repeating: [Int](), count: b)
        guard b > 0 else { return out }
        var output = try session.prefill(streamInputs)
        var live = Array(0..<b)                  // sample of each row
        var parent: [Int?] = Array(repeating: nil, count: b)
        var rng = SeededRNG(seed: cfg.seed)
        for n in 0..<cfg.maxNewTokens {
            let rows = live.count
            let step = try makeStep(output, rows: Array(0..<rows), sample: live, beam: Array(repeating: 0, count: rows),
                                    parent: parent, generated: live.map { out[$0] }, stride: rows)
            try adjust(step)
            var next = [Int](repeating: eosId, count: rows)
            var keep: [Int] = []
            for r in 0..<rows {
                let row = step.row(r)
                next[r] = cfg.temperature > 0 ? Sampling.sample(row, cfg, rng: &rng) : Sampling.argmax(row)
                out[live[r]].append(next[r])
                if next[r] != eosId { keep.append(r) }
            }
            // At the length limit no row needs the logits of its last token.
            if keep.isEmpty || n == cfg.maxNewTokens - 1 { break }
            // Finished rows leave the batch.
            live = keep.map { live[$0] }
            parent = keep.map { Optional($0) }
            output = try advance(parents: keep, tokens: keep.map { next[$0] }, reorder: keep.count < rows)
        }
        return out
    }

    // MARK: beam search

    /// One sample's beam search: running beams with their summed log-probabilities, and the
    /// finished hypotheses (score, ids), best first.
    struct BeamState {
        var beams: [[Int]]
        var scores: [Float]
        var finished: [(score: Float, ids: [Int])] = []
        var step = 0
        var done = false
        var result: [Int] = []
    }

    /// Beam search over every sample at once, with the scoring and stopping rule of transformers'
    /// `generate` (`early_stopping=False`): each step ranks the 2k best continuations of a sample's k
    /// running beams; those among the first k that end in EOS (or reach `maxNewTokens`) become
    /// finished hypotheses scored by sum log-prob / generated length^lengthPenalty (EOS counted), the
    /// best k that do not end keep running. A sample stops when k hypotheses are finished and its best
    /// running beam's score over its current length cannot beat the worst of them, or at
    /// `maxNewTokens`; its rows then leave the batch.
    func beamSearch() throws -> [[Int]] {
        let k = cfg.numBeams, b = inputs.ids.count
        guard cfg.maxNewTokens > 0, b > 0 else { return Array(repeating: [], count: b) }
        var output = try session.prefill(streamInputs)
        // Every sample's prompt row becomes k beams; only the first is live at the start, so the k
        // copies of the prompt do not all propose the same tokens.
        let expand = (0..<b).flatMap { Array(repeating: $0, count: k) }
        try session.select(expand)
        output = try rows(output, expand)
        var states = (0..<b).map { _ in
            BeamState(beams: Array(repeating: [], count: k), scores: [0] + Array(repeating: -Float.infinity, count: k - 1))
        }
        var history: [[BeamState]] = Array(repeating: [], count: b)
        var live = Array(0..<b)                       // samples with rows, in row order (k rows each)
        var parent: [Int?] = Array(repeating: nil, count: b * k)
        while !live.isEmpty {
            let rowCount = live.count * k
            let sampleOf = live.flatMap { Array(repeating: $0, count: k) }
            let step = try makeStep(output, rows: Array(0..<rowCount), sample: sampleOf, beam: (0..<rowCount).map { $0 % k },
                                    parent: parent, generated: (0..<rowCount).map { states[sampleOf[$0]].beams[$0 % k] },
                                    stride: rowCount)
            step.allowRollback = rollback
            if rollback { for s in live { history[s].append(states[s]) } }
            try adjust(step)
            var logits = step.logits
            var retried: [Int: Int] = [:]
            if !step.rollbacks.isEmpty {
                // The rebuilt rows have a new cache: nothing speculated on them can be reused.
                speculations.passes = []
                (logits, retried) = try retry(step, live: live, states: &states, history: &history)
            }
            let logp = logits.logSoftmax()
            let v = logp.shape[1]
            var nextRows: [Int] = [], nextTokens: [Int] = [], nextLive: [Int] = []
            for (i, s) in live.enumerated() {
                var st = states[s]
                let running = Self.beamStep(&st, logp: logp.data + i * k * v, vocab: v, k: k, eos: eosId,
                                            maxNewTokens: cfg.maxNewTokens, lengthPenalty: cfg.lengthPenalty)
                // A retried step's finished hypotheses stay with the state it restored, so a later
                // rollback to the same length keeps them.
                if let length = retried[s] { history[s][length].finished = st.finished }
                if st.done {
                    st.result = st.finished.first?.ids ?? st.beams[0]
                } else {
                    nextRows += running.map { i * k + $0.beam }
                    nextTokens += running.map(\.token)
                    nextLive.append(s)
                    st.beams = running.map { st.beams[$0.beam] + [$0.token] }
                    st.scores = running.map(\.score)
                    st.step += 1
                }
                states[s] = st
            }
            live = nextLive
            if live.isEmpty { break }
            parent = nextRows.map { Optional($0) }
            output = try advance(parents: nextRows, tokens: nextTokens, reorder: true)
        }
        return states.map(\.result)
    }

    /// Ranks one sample's continuations (`logp` holds its k rows) and updates its finished
    /// hypotheses; returns the running continuations, or marks the state done.
    static func beamStep(_ st: inout BeamState, logp: UnsafePointer<Float>, vocab v: Int, k: Int, eos: Int,
                         maxNewTokens: Int, lengthPenalty: Float) -> [(score: Float, beam: Int, token: Int)] {
        var candidates: [(score: Float, beam: Int, token: Int)] = []
        for bi in 0..<k {
            let row = logp + bi * v
            for tok in Sampling.topIndices(row, count: v, n: 2 * k) { candidates.append((st.scores[bi] + row[tok], bi, tok)) }
        }
        candidates.sort { $0.score > $1.score || ($0.score == $1.score && ($0.beam, $0.token) < ($1.beam, $1.token)) }
        let last = st.step == maxNewTokens - 1
        let norm = pow(Float(st.step + 1), lengthPenalty)
        var running: [(score: Float, beam: Int, token: Int)] = []
        for (rank, c) in candidates.prefix(2 * k).enumerated() {
            if c.token == eos || last {
                // Only the first k continuations may finish; the rest are spares that keep k beams alive.
                if rank < k { st.finished.append((c.score / norm, st.beams[c.beam] + [c.token])) }
            } else if running.count < k {
                running.append(c)
            }
        }
        // Among equal scores the earlier hypothesis stays ahead.
        st.finished = st.finished.enumerated().sorted { a, b in
            a.element.score > b.element.score || (a.element.score == b.element.score && a.offset < b.offset)
        }.map(\.element)
        if st.finished.count > k { st.finished.removeLast(st.finished.count - k) }
        if last || running.isEmpty { st.done = true; return [] }
        if st.finished.count == k, let worst = st.finished.last?.score, running[0].score / norm <= worst { st.done = true; return [] }
        return running
    }

    /// The output restricted to main rows `index` (stream rows follow), as after `session.select`.
    func rows(_ output: DecodingSession.Output, _ index: [Int]) throws -> DecodingSession.Output {
        let streams = session.streams
        let before = output.logits.shape[0] / streams
        let physical = (0..<streams).flatMap { s in index.map { s * before + $0 } }
        var o = output
        o.logits = try output.logits.indexSelect(physical)
        o.hidden = try output.hidden.mapValues { try $0.indexSelect(physical) }
        o.attention = try output.attention.mapValues { try $0.indexSelect(physical) }
        var m: [Bool] = []
        for r in physical { m += output.mask[(r * output.slots)..<((r + 1) * output.slots)] }
        o.mask = m
        return o
    }

    /// Restores the samples whose rollback a hook asked for, rebuilds their rows, lets the hooks see
    /// them again, and returns the step's logits with those rows replaced and the length each
    /// retried sample went back to.
    func retry(_ step: DecodingStep, live: [Int], states: inout [BeamState], history: inout [[BeamState]]) throws -> (Tensor, [Int: Int]) {
        let k = cfg.numBeams
        let logits = step.logits
        var seen: [Int: Int] = [:]
        for (s, length) in step.rollbacks where seen[s] == nil {
            seen[s] = length
            guard let i = live.firstIndex(of: s), length >= 0, length < history[s].count else {
                throw HalluError("decoding: cannot roll sample \(s) back to \(length) tokens (it has \(states[s].step))")
            }
            let restored = history[s][length]
            history[s].removeLast(history[s].count - length - 1)
            states[s] = restored
            let index = Array((i * k)..<((i + 1) * k))
            let prompts = try streamInputs.map { stream in
                LlavaInputs(ids: Array(repeating: stream.ids[s], count: k), pixels: try Self.pixels(of: s, in: stream, model: model, repeat: k))
            }
            let out = try session.rebuild(index, prompts: prompts, generated: restored.beams)
            let retryStep = DecodingStep(mode: cfg.mode, logits: try out.logits.slice(axis: 0, 0..<k), isRetry: true,
                                         rowSample: Array(repeating: s, count: k), rowBeam: Array(0..<k),
                                         rowParent: Array(repeating: nil, count: k), rowGenerated: restored.beams,
                                         prompts: inputs.ids, output: out, physical: Array(0..<k), streamStride: k)
            try adjust(retryStep)
            let v = logits.shape[1]
            (logits.data + i * k * v).update(from: retryStep.logits.data, count: k * v)
        }
        return (logits, seen)
    }

    /// Sample `s`'s image from a stream's inputs, repeated `n` times (nil when it has none).
    static func pixels(of s: Int, in inputs: LlavaInputs, model: LlavaModel, repeat n: Int) throws -> Tensor? {
        let img = model.config.imageTokenIndex
        guard let p = inputs.pixels, inputs.ids[s].contains(img) else { return nil }
        let j = inputs.ids[..<s].filter { $0.contains(img) }.count
        let one = try p.slice(axis: 0, j..<(j + 1))
        return try Tensor.concat(Array(repeating: one, count: n), axis: 0)
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

    /// Indices of the `n` largest values, largest first, lower index first among equal values
    /// (NaN never ranks).
    public static func topIndices(_ row: UnsafePointer<Float>, count: Int, n: Int) -> [Int] {
        var top: [Int] = []
        top.reserveCapacity(n + 1)
        for i in 0..<count {
            let x = row[i]
            if top.count == n, let last = top.last, !(x > row[last]) { continue }
            if x.isNaN { continue }
            var j = top.count
            while j > 0 && x > row[top[j - 1]] { j -= 1 }
            top.insert(i, at: j)
            if top.count > n { top.removeLast() }
        }
        return top
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
