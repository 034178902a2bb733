import Foundation

/// Keys and values of every decoder layer during generation, in preallocated buffers that grow
/// by doubling, so a decoding step writes only its new positions (no re-concatenation of the
/// cache). For inference only: buffers are updated in place.
public final class KVCache {
    /// Per layer `[B, capacity, Hkv, Dh]` buffers (the projections' layout); positions
    /// `0..<length` are valid.
    public private(set) var keys: [Tensor?]
    public private(set) var values: [Tensor?]
    private var lengths: [Int]
    /// Positions to allocate room for on first use (grows beyond as needed).
    public var reservedLength: Int

    /// A cache for `layers` decoder layers with room for `capacity` positions up front.
    public init(layers: Int, capacity: Int = 0) {
        keys = Array(repeating: nil, count: layers); values = keys
        lengths = Array(repeating: 0, count: layers)
        reservedLength = capacity
    }

    /// Number of cached positions.
    public var length: Int { lengths.first ?? 0 }

    /// Appends `k, v [B, T, Hkv, Dh]` to layer `index`; returns the buffers and the new length.
    func append(layer index: Int, keys k: Tensor, values v: Tensor) throws -> (keys: Tensor, values: Tensor, length: Int) {
        let (b, t, hkv, dh) = (k.shape[0], k.shape[1], k.shape[2], k.shape[3])
        let len = lengths[index]
        if let kb = keys[index], kb.shape[0] != b || kb.shape[2] != hkv || kb.shape[3] != dh {
            throw HalluError("kv cache: keys \(k.shape) do not match the cached \(kb.shape)")
        }
        let needed = len + t
        if keys[index] == nil || keys[index]!.shape[1] < needed {
            let capacity = Swift.max(needed, reservedLength, 2 * (keys[index]?.shape[1] ?? 0))
            keys[index] = grow(keys[index], batch: b, capacity: capacity, hkv: hkv, dh: dh, length: len)
            values[index] = grow(values[index], batch: b, capacity: capacity, hkv: hkv, dh: dh, length: len)
        }
        let kb = keys[index]!, vb = values[index]!
        let row = hkv * dh, cap = kb.shape[1]
        for s in 0..<b {
            (kb.data + (s * cap + len) * row).update(from: k.data + s * t * row, count: t * row)
            (vb.data + (s * cap + len) * row).update(from: v.data + s * t * row, count: t * row)
        }
        lengths[index] = needed
        return (kb, vb, needed)
    }

    private func grow(_ old: Tensor?, batch: Int, capacity: Int, hkv: Int, dh: Int, length: Int) -> Tensor {
        let fresh = Tensor(uninitializedShape: [batch, capacity, hkv, dh])
        if let old, length > 0 {
            let row = hkv * dh, oldCap = old.shape[1]
            for s in 0..<batch { (fresh.data + s * capacity * row).update(from: old.data + s * oldCap * row, count: length * row) }
        }
        return fresh
    }

    /// Writes rows `rows` with the valid positions of `other`'s rows (in order) placed from slot
    /// `atSlot` on; slots before it keep stale values (the caller masks them out). The cached length
    /// stays the same, and `atSlot + other.length` must not exceed it.
    func overwrite(rows: [Int], from other: KVCache, atSlot offset: Int) throws {
        for i in keys.indices {
            guard let kb = keys[i], let vb = values[i], let ok = other.keys[i], let ov = other.values[i] else { continue }
            let (b, cap, hkv, dh) = (kb.shape[0], kb.shape[1], kb.shape[2], kb.shape[3])
            let n = other.lengths[i], ocap = ok.shape[1], row = hkv * dh
            guard ok.shape[0] == rows.count, ok.shape[2] == hkv, ok.shape[3] == dh, offset >= 0, offset + n <= lengths[i] else {
                throw HalluError("kv cache: cannot place \(ok.shape) at slot \(offset) of \(kb.shape) (length \(lengths[i]))")
            }
            for (src, dst) in rows.enumerated() {
                guard dst >= 0 && dst < b else { throw HalluError("kv cache: row \(dst) out of range for batch \(b)") }
                (kb.data + (dst * cap + offset) * row).update(from: ok.data + src * ocap * row, count: n * row)
                (vb.data + (dst * cap + offset) * row).update(from: ov.data + src * ocap * row, count: n * row)
            }
        }
    }

