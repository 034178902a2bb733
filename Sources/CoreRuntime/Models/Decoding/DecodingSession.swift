import Foundation

/// The sequences being decoded, as rows of one batch with one key/value cache: `rows` main rows
/// and, for every extra stream, one more row per main row (stream-major: physical row
/// `stream * rows + r`). Every step appends one position to every row, so rows share the cache's
/// slot count; a row's real positions are those its key mask marks (prompts are left-padded, and a
/// row rebuilt after a rollback is left-padded again).
final class DecodingSession {
    struct Output {
        /// `[physical rows, V]`: logits of each row's newest position.
        var logits: Tensor
        /// Block input hidden states `[physical rows, D]` at the newest position.
        var hidden: [Int: Tensor]
        /// Attention probabilities `[physical rows, H, queries, slots]`.
        var attention: [Int: Tensor]
        /// Per physical row x slot: real key positions when the output was made.
        var mask: [Bool]
        var slots: Int
        /// Queries per row (the padded prompt length at a prefill, 1 afterwards).
        var queries: Int
    }

    let model: LlavaModel
    /// Streams including the main one.
    let streams: Int
    let hiddenLayers: Set<Int>
    let attentionLayers: Set<Int>
    private(set) var rows = 0
    private(set) var cache: KVCache
    private(set) var slots = 0
    private var mask: [Bool] = []
    private var nextPosition: [Int] = []
    /// Sequence positions computed so far (each row of a prefill counts once): forward passes.
    private(set) var passes = 0

    init(model: LlavaModel, streams: Int, hiddenLayers: Set<Int>, attentionLayers: Set<Int>, reserve: Int) {
        self.model = model; self.streams = streams
        self.hiddenLayers = hiddenLayers; self.attentionLayers = attentionLayers
        cache = KVCache(layers: model.config.text.numHiddenLayers, capacity: reserve)
    }

    var physicalRows: Int { rows * streams }

    /// Embeds and runs every stream's prompts (each `LlavaInputs` has the same number of samples) as
    /// one left-padded batch, each main row followed by its `generated` tokens (the same for its
    /// stream rows; every row the same count). Generated ids are embedded as tokens, so an id that
    /// equals the image placeholder is not spliced.
    func prefill(_ inputs: [LlavaInputs], generated: [[Int]] = []) throws -> Output {
        precondition(inputs.count == streams)
        let n = inputs[0].ids.count
        guard inputs.allSatisfy({ $0.ids.count == n }) else { throw HalluError("decoding: every stream needs one prompt per sample") }
        let extra = generated.first?.count ?? 0
        guard generated.isEmpty || (generated.count == n && generated.allSatisfy { $0.count == extra }) else {
            throw HalluError("decoding: a rebuilt batch needs the same number of generated tokens for each of its \(n) rows")
        }
        let images = inputs.compactMap(\.pixels)
        let pixels = images.isEmpty ? nil : images.count == 1 ? images[0] : try Tensor.concat(images, axis: 0)
        var (x, layout) = try model.embed(LlavaInputs(ids: inputs.flatMap(\.ids), pixels: pixels), leftPad: true)
        rows = n
        slots = layout.length
        mask = layout.keyMask
        if extra > 0 {
            let tokens = Array((0..<streams).map { _ in generated.joined() }.joined())
            let e = try model.languageModel.embedTokens(tokens).reshaped([physicalRows, extra, -1])
            x = try Tensor.concat([x, e], axis: 1)
            widenMask(by: extra)
            layout.lengths = layout.lengths.map { $0 + extra }
        }
        var positions: [Int] = []
        positions.reserveCapacity(physicalRows * slots)
        for r in 0..<physicalRows {
            let pad = slots - layout.lengths[r]
            positions += (0..<slots).map { max(0, $0 - pad) }
        }
        nextPosition = layout.lengths
        passes += physicalRows
        return try forward(x, positions: positions, queries: slots)
    }

