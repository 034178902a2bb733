import Foundation

/// Activation functions by their Hugging Face names (`hidden_act`, `projector_hidden_act`).
public enum LlavaActivation: String, Codable, CaseIterable, Sendable {
    case silu, gelu, quick_gelu, gelu_pytorch_tanh, relu
}

/// Which vision-tower positions become image tokens: `default` drops the class token, `full` keeps it.
public enum VisionFeatureSelectStrategy: String, Codable, CaseIterable, Sendable {
    case `default`, full
}

/// The Llama decoder's part of a LLaVA `config.json` (`text_config`).
public struct LlavaTextConfig: Codable, Equatable, Sendable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    /// Grouped-query attention: key/value heads; equals `numAttentionHeads` when absent.
    public var numKeyValueHeads: Int
    /// Per-head width; `hiddenSize / numAttentionHeads` when absent.
    public var headDim: Int
    public var rmsNormEps: Double
    public var ropeTheta: Double
    public var maxPositionEmbeddings: Int
    public var vocabSize: Int
    public var tieWordEmbeddings: Bool
    public var bosTokenId: Int?
    /// End-of-sequence ids; Hugging Face allows one id or a list.
    public var eosTokenIds: [Int]
    public var padTokenId: Int?
    public var hiddenAct: LlavaActivation
    public var attentionBias: Bool
    public var mlpBias: Bool

    /// The first end-of-sequence id.
    public var eosTokenId: Int? { eosTokenIds.first }

    public init(hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int, numAttentionHeads: Int,
                numKeyValueHeads: Int? = nil, headDim: Int? = nil, rmsNormEps: Double = 1e-6,
                ropeTheta: Double = 10_000, maxPositionEmbeddings: Int = 2048, vocabSize: Int,
                tieWordEmbeddings: Bool = false, bosTokenId: Int? = 1, eosTokenIds: [Int] = [2],
                padTokenId: Int? = nil, hiddenAct: LlavaActivation = .silu,
                attentionBias: Bool = false, mlpBias: Bool = false) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads ?? numAttentionHeads
        self.headDim = headDim ?? (numAttentionHeads > 0 ? hiddenSize / numAttentionHeads : 0)
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.vocabSize = vocabSize
        self.tieWordEmbeddings = tieWordEmbeddings
        self.bosTokenId = bosTokenId
        self.eosTokenIds = eosTokenIds
        self.padTokenId = padTokenId
        self.hiddenAct = hiddenAct
        self.attentionBias = attentionBias
        self.mlpBias = mlpBias
    }

    /// Decodes with Hugging Face's defaults for optional keys. `vocab_size` falls back to
    /// `LlavaConfig`'s top-level value, which older LLaVA configs carry instead.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        let modelType = try c.optional("model_type", default: "llama")
        if modelType != "llama" {
            throw c.invalid("model_type", "unsupported decoder \"\(modelType)\" (only \"llama\")")
        }
        hiddenSize = try c.size("hidden_size")
        intermediateSize = try c.size("intermediate_size")
        numHiddenLayers = try c.size("num_hidden_layers", max: LlavaConfig.maxLayers)
        numAttentionHeads = try c.size("num_attention_heads", max: LlavaConfig.maxHeads)
        numKeyValueHeads = try c.optional("num_key_value_heads") ?? numAttentionHeads
        if numKeyValueHeads <= 0 || numAttentionHeads % numKeyValueHeads != 0 {
            throw c.invalid("num_key_value_heads", "must divide num_attention_heads (\(numAttentionHeads)), found \(numKeyValueHeads)")
        }
        if c.contains("head_dim"), !(try c.decodeNil(forKey: "head_dim")) {
            headDim = try c.size("head_dim")
        } else {
            if hiddenSize % numAttentionHeads != 0 {
                throw c.invalid("hidden_size", "\(hiddenSize) is not divisible by num_attention_heads (\(numAttentionHeads))")
            }
            headDim = hiddenSize / numAttentionHeads
        }
        if headDim % 2 != 0 { throw c.invalid("head_dim", "rotary embeddings need an even head size, found \(headDim)") }
        rmsNormEps = try c.optional("rms_norm_eps", default: 1e-6)
        if !(rmsNormEps > 0 && rmsNormEps.isFinite) { throw c.invalid("rms_norm_eps", "must be positive, found \(rmsNormEps)") }
        ropeTheta = try Self.decodeRope(c)
        maxPositionEmbeddings = try c.optional("max_position_embeddings", default: 2048)
        if maxPositionEmbeddings <= 0 { throw c.invalid("max_position_embeddings", "must be positive, found \(maxPositionEmbeddings)") }
        if maxPositionEmbeddings > LlavaConfig.maxDimension {
            throw c.invalid("max_position_embeddings", "must be at most \(LlavaConfig.maxDimension), found \(maxPositionEmbeddings)")
        }
        if let v: Int = try c.optional("vocab_size") {
            vocabSize = v
        } else if let v = decoder.userInfo[LlavaConfig.topLevelVocabKey] as? Int {
            vocabSize = v
        } else {
            throw DecodingError.keyNotFound(JSONKey("vocab_size"), .init(codingPath: c.codingPath, debugDescription: "missing"))
        }
        if vocabSize <= 0 { throw c.invalid("vocab_size", "must be positive, found \(vocabSize)") }
        if vocabSize > LlavaConfig.maxDimension { throw c.invalid("vocab_size", "must be at most \(LlavaConfig.maxDimension), found \(vocabSize)") }
        tieWordEmbeddings = try c.optional("tie_word_embeddings")
            ?? (decoder.userInfo[LlavaConfig.topLevelTieKey] as? Bool) ?? false
        // Absent ids take Llama's defaults; an explicit null means "none".
        bosTokenId = c.contains("bos_token_id") ? try c.optional("bos_token_id") : 1
        if !c.contains("eos_token_id") {
            eosTokenIds = [2]
        } else if let one = try? c.optional("eos_token_id", as: Int.self) {
            eosTokenIds = [one]
        } else {
            eosTokenIds = try c.optional("eos_token_id", as: [Int].self) ?? []
        }
        padTokenId = try c.optional("pad_token_id")
        for (key, id) in [("bos_token_id", bosTokenId), ("pad_token_id", padTokenId)] + eosTokenIds.map({ ("eos_token_id", $0) }) {
            if let id, id < 0 || id >= vocabSize {
                throw c.invalid(key, "\(id) is outside the vocabulary (vocab_size \(vocabSize))")
            }
        }
        hiddenAct = try c.optional("hidden_act", default: .silu)
        attentionBias = try c.optional("attention_bias", default: false)
        mlpBias = try c.optional("mlp_bias", default: false)
    }

    /// `rope_theta` sits in `rope_parameters` (transformers 5) or at the top of `text_config` (4.x).
    /// Scaled variants would change the numerics, so they are refused rather than ignored.
    private static func decodeRope(_ c: KeyedDecodingContainer<JSONKey>) throws -> Double {
        if c.contains("rope_parameters"), !(try c.decodeNil(forKey: "rope_parameters")) {
            let p = try c.nestedContainer(keyedBy: JSONKey.self, forKey: "rope_parameters")
            let type = try p.optional("rope_type", default: "default")
            if type != "default" { throw p.invalid("rope_type", "unsupported rope type \"\(type)\" (only \"default\")") }
            if let t: Double = try p.optional("rope_theta") {
                if !isRotaryBase(t) { throw p.invalid("rope_theta", "must be a positive number a 32-bit float holds (not 0 or infinity), found \(t)") }
                return t
            }
        }
        if c.contains("rope_scaling"), !(try c.decodeNil(forKey: "rope_scaling")) {
            let p = try c.nestedContainer(keyedBy: JSONKey.self, forKey: "rope_scaling")
            let type = try p.optional("rope_type") ?? p.optional("type") ?? "default"
            if type != "default" { throw p.invalid("rope_type", "unsupported rope scaling \"\(type)\"") }
        }
        let t = try c.optional("rope_theta", default: 10_000.0)
        if !isRotaryBase(t) { throw c.invalid("rope_theta", "must be a positive number a 32-bit float holds (not 0 or infinity), found \(t)") }
        return t
    }

    /// The rotary tables are computed in Float: a base that is positive as a Double but rounds to
    /// 0, a subnormal or infinity as a Float would give infinite frequencies.
    private static func isRotaryBase(_ t: Double) -> Bool { t > 0 && Float(t).isNormal }

    /// Writes both spellings of the rotary base so transformers 4.x and 5.x read the same value.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.encode("llama", forKey: "model_type")
        try c.encode(hiddenSize, forKey: "hidden_size")
        try c.encode(intermediateSize, forKey: "intermediate_size")
        try c.encode(numHiddenLayers, forKey: "num_hidden_layers")
        try c.encode(numAttentionHeads, forKey: "num_attention_heads")
        try c.encode(numKeyValueHeads, forKey: "num_key_value_heads")
        try c.encode(headDim, forKey: "head_dim")
        try c.encode(rmsNormEps, forKey: "rms_norm_eps")
        try c.encode(ropeTheta, forKey: "rope_theta")
        try c.encode(["rope_theta": JSONScalar.number(ropeTheta), "rope_type": .string("default")], forKey: "rope_parameters")
        try c.encode(maxPositionEmbeddings, forKey: "max_position_embeddings")
        try c.encode(vocabSize, forKey: "vocab_size")
        try c.encode(tieWordEmbeddings, forKey: "tie_word_embeddings")
        try c.encode(bosTokenId, forKey: "bos_token_id")
        if eosTokenIds.count == 1 { try c.encode(eosTokenIds[0], forKey: "eos_token_id") }
        else if eosTokenIds.isEmpty { try c.encodeNil(forKey: "eos_token_id") }
        else { try c.encode(eosTokenIds, forKey: "eos_token_id") }
        try c.encode(padTokenId, forKey: "pad_token_id")
        try c.encode(hiddenAct, forKey: "hidden_act")
        try c.encode(attentionBias, forKey: "attention_bias")
        try c.encode(mlpBias, forKey: "mlp_bias")
        try c.encode(0.0, forKey: "attention_dropout")
        try c.encode(1, forKey: "pretraining_tp")
        try c.encode(true, forKey: "use_cache")
    }
}