    /// Drops the positions from `length` on (decoding-time speculative passes append one position
    /// and take it back). The buffers keep their size.
    func truncate(to length: Int) throws {
        guard length >= 0, lengths.allSatisfy({ length <= $0 }) else {
            throw HalluError("kv cache: cannot truncate \(self.length) positions to \(length)")
        }
        lengths = lengths.map { _ in length }
    }

    /// Copies of every layer's keys and values at position `slot`: `[B, 1, Hkv, Dh]` each, ready for
    /// `append(layer:keys:values:)`.
    func position(_ slot: Int) throws -> [(keys: Tensor, values: Tensor)] {
        try keys.indices.map { i in
            guard let kb = keys[i], let vb = values[i], slot >= 0, slot < lengths[i] else {
                throw HalluError("kv cache: position \(slot) is not cached in layer \(i)")
            }
            let (b, cap, hkv, dh) = (kb.shape[0], kb.shape[1], kb.shape[2], kb.shape[3])
            let row = hkv * dh
            let k = Tensor(uninitializedShape: [b, 1, hkv, dh]), v = Tensor(uninitializedShape: [b, 1, hkv, dh])
            for s in 0..<b {
                (k.data + s * row).update(from: kb.data + (s * cap + slot) * row, count: row)
                (v.data + s * row).update(from: vb.data + (s * cap + slot) * row, count: row)
            }
            return (k, v)
        }
    }

    /// Keeps only the batch rows `index`, in that order (beam search reorders beams).
    public func select(_ index: [Int]) throws {
        for i in keys.indices {
            guard let kb = keys[i], let vb = values[i] else { continue }
            let (b, cap, hkv, dh) = (kb.shape[0], kb.shape[1], kb.shape[2], kb.shape[3])
            for j in index where j < 0 || j >= b { throw HalluError("kv cache: row \(j) out of range for batch \(b)") }
            let row = hkv * dh, used = lengths[i] * row
            let nk = Tensor(uninitializedShape: [index.count, cap, hkv, dh]), nv = Tensor(uninitializedShape: [index.count, cap, hkv, dh])
            for (dst, src) in index.enumerated() {
                (nk.data + dst * cap * row).update(from: kb.data + src * cap * row, count: used)
                (nv.data + dst * cap * row).update(from: vb.data + src * cap * row, count: used)
            }
            keys[i] = nk; values[i] = nv
        }
    }
}

/// The Llama decoder: token embeddings, pre-norm blocks with rotary grouped-query attention and a
/// SwiGLU MLP, a final RMSNorm, and the LM head (tied to the embeddings when configured).
public final class LlamaModel: Module {
    public let config: LlavaTextConfig
    public let embedTokens: Embedding
    let layers: ModuleList<LlamaDecoderLayer>
    let norm: RMSNorm
    public let lmHead: Linear?

    public init(_ c: LlavaTextConfig, rng: inout SeededRNG) {
        config = c
        embedTokens = Embedding(c.vocabSize, c.hiddenSize, rng: &rng)
        layers = ModuleList((0..<c.numHiddenLayers).map { _ in LlamaDecoderLayer(c, rng: &rng) })
        norm = RMSNorm(c.hiddenSize, eps: Float(c.rmsNormEps))
        lmHead = c.tieWordEmbeddings ? nil : Linear(c.hiddenSize, c.vocabSize, bias: false, rng: &rng)
    }

    /// Whether training rebuilds the blocks' cheap activations in backward (the norms' outputs, the
    /// MLP's gated product, the attention probabilities) instead of keeping them from the forward
    /// pass: about a third less activation memory for one more attention-score pass. On by default;
    /// gradients are the same bit for bit either way.
    public var recomputeActivations: Bool {
        get { layers.items.first?.recompute ?? true }
        set { for layer in layers.items { layer.recompute = newValue } }
    }

    /// The decoder stack, named as in Hugging Face's `model.language_model`.
    public var stackChildren: [(String, Module)] { [("embed_tokens", embedTokens), ("layers", layers), ("norm", norm)] }

