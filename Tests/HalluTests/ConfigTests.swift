import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// Loads the micro config written by transformers, edits it as a dictionary, and writes it to a temp file.
private func editedConfig(_ edit: (inout [String: Any]) -> Void) throws -> String {
    var json = try checkpointFixtureJSON("micro_llava/config.json")
    edit(&json)
    let url = TestPaths.tempDir("cfg").appendingPathComponent("config.json")
    try AtomicFile.writeJSON(json, to: url)
    return url.path
}

private func editText(_ json: inout [String: Any], _ edit: (inout [String: Any]) -> Void) {
    var text = json["text_config"] as! [String: Any]
    edit(&text)
    json["text_config"] = text
}

private func editVision(_ json: inout [String: Any], _ edit: (inout [String: Any]) -> Void) {
    var vision = json["vision_config"] as! [String: Any]
    edit(&vision)
    json["vision_config"] = vision
}

@Test func configReadsWhatTransformersWrites() throws {
    let c = try LlavaConfig.load(checkpointFixture("micro_llava/config.json").path)
    #expect(c.imageTokenIndex == 31)
    #expect(c.projectorHiddenAct == .gelu)
    #expect(c.visionFeatureLayer == -2 && c.visionFeatureLayerIndex == 1)
    #expect(c.visionFeatureSelectStrategy == .default)
    #expect(c.imageSeqLength == 4)
    #expect(c.text == LlavaTextConfig(hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1, numAttentionHeads: 2,
                                       numKeyValueHeads: 1, headDim: 8, rmsNormEps: 1e-5, ropeTheta: 10_000,
                                       maxPositionEmbeddings: 64, vocabSize: 32, tieWordEmbeddings: false,
                                       bosTokenId: 1, eosTokenIds: [2], padTokenId: 0))
    #expect(c.vision == LlavaVisionConfig(hiddenSize: 8, intermediateSize: 16, numHiddenLayers: 2, numAttentionHeads: 2,
                                           imageSize: 16, patchSize: 8, numChannels: 3, layerNormEps: 1e-5,
                                           hiddenAct: .quick_gelu, projectionDim: 512))

    let t = try LlavaConfig.load(checkpointFixture("micro_llava_tied/config.json").path)
    #expect(t.text.tieWordEmbeddings && t.text.attentionBias && t.text.mlpBias)
    #expect(t.text.ropeTheta == 500_000)
    #expect(t.text.numKeyValueHeads == 2 && t.text.headDim == 4)
    #expect(t.vision.hiddenAct == .gelu)
    #expect(t.visionFeatureSelectStrategy == .full)
    #expect(t.imageSeqLength == 17)  // 4x4 patches and the class token
}

@Test func expectedWeightsMatchThePyTorchModel() throws {
    let models = try checkpointFixtureJSON("models.json")
    for (name, folder) in [("micro", "micro_llava"), ("micro_tied", "micro_llava_tied")] {
        let spec = try #require(models[name] as? [String: Any])
        let c = try LlavaConfig.load(checkpointFixture("\(folder)/config.json").path)
        var reference = try #require(spec["state_dict_shapes"] as? [String: [Int]])
        if c.text.tieWordEmbeddings { reference["lm_head.weight"] = nil }  // shared with embed_tokens, not stored
        #expect(c.expectedWeightShapes == reference, "\(name)")
        #expect(c.parameterCount == (spec["parameter_count"] as? Int), "\(name)")
    }
}

@Test func configRoundTripsAndWritesWhatTransformersNeeds() throws {
    let c = try LlavaConfig.load(checkpointFixture("micro_llava_tied/config.json").path)
    let url = TestPaths.tempDir("cfg").appendingPathComponent("config.json")
    try c.save(to: url)
    #expect(try LlavaConfig.load(url.path) == c)
    let json = try #require(try JSONFiles.readJSON(url.path) as? [String: Any])
    #expect(json["architectures"] as? [String] == ["LlavaForConditionalGeneration"])
    #expect(json["model_type"] as? String == "llava")
    #expect(json["torch_dtype"] as? String == "float32")
    #expect(json["image_seq_length"] as? Int == 17)
    let text = try #require(json["text_config"] as? [String: Any])
    #expect(text["rope_theta"] as? Double == 500_000)
    #expect((text["rope_parameters"] as? [String: Any])?["rope_theta"] as? Double == 500_000)
    #expect(text["model_type"] as? String == "llama")
    #expect((json["vision_config"] as? [String: Any])?["model_type"] as? String == "clip_vision_model")
    // Byte-stable: saving twice gives the same file.
    let again = TestPaths.tempDir("cfg").appendingPathComponent("config.json")
    try c.save(to: again)
    #expect(try Data(contentsOf: url) == Data(contentsOf: again))
}