/// The CLIP vision tower's part of a LLaVA `config.json` (`vision_config`).
public struct LlavaVisionConfig: Codable, Equatable, Sendable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var imageSize: Int
    public var patchSize: Int
    public var numChannels: Int
    public var layerNormEps: Double
    public var hiddenAct: LlavaActivation
    /// Width of CLIP's text-image projection. LLaVA does not use it; kept so files round-trip.
    public var projectionDim: Int

    public init(hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int, numAttentionHeads: Int,
                imageSize: Int, patchSize: Int, numChannels: Int = 3, layerNormEps: Double = 1e-5,
                hiddenAct: LlavaActivation = .quick_gelu, projectionDim: Int = 512) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.numChannels = numChannels
        self.layerNormEps = layerNormEps
        self.hiddenAct = hiddenAct
        self.projectionDim = projectionDim
    }

    /// Patches per image side.
    public var patchesPerSide: Int { imageSize / patchSize }
    /// Patches per image (the class token not counted).
    public var numPatches: Int { patchesPerSide * patchesPerSide }
    /// Per-head width.
    public var headDim: Int { hiddenSize / numAttentionHeads }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        let modelType = try c.optional("model_type", default: "clip_vision_model")
        if modelType != "clip_vision_model" {
            throw c.invalid("model_type", "unsupported vision tower \"\(modelType)\" (only \"clip_vision_model\")")
        }
        hiddenSize = try c.size("hidden_size")
        intermediateSize = try c.size("intermediate_size")
        numHiddenLayers = try c.size("num_hidden_layers", max: LlavaConfig.maxLayers)
        numAttentionHeads = try c.size("num_attention_heads", max: LlavaConfig.maxHeads)
        if hiddenSize % numAttentionHeads != 0 {
            throw c.invalid("hidden_size", "\(hiddenSize) is not divisible by num_attention_heads (\(numAttentionHeads))")
        }
        imageSize = try c.size("image_size", max: ImageProcessorConfig.maxSide)
        patchSize = try c.size("patch_size", max: ImageProcessorConfig.maxSide)
        if imageSize % patchSize != 0 {
            throw c.invalid("image_size", "\(imageSize) is not a multiple of patch_size (\(patchSize))")
        }
        numChannels = try c.optional("num_channels", default: 3)
        if numChannels != 3 { throw c.invalid("num_channels", "must be 3 (images are RGB), found \(numChannels)") }
        layerNormEps = try c.optional("layer_norm_eps", default: 1e-5)
        if !(layerNormEps > 0 && layerNormEps.isFinite) { throw c.invalid("layer_norm_eps", "must be positive, found \(layerNormEps)") }
        hiddenAct = try c.optional("hidden_act", default: .quick_gelu)
        projectionDim = try c.optional("projection_dim", default: 512)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.encode("clip_vision_model", forKey: "model_type")
        try c.encode(hiddenSize, forKey: "hidden_size")
        try c.encode(intermediateSize, forKey: "intermediate_size")
        try c.encode(numHiddenLayers, forKey: "num_hidden_layers")
        try c.encode(numAttentionHeads, forKey: "num_attention_heads")
        try c.encode(imageSize, forKey: "image_size")
        try c.encode(patchSize, forKey: "patch_size")
        try c.encode(numChannels, forKey: "num_channels")
        try c.encode(layerNormEps, forKey: "layer_norm_eps")
        try c.encode(hiddenAct, forKey: "hidden_act")
        try c.encode(projectionDim, forKey: "projection_dim")
        try c.encode(0.0, forKey: "attention_dropout")
    }
}

