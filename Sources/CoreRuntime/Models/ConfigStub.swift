// Temporary stand-in for the LlavaConfig of the checkpoint layer; replaced at merge.
public struct LlamaTextConfig {
    public var hiddenSize = 64, intermediateSize = 128, numHiddenLayers = 2, numAttentionHeads = 4
    public var numKeyValueHeads = 2, vocabSize = 100, maxPositionEmbeddings = 256
    public var rmsNormEps: Float = 1e-6, ropeTheta: Float = 10000
    public var tieWordEmbeddings = false
    public var hiddenAct = "silu"
    public var headDim: Int? = nil
    public var bosTokenId: Int? = 1, eosTokenId: Int? = 2, padTokenId: Int? = nil
    public init() {}
}
public struct CLIPVisionConfig {
    public var hiddenSize = 32, intermediateSize = 64, numHiddenLayers = 2, numAttentionHeads = 2
    public var imageSize = 32, patchSize = 8, numChannels = 3
    public var layerNormEps: Float = 1e-5
    public var hiddenAct = "quick_gelu"
    public init() {}
}
public struct LlavaConfig {
    public var textConfig = LlamaTextConfig()
    public var visionConfig = CLIPVisionConfig()
    public var imageTokenIndex = 99
    public var projectorHiddenAct = "gelu"
    public var visionFeatureLayer = -2
    public var visionFeatureSelectStrategy = "default"
    public var multimodalProjectorBias = true
    public init() {}
}
