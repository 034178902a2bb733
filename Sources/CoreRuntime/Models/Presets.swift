import Foundation

/// The named model sizes. The vocabulary comes from the tokenizer and the image size from the data,
/// so both are parameters rather than part of the preset.
public enum LlavaPreset: String, CaseIterable, Sendable {
    /// For tests: trains in seconds. One vision layer, so its output (`vision_feature_layer` -1) is used.
    case tiny
    /// The default baseline (about 0.57M parameters at a vocabulary of ~150): vision 64 x 2 layers,
    /// decoder 128 x 2 layers, 4 heads. The size that trains well in 5 minutes on 2 cores.
    case small

    /// Builds the configuration; throws when the image size is not a multiple of the patch size
    /// (8) or a token id lies outside the vocabulary.
    public func config(vocabSize: Int, imageSize: Int = 32, imageTokenIndex: Int,
                       bosTokenId: Int? = 1, eosTokenId: Int? = 2, padTokenId: Int? = nil) throws -> LlavaConfig {
        let visionDim: Int, visionLayers: Int, textDim: Int, textLayers: Int, kvHeads: Int
        switch self {
        case .tiny: (visionDim, visionLayers, textDim, textLayers, kvHeads) = (32, 1, 64, 2, 2)
        case .small: (visionDim, visionLayers, textDim, textLayers, kvHeads) = (64, 2, 128, 2, 4)
        }
        let text = LlavaTextConfig(
            hiddenSize: textDim, intermediateSize: Self.swigluWidth(textDim), numHiddenLayers: textLayers,
            numAttentionHeads: 4, numKeyValueHeads: kvHeads, rmsNormEps: 1e-6, ropeTheta: 10_000,
            maxPositionEmbeddings: 512, vocabSize: vocabSize, tieWordEmbeddings: false,
            bosTokenId: bosTokenId, eosTokenIds: eosTokenId.map { [$0] } ?? [], padTokenId: padTokenId)
        let vision = LlavaVisionConfig(
            hiddenSize: visionDim, intermediateSize: 4 * visionDim, numHiddenLayers: visionLayers,
            numAttentionHeads: 4, imageSize: imageSize, patchSize: 8)
        // With two layers or fewer, LLaVA's second-to-last layer would leave the last one unused.
        let config = LlavaConfig(text: text, vision: vision, imageTokenIndex: imageTokenIndex,
                                 projectorHiddenAct: .gelu, visionFeatureLayer: -1)
        try config.validate(file: "preset \(rawValue)")
        return config
    }

    /// SwiGLU hidden width with the parameters of a plain 4x MLP (three matrices of 8/3 d instead
    /// of two of 4 d), rounded up to a multiple of 8.
    static func swigluWidth(_ d: Int) -> Int { (8 * d / 3 + 7) / 8 * 8 }
}

extension LlavaConfig {
    /// The `tiny` preset (see `LlavaPreset.tiny`).
    public static func tiny(vocabSize: Int, imageSize: Int = 32, imageTokenIndex: Int) throws -> LlavaConfig {
        try LlavaPreset.tiny.config(vocabSize: vocabSize, imageSize: imageSize, imageTokenIndex: imageTokenIndex)
    }

    /// The `small` preset (see `LlavaPreset.small`).
    public static func small(vocabSize: Int, imageSize: Int = 32, imageTokenIndex: Int) throws -> LlavaConfig {
        try LlavaPreset.small.config(vocabSize: vocabSize, imageSize: imageSize, imageTokenIndex: imageTokenIndex)
    }
}