/// A Hugging Face `LlavaForConditionalGeneration` configuration (`config.json`), with the same
/// key names, so checkpoints move between hallu and transformers in both directions.
public struct LlavaConfig: Codable, Equatable, Sendable {
    public var text: LlavaTextConfig
    public var vision: LlavaVisionConfig
    /// The token id that stands for the image in a prompt; replaced by the image's features.
    public var imageTokenIndex: Int
    public var projectorHiddenAct: LlavaActivation
    /// Which vision hidden state feeds the projector: an index into the tower's
    /// `numHiddenLayers + 1` hidden states (the embeddings first), negative from the end.
    public var visionFeatureLayer: Int
    public var visionFeatureSelectStrategy: VisionFeatureSelectStrategy
    public var multimodalProjectorBias: Bool

    public init(text: LlavaTextConfig, vision: LlavaVisionConfig, imageTokenIndex: Int,
                projectorHiddenAct: LlavaActivation = .gelu, visionFeatureLayer: Int = -2,
                visionFeatureSelectStrategy: VisionFeatureSelectStrategy = .default,
                multimodalProjectorBias: Bool = true) {
        self.text = text
        self.vision = vision
        self.imageTokenIndex = imageTokenIndex
        self.projectorHiddenAct = projectorHiddenAct
        self.visionFeatureLayer = visionFeatureLayer
        self.visionFeatureSelectStrategy = visionFeatureSelectStrategy
        self.multimodalProjectorBias = multimodalProjectorBias
    }