    /// Appends one token per main row (its stream rows get the same token).
    func step(_ tokens: [Int]) throws -> Output {
        precondition(tokens.count == rows)
        let p = physicalRows
        let e = try model.languageModel.embedTokens(Array((0..<streams).map { _ in tokens }.joined())).reshaped([p, 1, -1])
        let positions = nextPosition
        nextPosition = nextPosition.map { $0 + 1 }
        widenMask(by: 1)
        passes += p
        return try forward(e, positions: positions, queries: 1)
    }

    /// Keeps main rows `index` in that order (repeats allowed); stream rows follow their main row.
    func select(_ index: [Int]) throws {
        let physical = (0..<streams).flatMap { s in index.map { s * rows + $0 } }
        try cache.select(physical)
        var m: [Bool] = []
        m.reserveCapacity(physical.count * slots)
        for r in physical { m += mask[(r * slots)..<((r + 1) * slots)] }
        mask = m
        nextPosition = physical.map { nextPosition[$0] }
        rows = index.count
    }

    /// Recomputes main rows `index` (and their stream rows) from whole sequences: `prompts[s]` holds
    /// stream s's prompt for each of those rows, `generated` each row's tokens after it. The rebuilt
    /// rows are right-aligned in the cache, with the slots before them masked out. Returns the
    /// output of those physical rows only (stream-major over `index`).
    func rebuild(_ index: [Int], prompts: [LlavaInputs], generated: [[Int]]) throws -> Output {
        let sub = DecodingSession(model: model, streams: streams, hiddenLayers: hiddenLayers, attentionLayers: attentionLayers,
                                  reserve: 0)
        let out = try sub.prefill(prompts, generated: generated)
        guard sub.slots <= slots else { throw HalluError("decoding: a rebuilt row (\(sub.slots) positions) is longer than the batch (\(slots))") }
        let offset = slots - sub.slots
        let physical = (0..<streams).flatMap { s in index.map { s * rows + $0 } }
        try cache.overwrite(rows: physical, from: sub.cache, atSlot: offset)
        for (i, r) in physical.enumerated() {
            for j in 0..<slots { mask[r * slots + j] = j >= offset && sub.mask[i * sub.slots + j - offset] }
            nextPosition[r] = sub.nextPosition[i]
        }
        passes += sub.passes
        var shifted = out
        shifted.mask = physical.flatMap { Array(mask[($0 * slots)..<(($0 + 1) * slots)]) }
        shifted.slots = slots
        // The rebuilt rows' attention is over their own slots; pad the key axis to the batch's.
        if offset > 0 {
            for (layer, a) in out.attention {
                let (n, h, q, k) = (a.shape[0], a.shape[1], a.shape[2], a.shape[3])
                let wide = Tensor.zeros([n, h, q, slots])
                for i in 0..<(n * h * q) { (wide.data + i * slots + offset).update(from: a.data + i * k, count: k) }
                shifted.attention[layer] = wide
            }
        }
        return shifted
    }

    /// One pass per candidate: candidate j of every main row (`tokens[r][j]`, the same count for
    /// every row; stream rows get their main row's) appended as the next position, then taken back
    /// out of the cache. Each pass keeps its output and the keys and values it computed, so
    /// `advance(reusing:)` can append a speculated token without running it again.
    func speculate(_ tokens: [[Int]]) throws -> [SpeculativePass] {
        precondition(tokens.count == rows)
        let n = tokens.first?.count ?? 0
        let (savedMask, savedPositions, savedSlots) = (mask, nextPosition, slots)
        var out: [SpeculativePass] = []
        out.reserveCapacity(n)
        for j in 0..<n {
            let o = try step(tokens.map { $0[j] })
            out.append(SpeculativePass(tokens: tokens.map { $0[j] }, output: o, cached: try cache.position(slots - 1)))
            try cache.truncate(to: savedSlots)
            (mask, nextPosition, slots) = (savedMask, savedPositions, savedSlots)
        }
        return out
    }