    /// Runs the blocks on `[B, T, D]` embeddings. `positions` has T (or B*T) entries; `keyMask`
    /// (B * (cached + T) entries) marks real tokens. With a cache, new keys are appended to it.
    /// `capture` keeps layer outputs and attention probabilities for decoding-time methods.
    ///
    /// `sequences` runs padding-free: x is `[1, N, D]` holding sequences of these lengths end to
    /// end, `positions` has N entries (each sequence's own), and attention stays within each
    /// sequence (no key mask, cache or capture then).
    public func hidden(_ x: Tensor, positions: [Int], keyMask: [Bool]?, cache: KVCache? = nil,
                       capture: LayerCapture? = nil, sequences: [Int]? = nil) throws -> Tensor {
        if sequences != nil && (keyMask != nil || cache != nil || capture != nil) {
            throw HalluError("decoder: packed sequences take no key mask, cache or capture")
        }
        var h = x
        for (i, layer) in layers.items.enumerated() {
            if let capture, capture.hiddenLayers.contains(i) { capture.hidden[i] = try capture.keep(h) }
            h = try layer(h, positions: positions, keyMask: keyMask, cache: cache, index: i, capture: capture,
                          sequences: sequences)
        }
        return try norm(h)
    }

    /// The final RMSNorm, for hidden states read from an earlier layer.
    public func finalNorm(_ h: Tensor) throws -> Tensor { try norm(h) }

    /// Vocabulary logits for hidden rows `[..., D]`.
    public func logits(_ h: Tensor) throws -> Tensor {
        if let lmHead { return try lmHead.project(h) }
        return try Tensor.linear(h, embedTokens.weight, nil)
    }
}

/// What a forward pass keeps for a decoding-time method: the input of chosen blocks (block i's
/// input is transformers' `hidden_states[i]`: 0 the embeddings, i the output of i blocks, before
/// the final norm) and the attention probabilities `[B, H, Tq, Tk]` of chosen blocks. Nothing is
/// kept for blocks not named, so the fused attention kernel writes no probabilities there.
public final class LayerCapture {
    public let hiddenLayers: Set<Int>
    public let attentionLayers: Set<Int>
    /// Keep only the last position of each row for hidden states (`[B, D]` instead of `[B, T, D]`).
    public let lastPositionOnly: Bool
    public internal(set) var hidden: [Int: Tensor] = [:]
    public internal(set) var attention: [Int: Tensor] = [:]

    public init(hiddenLayers: Set<Int> = [], attentionLayers: Set<Int> = [], lastPositionOnly: Bool = true) {
        self.hiddenLayers = hiddenLayers; self.attentionLayers = attentionLayers; self.lastPositionOnly = lastPositionOnly
    }

    func keep(_ h: Tensor) throws -> Tensor {
        guard lastPositionOnly else { return h }
        let (b, t, d) = (h.shape[0], h.shape[1], h.shape[2])
        return try h.reshaped([b * t, d]).indexSelect((0..<b).map { $0 * t + t - 1 })
    }
}

/// One pre-norm decoder block.
public final class LlamaDecoderLayer: Module {
    let qProj, kProj, vProj, oProj, gateProj, upProj, downProj: Linear
    let inputNorm, postNorm: RMSNorm
    let heads, kvHeads, headDim: Int
    let theta: Float
    let act: String
    /// Whether training rebuilds cheap activations in backward instead of keeping them.
    var recompute = true

    init(_ c: LlavaTextConfig, rng: inout SeededRNG) {
        let d = c.hiddenSize
        heads = c.numAttentionHeads; kvHeads = c.numKeyValueHeads; headDim = c.headDim
        theta = Float(c.ropeTheta)
        act = c.hiddenAct.rawValue
        // `attention_bias` and `mlp_bias` give every projection of the block a bias, as in transformers.
        let ab = c.attentionBias, mb = c.mlpBias
        qProj = Linear(d, heads * headDim, bias: ab, rng: &rng)
        kProj = Linear(d, kvHeads * headDim, bias: ab, rng: &rng)
        vProj = Linear(d, kvHeads * headDim, bias: ab, rng: &rng)
        oProj = Linear(heads * headDim, d, bias: ab, rng: &rng)
        gateProj = Linear(d, c.intermediateSize, bias: mb, rng: &rng)
        upProj = Linear(d, c.intermediateSize, bias: mb, rng: &rng)
        downProj = Linear(c.intermediateSize, d, bias: mb, rng: &rng)
        inputNorm = RMSNorm(d, eps: Float(c.rmsNormEps)); postNorm = RMSNorm(d, eps: Float(c.rmsNormEps))
    }