    /// Image tokens per image in the decoder's sequence.
    public var imageSeqLength: Int {
        vision.numPatches + (visionFeatureSelectStrategy == .full ? 1 : 0)
    }

    /// The vision hidden state used, as a non-negative index into the `numHiddenLayers + 1` states.
    public var visionFeatureLayerIndex: Int {
        visionFeatureLayer < 0 ? vision.numHiddenLayers + 1 + visionFeatureLayer : visionFeatureLayer
    }

    static let topLevelVocabKey = CodingUserInfoKey(rawValue: "hallu.llava.vocab_size")!
    static let topLevelTieKey = CodingUserInfoKey(rawValue: "hallu.llava.tie_word_embeddings")!

    /// Reads a `config.json`; errors name the file and the key path.
    public static func load(_ path: String) throws -> LlavaConfig {
        let data = try JSONFiles.readData(path)
        // Older configs keep vocab_size (and tie_word_embeddings) only at the top level; the text
        // config's decoder needs them, so they are looked up first and handed down.
        let decoder = JSONDecoder()
        if let top = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            if let v = top["vocab_size"] as? Int { decoder.userInfo[topLevelVocabKey] = v }
            if let t = top["tie_word_embeddings"] as? Bool { decoder.userInfo[topLevelTieKey] = t }
        }
        do {
            return try decoder.decode(LlavaConfig.self, from: data)
        } catch let error as DecodingError {
            throw HalluError.file(path, CheckpointJSON.describe(error))
        }
    }

    /// Atomically writes `config.json`.
    public func save(to url: URL) throws {
        try validate(file: url.path)
        try CheckpointJSON.write(self, to: url)
    }

    /// Checks the cross-field rules that decoding enforces, for configs built in code.
    public func validate(file: String = "config") throws {
        let data = try CheckpointJSON.encode(self)
        let decoder = JSONDecoder()
        do { _ = try decoder.decode(LlavaConfig.self, from: data) } catch let error as DecodingError {
            throw HalluError.file(file, CheckpointJSON.describe(error))
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        let modelType: String = try c.required("model_type")
        if modelType != "llava" {
            throw c.invalid("model_type", "expected \"llava\", found \"\(modelType)\"")
        }
        text = try c.required("text_config")
        vision = try c.required("vision_config")
        if let idx: Int = try c.optional("image_token_index") ?? c.optional("image_token_id") {
            imageTokenIndex = idx
        } else {
            throw DecodingError.keyNotFound(JSONKey("image_token_index"), .init(codingPath: c.codingPath, debugDescription: "missing"))
        }
        let key = c.contains("image_token_index") ? "image_token_index" : "image_token_id"
        if imageTokenIndex < 0 || imageTokenIndex >= text.vocabSize {
            throw c.invalid(key, "\(imageTokenIndex) is outside the vocabulary (text_config.vocab_size \(text.vocabSize))")
        }
        projectorHiddenAct = try c.optional("projector_hidden_act", default: .gelu)
        if let layer = try? c.optional("vision_feature_layer", as: Int.self) {
            visionFeatureLayer = layer
        } else if (try? c.optional("vision_feature_layer", as: [Int].self)) != nil {
            throw c.invalid("vision_feature_layer", "a list of layers is not supported (one layer index only)")
        } else {
            visionFeatureLayer = try c.optional("vision_feature_layer", default: -2)
        }
        let states = vision.numHiddenLayers + 1
        if visionFeatureLayer < -states || visionFeatureLayer >= states {
            throw c.invalid("vision_feature_layer", "\(visionFeatureLayer) is outside the vision tower's \(states) hidden states")
        }
        visionFeatureSelectStrategy = try c.optional("vision_feature_select_strategy", default: .default)
        multimodalProjectorBias = try c.optional("multimodal_projector_bias", default: true)
        // image_seq_length is derived, not read: transformers writes its default (576) whatever the tower.
        var total = 0
        for (name, shape) in expectedWeightShapes {
            let n = try CheckedSize.product(shape, "config.json: tensor \(name)")
            total = try CheckedSize.add(total, n, "config.json: parameter count")
        }
    }

    /// Largest size of one dimension (hidden sizes, vocabulary, positions) a config may give.
    public static let maxDimension = 1 << 24
    static let maxLayers = 4096
    static let maxHeads = 1 << 16

    /// Writes the keys transformers needs to rebuild the model, including `architectures`.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.encode(["LlavaForConditionalGeneration"], forKey: "architectures")
        try c.encode("llava", forKey: "model_type")
        try c.encode(text, forKey: "text_config")
        try c.encode(vision, forKey: "vision_config")
        try c.encode(imageTokenIndex, forKey: "image_token_index")
        try c.encode(imageSeqLength, forKey: "image_seq_length")
        try c.encode(projectorHiddenAct, forKey: "projector_hidden_act")
        try c.encode(visionFeatureLayer, forKey: "vision_feature_layer")
        try c.encode(visionFeatureSelectStrategy, forKey: "vision_feature_select_strategy")
        try c.encode(multimodalProjectorBias, forKey: "multimodal_projector_bias")
        try c.encode(text.tieWordEmbeddings, forKey: "tie_word_embeddings")
        try c.encode("float32", forKey: "torch_dtype")
    }
}