@Test func configAcceptsOlderTransformersSpellings() throws {
    // transformers 4.x: rope_theta at the top of text_config, vocab_size and tie flag at the top
    // level only, eos as a list, image_token_id instead of image_token_index.
    let path = try editedConfig { json in
        json["vocab_size"] = 32
        json["image_token_id"] = 30
        json["image_token_index"] = nil
        json["tie_word_embeddings"] = true
        editText(&json) { t in
            t["rope_parameters"] = nil
            t["rope_theta"] = 20_000.0
            t["vocab_size"] = nil
            t["tie_word_embeddings"] = nil
            t["head_dim"] = nil
            t["num_key_value_heads"] = nil
            t["eos_token_id"] = [2, 5]
        }
    }
    let c = try LlavaConfig.load(path)
    #expect(c.text.ropeTheta == 20_000)
    #expect(c.text.vocabSize == 32)
    #expect(c.text.tieWordEmbeddings)
    #expect(c.text.numKeyValueHeads == 2 && c.text.headDim == 8)
    #expect(c.text.eosTokenIds == [2, 5] && c.text.eosTokenId == 2)
    #expect(c.imageTokenIndex == 30)
}

@Test func configErrorsNameTheFileAndKeyPath() throws {
    let missing = try editedConfig { json in editText(&json) { $0["hidden_size"] = nil } }
    expectCheckpointError(["config.json: text_config.hidden_size: missing"]) { _ = try LlavaConfig.load(missing) }

    let missingVision = try editedConfig { json in json["vision_config"] = nil }
    expectCheckpointError(["config.json: vision_config: missing"]) { _ = try LlavaConfig.load(missingVision) }

    let wrongType = try editedConfig { json in editText(&json) { $0["hidden_size"] = "16" } }
    expectCheckpointError(["config.json: text_config.hidden_size: expected an integer"]) { _ = try LlavaConfig.load(wrongType) }

    let nullType = try editedConfig { json in editVision(&json) { $0["patch_size"] = NSNull() } }
    expectCheckpointError(["config.json: vision_config.patch_size: expected an integer, found null"]) { _ = try LlavaConfig.load(nullType) }

    let negative = try editedConfig { json in editText(&json) { $0["num_hidden_layers"] = -1 } }
    expectCheckpointError(["text_config.num_hidden_layers: must be positive, found -1"]) { _ = try LlavaConfig.load(negative) }

    let modelType = try editedConfig { json in json["model_type"] = "llava_next" }
    expectCheckpointError(["config.json: model_type: expected \"llava\""]) { _ = try LlavaConfig.load(modelType) }

    let decoder = try editedConfig { json in editText(&json) { $0["model_type"] = "mistral" } }
    expectCheckpointError(["text_config.model_type: unsupported decoder \"mistral\""]) { _ = try LlavaConfig.load(decoder) }

    let patch = try editedConfig { json in editVision(&json) { $0["patch_size"] = 5 } }
    expectCheckpointError(["vision_config.image_size: 16 is not a multiple of patch_size (5)"]) { _ = try LlavaConfig.load(patch) }

    let kv = try editedConfig { json in editText(&json) { $0["num_key_value_heads"] = 3 } }
    expectCheckpointError(["text_config.num_key_value_heads: must divide num_attention_heads (2), found 3"]) { _ = try LlavaConfig.load(kv) }

    let token = try editedConfig { json in json["image_token_index"] = 32 }
    expectCheckpointError(["config.json: image_token_index: 32 is outside the vocabulary"]) { _ = try LlavaConfig.load(token) }

    let act = try editedConfig { json in editVision(&json) { $0["hidden_act"] = "swish" } }
    expectCheckpointError(["config.json: vision_config.hidden_act"]) { _ = try LlavaConfig.load(act) }

    let rope = try editedConfig { json in editText(&json) { $0["rope_parameters"] = ["rope_type": "yarn", "rope_theta": 1e4] } }
    expectCheckpointError(["text_config.rope_parameters.rope_type: unsupported rope type \"yarn\""]) { _ = try LlavaConfig.load(rope) }

    let layers = try editedConfig { json in json["vision_feature_layer"] = [-2, -1] }
    expectCheckpointError(["vision_feature_layer: a list of layers is not supported"]) { _ = try LlavaConfig.load(layers) }

    let layer = try editedConfig { json in json["vision_feature_layer"] = -4 }
    expectCheckpointError(["vision_feature_layer: -4 is outside the vision tower's 3 hidden states"]) { _ = try LlavaConfig.load(layer) }

    let strategy = try editedConfig { json in json["vision_feature_select_strategy"] = "cls" }
    expectCheckpointError(["config.json: vision_feature_select_strategy"]) { _ = try LlavaConfig.load(strategy) }

    let dir = TestPaths.tempDir("cfg")
    try AtomicFile.write("{\"model_type\": \"llava\",", to: dir.appendingPathComponent("config.json"))
    expectCheckpointError(["config.json: malformed JSON"]) { _ = try LlavaConfig.load(dir.appendingPathComponent("config.json").path) }
    try AtomicFile.write("[1]", to: dir.appendingPathComponent("config.json"))
    expectCheckpointError(["config.json: expected a JSON object"]) { _ = try LlavaConfig.load(dir.appendingPathComponent("config.json").path) }
    expectCheckpointError(["nope.json", "no such file"]) { _ = try LlavaConfig.load(dir.appendingPathComponent("nope.json").path) }
}