    public override var children: [(String, Module)] {
        [("self_attn.q_proj", qProj), ("self_attn.k_proj", kProj), ("self_attn.v_proj", vProj), ("self_attn.o_proj", oProj),
         ("mlp.gate_proj", gateProj), ("mlp.up_proj", upProj), ("mlp.down_proj", downProj),
         ("input_layernorm", inputNorm), ("post_attention_layernorm", postNorm)]
    }

    func callAsFunction(_ x: Tensor, positions: [Int], keyMask: [Bool]?, cache: KVCache?, index: Int,
                        capture: LayerCapture? = nil, sequences: [Int]? = nil) throws -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        // In training, the norms' outputs, the gated product and the attention probabilities are
        // rebuilt in backward from what their own steps keep, instead of being kept.
        let rebuild = recompute && GradMode.isEnabled
        let h = try inputNorm(x)
        let hSaved = rebuild ? Recomputable { [inputNorm] in try inputNorm(x) } : nil
        // Heads stay in the projections' [B, T, H, D] layout: rotary and attention read it directly.
        let q = try Tensor.rope(qProj.project(h, savedInput: hSaved).reshaped([b, t, heads, headDim]), positions: positions,
                                theta: theta, layout: .bthd)
        let k = try Tensor.rope(kProj.project(h, savedInput: hSaved).reshaped([b, t, kvHeads, headDim]), positions: positions,
                                theta: theta, layout: .bthd)
        let v = try vProj.project(h, savedInput: hSaved).reshaped([b, t, kvHeads, headDim])
        let a: Tensor
        if let capture, capture.attentionLayers.contains(index) {
            // Probabilities are materialised only for the layers a decoding method reads.
            let c = try cache.map { try $0.append(layer: index, keys: k, values: v) }
            let r = try Tensor.attentionCore(q, c?.keys ?? k, c?.values ?? v, layout: .bthd, causal: true, keyMask: keyMask,
                                             scale: nil, keyLength: c?.length, keepWeights: true)
            a = r.output
            capture.attention[index] = r.weights
        } else if let cache {
            let c = try cache.append(layer: index, keys: k, values: v)
            a = try Tensor.attention(q, c.keys, c.values, layout: .bthd, causal: true, keyMask: keyMask, keyLength: c.length)
        } else {
            a = try Tensor.attention(q, k, v, layout: .bthd, causal: true, keyMask: keyMask, recomputeProbabilities: rebuild,
                                     sequences: sequences)
        }
        let y = try oProj.project(a.reshaped([b, t, heads * headDim]), residual: x)
        let m = try postNorm(y)
        let mSaved = rebuild ? Recomputable { [postNorm] in try postNorm(y) } : nil
        let gate = try gateProj.project(m, savedInput: mSaved), up = try upProj.project(m, savedInput: mSaved)
        let inner = try gated(gate, up)
        let innerSaved = rebuild ? Recomputable { [self] in try gated(gate, up) } : nil
        return try downProj.project(inner, residual: y, savedInput: innerSaved)
    }

    /// The MLP's gated product: `act(gate) * up`, fused for SiLU.
    private func gated(_ gate: Tensor, _ up: Tensor) throws -> Tensor {
        act == "silu" ? try Tensor.swiglu(gate, up) : try gate.activation(act) * up
    }
}

extension Linear {
    /// `self(x)` (plus `residual` when given), with an active adapter fused into the product
    /// (`Tensor.loraLinear`) and the residual summed inside the GEMM. An adapter with dropout in
    /// training goes through `Linear` itself. `savedInput` lets the backward pass rebuild x.
    func project(_ x: Tensor, residual: Tensor? = nil, savedInput: Recomputable? = nil) throws -> Tensor {
        guard let lora, lora.enabled else { return try Tensor.linear(x, weight, bias, residual: residual, savedInput: savedInput) }
        if lora.dropout > 0 && GradMode.isEnabled {
            let y = try self(x)
            return try residual.map { try $0 + y } ?? y
        }
        return try Tensor.loraLinear(x, weight: weight, bias: bias, loraA: lora.a, loraB: lora.b, scaling: lora.scaling,
                                     residual: residual, savedInput: savedInput)
    }
}
