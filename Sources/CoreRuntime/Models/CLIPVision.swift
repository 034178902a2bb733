import Foundation

/// The CLIP ViT vision tower: patch embedding (a strided convolution, computed as a GEMM over
/// flattened patches), a class token, learned positions, pre-LN transformer blocks.
public final class CLIPVisionTower: Module {
    public let config: LlavaVisionConfig
    let patchWeight: Tensor         // [D, C, p, p] as stored; used as [D, C*p*p]
    let classEmbedding: Tensor      // [D]
    let positionEmbedding: Tensor   // [P + 1, D]
    let preLayerNorm: LayerNorm
    let layers: ModuleList<CLIPEncoderLayer>
    let postLayerNorm: LayerNorm

    public init(_ c: LlavaVisionConfig, rng: inout SeededRNG) {
        config = c
        let d = c.hiddenSize, patches = (c.imageSize / c.patchSize) * (c.imageSize / c.patchSize)
        patchWeight = Tensor.randn([d, c.numChannels, c.patchSize, c.patchSize], std: 0.02, rng: &rng, requiresGrad: true)
        classEmbedding = Tensor.randn([d], std: 0.02, rng: &rng, requiresGrad: true)
        positionEmbedding = Tensor.randn([patches + 1, d], std: 0.02, rng: &rng, requiresGrad: true)
        preLayerNorm = LayerNorm(d, eps: Float(c.layerNormEps))
        layers = ModuleList((0..<c.numHiddenLayers).map { _ in CLIPEncoderLayer(c, rng: &rng) })
        postLayerNorm = LayerNorm(d, eps: Float(c.layerNormEps))
    }

    public var patchesPerImage: Int { (config.imageSize / config.patchSize) * (config.imageSize / config.patchSize) }

    public override var ownParameters: [(String, Tensor)] {
        [("embeddings.class_embedding", classEmbedding), ("embeddings.patch_embedding.weight", patchWeight),
         ("embeddings.position_embedding.weight", positionEmbedding)]
    }
    public override var children: [(String, Module)] {
        [("pre_layrnorm", preLayerNorm), ("encoder.layers", layers), ("post_layernorm", postLayerNorm)]
    }

    /// Cuts `[B, C, H, W]` pixels into `[B * P, C * p * p]` rows in the (c, i, j) order of the conv weight.
    func patchify(_ pixels: Tensor) throws -> Tensor {
        let c = config.numChannels, s = config.imageSize, p = config.patchSize, g = s / p
        guard pixels.rank == 4, pixels.shape[1] == c, pixels.shape[2] == s, pixels.shape[3] == s else {
            throw HalluError("vision tower: expected pixels [B, \(c), \(s), \(s)], got \(pixels.shape)")
        }
        let b = pixels.shape[0]
        let out = Tensor(uninitializedShape: [b * g * g, c * p * p])
        var o = out.data
        for bi in 0..<b { for gy in 0..<g { for gx in 0..<g { for ci in 0..<c { for i in 0..<p {
            let src = pixels.data + ((bi * c + ci) * s + gy * p + i) * s + gx * p
            o.update(from: src, count: p)
            o += p
        } } } } }
        return out
    }

    /// Hidden states after `layerCount` encoder blocks: `[B, P + 1, D]` (class token first).
    public func hiddenStates(_ pixels: Tensor, layerCount: Int) throws -> Tensor {
        let d = config.hiddenSize, b = pixels.shape[0], np = patchesPerImage
        let rows = try Tensor.linear(patchify(pixels), patchWeight.reshaped([d, -1]), nil).reshaped([b, np, d])
        let cls = try classEmbedding.reshaped([1, 1, d]).repeated(b)
        var h = try Tensor.concat([cls, rows], axis: 1) + positionEmbedding
        h = try preLayerNorm(h)
        for layer in layers.items.prefix(layerCount) { h = try layer(h) }
        return h
    }
}

/// One pre-LN CLIP block: attention and MLP, each with a residual.
public final class CLIPEncoderLayer: Module {
    let qProj, kProj, vProj, outProj, fc1, fc2: Linear
    let norm1, norm2: LayerNorm
    let heads: Int
    let act: String

    init(_ c: LlavaVisionConfig, rng: inout SeededRNG) {
        let d = c.hiddenSize
        qProj = Linear(d, d, rng: &rng); kProj = Linear(d, d, rng: &rng); vProj = Linear(d, d, rng: &rng)
        outProj = Linear(d, d, rng: &rng)
        fc1 = Linear(d, c.intermediateSize, rng: &rng); fc2 = Linear(c.intermediateSize, d, rng: &rng)
        norm1 = LayerNorm(d, eps: Float(c.layerNormEps)); norm2 = LayerNorm(d, eps: Float(c.layerNormEps))
        heads = c.numAttentionHeads
        act = c.hiddenAct.rawValue
    }

    public override var children: [(String, Module)] {
        [("self_attn.q_proj", qProj), ("self_attn.k_proj", kProj), ("self_attn.v_proj", vProj), ("self_attn.out_proj", outProj),
         ("layer_norm1", norm1), ("mlp.fc1", fc1), ("mlp.fc2", fc2), ("layer_norm2", norm2)]
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let (b, t, d) = (x.shape[0], x.shape[1], x.shape[2]), hd = d / heads
        let h = try norm1(x)
        func split(_ y: Tensor) throws -> Tensor { try y.reshaped([b, t, heads, hd]) }
        let a = try Tensor.attention(split(qProj.project(h)), split(kProj.project(h)), split(vProj.project(h)),
                                     layout: .bthd, causal: false)
        let y = try outProj.project(a.reshaped([b, t, d]), residual: x)
        return try fc2.project(fc1.project(norm2(y)).activation(act), residual: y)
    }
}