@Test func presetsHaveTheCalibratedSizes() throws {
    let tiny = try LlavaConfig.tiny(vocabSize: 100, imageTokenIndex: 99)
    #expect(tiny.vision.hiddenSize == 32 && tiny.vision.numHiddenLayers == 1)
    #expect(tiny.text.hiddenSize == 64 && tiny.text.numHiddenLayers == 2)
    #expect(tiny.text.numAttentionHeads == 4 && tiny.text.numKeyValueHeads == 2)
    #expect(tiny.visionFeatureLayerIndex == 1)  // the only layer's output
    #expect(tiny.imageSeqLength == 16)

    let small = try LlavaPreset.small.config(vocabSize: 150, imageSize: 32, imageTokenIndex: 149)
    #expect(small.vision.hiddenSize == 64 && small.vision.numHiddenLayers == 2)
    #expect(small.vision.imageSize == 32 && small.vision.patchSize == 8)
    #expect(small.text.hiddenSize == 128 && small.text.numHiddenLayers == 2 && small.text.numAttentionHeads == 4)
    #expect(small.text.intermediateSize == 344)
    // About 0.57M parameters, as in world-calibration.md; the counts are PyTorch's for the same configs.
    #expect(small.parameterCount == 572_800)
    #expect(tiny.parameterCount == 131_104)

    let bigger = try LlavaConfig.small(vocabSize: 150, imageSize: 48, imageTokenIndex: 0)
    #expect(bigger.imageSeqLength == 36)

    expectCheckpointError(["preset small", "vision_config.image_size: 30 is not a multiple of patch_size (8)"]) {
        _ = try LlavaConfig.small(vocabSize: 150, imageSize: 30, imageTokenIndex: 0)
    }
    expectCheckpointError(["preset tiny", "image_token_index: 100 is outside the vocabulary"]) {
        _ = try LlavaConfig.tiny(vocabSize: 100, imageTokenIndex: 100)
    }
}

@Test func preprocessorConfigMatchesTransformers() throws {
    let path = checkpointFixture("processor/preprocessor_config.json").path
    let p = try ImageProcessorConfig.load(path)
    #expect(p == ImageProcessorConfig.square(32))
    #expect(p.size == .shortestEdge(32) && p.cropHeight == 32 && p.cropWidth == 32)
    #expect(p.resample == 3 && abs(p.rescaleFactor - 1.0 / 255.0) < 1e-15)

    // What we write is, key for key, what transformers wrote.
    let url = TestPaths.tempDir("pp").appendingPathComponent("preprocessor_config.json")
    try ImageProcessorConfig.square(32).save(to: url)
    let ours = try #require(try JSONFiles.readJSON(url.path) as? NSDictionary)
    let theirs = try #require(try JSONFiles.readJSON(path) as? NSDictionary)
    #expect(ours == theirs)

    // Older spellings: a bare integer size and crop size.
    try AtomicFile.write("{\"size\": 336, \"crop_size\": 336, \"image_mean\": 0.5, \"image_std\": [0.5, 0.5, 0.5]}", to: url)
    let old = try ImageProcessorConfig.load(url.path)
    #expect(old.size == .shortestEdge(336) && old.cropHeight == 336 && old.imageMean == [0.5, 0.5, 0.5])

    try AtomicFile.write("{\"size\": {\"height\": 32, \"width\": 48}, \"image_std\": [0.5, 0.5]}", to: url)
    expectCheckpointError(["preprocessor_config.json: image_std: expected 3 values"]) { _ = try ImageProcessorConfig.load(url.path) }
    try AtomicFile.write("{\"size\": {\"height\": 32}}", to: url)
    expectCheckpointError(["preprocessor_config.json: size.width: missing"]) { _ = try ImageProcessorConfig.load(url.path) }
    try AtomicFile.write("{\"size\": {\"longest_edge\": 32}}", to: url)
    expectCheckpointError(["preprocessor_config.json: size: expected"]) { _ = try ImageProcessorConfig.load(url.path) }
    try AtomicFile.write("{\"image_std\": [0.5, 0, 0.5]}", to: url)
    expectCheckpointError(["image_std: must be positive"]) { _ = try ImageProcessorConfig.load(url.path) }
    try AtomicFile.write("{\"do_resize\": \"yes\"}", to: url)
    expectCheckpointError(["preprocessor_config.json: do_resize: expected true or false"]) { _ = try ImageProcessorConfig.load(url.path) }
}
