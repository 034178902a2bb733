import Foundation

/// Cached keys and values of one decoder layer during generation: `[B, Hkv, T, Dh]`.
public final class KVCache {
    public var keys: [Tensor?]
    public var values: [Tensor?]
    public init(layers: Int) { keys = Array(repeating: nil, count: layers); values = keys }
    /// Number of cached positions.
    public var length: Int { keys.first??.shape[2] ?? 0 }
    /// Keeps only the batch rows `index` (beam search reorders beams).
    public func select(_ index: [Int]) throws {
        for i in keys.indices {
            keys[i] = try keys[i]?.indexSelect(index)
            values[i] = try values[i]?.indexSelect(index)
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

    /// The decoder stack, named as in Hugging Face's `model.language_model`.
    public var stackChildren: [(String, Module)] { [("embed_tokens", embedTokens), ("layers", layers), ("norm", norm)] }

    /// Runs the blocks on `[B, T, D]` embeddings. `positions` has T (or B*T) entries; `keyMask`
    /// (B * (cached + T) entries) marks real tokens. With a cache, new keys are appended to it.
    public func hidden(_ x: Tensor, positions: [Int], keyMask: [Bool]?, cache: KVCache? = nil) throws -> Tensor {
        var h = x
        for (i, layer) in layers.items.enumerated() { h = try layer(h, positions: positions, keyMask: keyMask, cache: cache, index: i) }
        return try norm(h)
    }

    /// Vocabulary logits for hidden rows `[..., D]`.
    public func logits(_ h: Tensor) throws -> Tensor {
        if let lmHead { return try lmHead(h) }
        return try Tensor.linear(h, embedTokens.weight, nil)
    }
}

/// One pre-norm decoder block.
public final class LlamaDecoderLayer: Module {
    let qProj, kProj, vProj, oProj, gateProj, upProj, downProj: Linear
    let inputNorm, postNorm: RMSNorm
    let heads, kvHeads, headDim: Int
    let theta: Float
    let act: String

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

    func callAsFunction(_ x: Tensor, positions: [Int], keyMask: [Bool]?, cache: KVCache?, index: Int) throws -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        let h = try inputNorm(x)
        func split(_ y: Tensor, _ n: Int) throws -> Tensor { try y.reshaped([b, t, n, headDim]).transposed(1, 2) }
        let q = try Tensor.rope(split(qProj(h), heads), positions: positions, theta: theta)
        var k = try Tensor.rope(split(kProj(h), kvHeads), positions: positions, theta: theta)
        var v = try split(vProj(h), kvHeads)
        if let cache {
            if let pk = cache.keys[index], let pv = cache.values[index] {
                k = try Tensor.concat([pk, k], axis: 2)
                v = try Tensor.concat([pv, v], axis: 2)
            }
            cache.keys[index] = k
            cache.values[index] = v
        }
        let (a, _) = try Tensor.attention(q, k, v, causal: true, keyMask: keyMask)
        let y = try x + oProj(a.transposed(1, 2).reshaped([b, t, heads * headDim]))
        let m = try postNorm(y)
        return try y + downProj(gateProj(m).activation(act) * upProj(m))
    }
}