/// A JSON scalar for small heterogeneous objects that Codable cannot express directly.
enum JSONScalar: Encodable {
    case number(Double), string(String)

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .number(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        }
    }
}

extension LlavaConfig {
    /// Name and shape of every tensor a checkpoint of this model holds, in hallu's names
    /// (`LlavaWeightLayout.modules`, the parameter names of transformers 5). A tied LM head is
    /// not stored, as `save_pretrained` does not store it.
    public var expectedWeightShapes: [String: [Int]] {
        var s: [String: [Int]] = [:]
        let v = vision, d = v.hiddenSize
        let vt = "model.vision_tower."
        s[vt + "embeddings.class_embedding"] = [d]
        s[vt + "embeddings.patch_embedding.weight"] = [d, v.numChannels, v.patchSize, v.patchSize]
        s[vt + "embeddings.position_embedding.weight"] = [v.numPatches + 1, d]
        for norm in ["pre_layrnorm", "post_layernorm"] {
            s[vt + norm + ".weight"] = [d]
            s[vt + norm + ".bias"] = [d]
        }
        for i in 0..<v.numHiddenLayers {
            let l = vt + "encoder.layers.\(i)."
            for p in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                s[l + "self_attn.\(p).weight"] = [d, d]
                s[l + "self_attn.\(p).bias"] = [d]
            }
            for norm in ["layer_norm1", "layer_norm2"] {
                s[l + norm + ".weight"] = [d]
                s[l + norm + ".bias"] = [d]
            }
            s[l + "mlp.fc1.weight"] = [v.intermediateSize, d]
            s[l + "mlp.fc1.bias"] = [v.intermediateSize]
            s[l + "mlp.fc2.weight"] = [d, v.intermediateSize]
            s[l + "mlp.fc2.bias"] = [d]
        }