    /// What `step` would do after `select(parents)` followed by appending `choices[i]` (candidate
    /// `choices[i].candidate` of main row `parents[i]` in `passes`), without a forward pass: the
    /// cache gets the keys and values those passes computed and the output is theirs.
    func advance(reusing passes: [SpeculativePass], parents: [Int], candidates: [Int]) throws -> Output {
        precondition(parents.count == candidates.count)
        let before = rows
        let source = (0..<streams).flatMap { s in zip(parents, candidates).map { (p, j) in (j, s * before + p) } }
        try select(parents)
        for layer in 0..<model.config.text.numHiddenLayers {
            let k = try gather(source) { passes[$0].cached[layer].keys }
            let v = try gather(source) { passes[$0].cached[layer].values }
            _ = try cache.append(layer: layer, keys: k, values: v)
        }
        nextPosition = nextPosition.map { $0 + 1 }
        widenMask(by: 1)
        let first = passes[0].output
        return Output(logits: try gather(source) { passes[$0].output.logits },
                      hidden: try first.hidden.keys.reduce(into: [:]) { d, l in d[l] = try gather(source) { passes[$0].output.hidden[l]! } },
                      attention: try first.attention.keys.reduce(into: [:]) { d, l in d[l] = try gather(source) { passes[$0].output.attention[l]! } },
                      mask: mask, slots: slots, queries: 1)
    }

    /// Widens every physical row's attention mask by `k` slots at the end: tokens just appended,
    /// which every row sees.
    private func widenMask(by k: Int) {
        let p = physicalRows
        var grown = [Bool](repeating: true, count: p * (slots + k))
        for r in 0..<p { for j in 0..<slots { grown[r * (slots + k) + j] = mask[r * slots + j] } }
        mask = grown
        slots += k
    }

    /// Rows `(pass, physical row)` of per-pass tensors, stacked along the first axis.
    private func gather(_ source: [(Int, Int)], _ tensor: (Int) -> Tensor) throws -> Tensor {
        let n = Set(source.map(\.0)).max().map { $0 + 1 } ?? 0
        let all = try Tensor.concat((0..<n).map(tensor), axis: 0)
        let per = tensor(0).shape[0]
        return try all.indexSelect(source.map { $0.0 * per + $0.1 })
    }

    private func forward(_ x: Tensor, positions: [Int], queries: Int) throws -> Output {
        let capture = hiddenLayers.isEmpty && attentionLayers.isEmpty
            ? nil : LayerCapture(hiddenLayers: hiddenLayers, attentionLayers: attentionLayers)
        let h = try model.languageModel.hidden(x, positions: positions, keyMask: mask, cache: cache, capture: capture)
        let (b, t, d) = (h.shape[0], h.shape[1], h.shape[2])
        let last = try h.reshaped([b * t, d]).indexSelect((0..<b).map { $0 * t + t - 1 })
        return Output(logits: try model.languageModel.logits(last), hidden: capture?.hidden ?? [:],
                      attention: capture?.attention ?? [:], mask: mask, slots: slots, queries: queries)
    }
}

/// One speculative pass: the candidate appended to each main row, the pass's output, and the keys
/// and values it computed (per layer `[physical rows, 1, Hkv, Dh]`).
struct SpeculativePass {
    var tokens: [Int]
    var output: DecodingSession.Output
    var cached: [(keys: Tensor, values: Tensor)]
}

extension DecodingSession.Output {
    /// Row `r`'s attention at `layer`, over its real keys (and, for a prefill, its real queries).
    func attentionReadout(layer: Int, row r: Int) throws -> AttentionReadout {
        guard let a = attention[layer] else { throw HalluError("decoding: attention of layer \(layer) was not requested in DecodingNeeds") }
        let (h, q, k) = (a.shape[1], a.shape[2], a.shape[3])
        let real = (0..<k).filter { mask[r * slots + $0] }
        // At a prefill the queries are the padded positions: keep the real ones.
        let queryRows = q == 1 ? [0] : real.map { $0 - (k - q) }.filter { $0 >= 0 }
        var probs: [Float] = []
        probs.reserveCapacity(h * queryRows.count * real.count)
        let base = a.data + r * h * q * k
        for head in 0..<h {
            for qi in queryRows {
                let row = base + (head * q + qi) * k
                for j in real { probs.append(row[j]) }
            }
        }
        return AttentionReadout(heads: h, queries: queryRows.count, keys: real.count, probs: probs)
    }
}