        let t = text, h = t.hiddenSize
        let mp = "model.multi_modal_projector."
        s[mp + "linear_1.weight"] = [h, d]
        s[mp + "linear_2.weight"] = [h, h]
        if multimodalProjectorBias {
            s[mp + "linear_1.bias"] = [h]
            s[mp + "linear_2.bias"] = [h]
        }

        let lm = "model.language_model."
        let q = t.numAttentionHeads * t.headDim, kv = t.numKeyValueHeads * t.headDim
        s[lm + "embed_tokens.weight"] = [t.vocabSize, h]
        for i in 0..<t.numHiddenLayers {
            let l = lm + "layers.\(i)."
            let outs = [("q_proj", q, h), ("k_proj", kv, h), ("v_proj", kv, h), ("o_proj", h, q)]
            for (p, rows, cols) in outs {
                s[l + "self_attn.\(p).weight"] = [rows, cols]
                if t.attentionBias { s[l + "self_attn.\(p).bias"] = [rows] }
            }
            for (p, rows, cols) in [("gate_proj", t.intermediateSize, h), ("up_proj", t.intermediateSize, h), ("down_proj", h, t.intermediateSize)] {
                s[l + "mlp.\(p).weight"] = [rows, cols]
                if t.mlpBias { s[l + "mlp.\(p).bias"] = [rows] }
            }
            s[l + "input_layernorm.weight"] = [h]
            s[l + "post_attention_layernorm.weight"] = [h]
        }
        s[lm + "norm.weight"] = [h]
        if !t.tieWordEmbeddings { s["lm_head.weight"] = [t.vocabSize, h] }
        return s
    }

    /// Parameters of the model (a tied LM head counted once); equals
    /// `sum(p.numel() for p in model.parameters())` of the PyTorch model.
    public var parameterCount: Int {
        expectedWeightShapes.values.reduce(0) { $0 &+ $1.reduce(1, &*) }
    }
}
