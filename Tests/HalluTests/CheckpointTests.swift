import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// Deterministic weights of the right shapes for a config.
private func syntheticWeights(_ config: LlavaConfig, seed: UInt32 = 1) -> [String: HostArray] {
    var state = seed
    func next() -> Float {
        state = state &* 1_664_525 &+ 1_013_904_223
        return Float(Int32(bitPattern: state) >> 8) / Float(1 << 23)
    }
    return config.expectedWeightShapes.mapValues { shape in
        HostArray(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in next() })
    }
}

private func microConfig() throws -> LlavaConfig {
    try LlavaConfig.load(checkpointFixture("micro_llava/config.json").path)
}

// MARK: - Key checking and layouts

@Test func checkKeysListsEveryProblemAtOnce() throws {
    let expected = ["a.weight": [2, 3], "b.weight": [4], "c.weight": [1], "rot.rotary_emb.inv_freq": [2]]
    let found = ["a.weight": [3, 2], "b.weight": [4], "d.weight": [5], "e.rotary_emb.inv_freq": [8]]
    expectCheckpointError(["model.safetensors", "1 missing: c.weight", "1 unexpected: d.weight",
                           "1 with the wrong shape: a.weight: expected [2, 3], found [3, 2]"]) {
        try checkKeys(expected: expected, found: found, file: "model.safetensors")
    }
    do {
        try checkKeys(expected: expected, found: found, file: "m")
    } catch let e as HalluError {
        #expect(!e.message.contains("inv_freq"))
        #expect(!e.message.contains("b.weight"))
    }
    try checkKeys(expected: ["x": [1]], found: ["x": [1], "y.inv_freq": [3]], file: "m", ignoring: ["inv_freq"])
    expectCheckpointError(["1 unexpected: y.inv_freq"]) {
        try checkKeys(expected: ["x": [1]], found: ["x": [1], "y.inv_freq": [3]], file: "m", ignoring: [])
    }
    // Long lists are cut, with a count of the rest.
    let many = Dictionary(uniqueKeysWithValues: (0..<100).map { ("w\($0)", [1]) })
    expectCheckpointError(["100 missing", "and 60 more"]) { try checkKeys(expected: many, found: [:], file: "m") }
}

@Test func weightLayoutsRenameBothWays() throws {
    let names = Array(try microConfig().expectedWeightShapes.keys)
    for layout in LlavaWeightLayout.allCases {
        let renamed = names.map { layout.name(forCanonical: $0) }
        #expect(renamed.map(LlavaWeightLayout.canonicalName).sorted() == names.sorted(), "\(layout)")
        #expect(LlavaWeightLayout.detect(renamed) == layout, "\(layout)")
    }
    #expect(LlavaWeightLayout.legacy.name(forCanonical: "model.vision_tower.encoder.layers.0.mlp.fc1.weight")
            == "vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight")
    #expect(LlavaWeightLayout.legacy.name(forCanonical: "lm_head.weight") == "language_model.lm_head.weight")
    #expect(LlavaWeightLayout.modulesNested.name(forCanonical: "model.vision_tower.post_layernorm.bias")
            == "model.vision_tower.vision_model.post_layernorm.bias")
    #expect(LlavaWeightLayout.canonicalName("language_model.model.layers.3.self_attn.q_proj.weight")
            == "model.language_model.layers.3.self_attn.q_proj.weight")

    // What transformers 5 save_pretrained wrote is the flat legacy layout.
    let saved = try #require(try checkpointFixtureJSON("models.json")["micro"] as? [String: Any])["saved_keys"] as? [String]
    #expect(LlavaWeightLayout.detect(try #require(saved)) == .legacyFlat)

    expectCheckpointError(["model.safetensors", "\"lm_head.weight\"", "\"language_model.lm_head.weight\"", "mixed weight layouts"]) {
        _ = try LlavaWeightLayout.canonicalize(["lm_head.weight": 1, "language_model.lm_head.weight": 2], file: "model.safetensors")
    }
}

// MARK: - Checkpoint folders

@Test func checkpointFolderLoadsTransformersShards() throws {
    let folder = CheckpointFolder(checkpointFixture("micro_llava"))
    let config = try folder.loadConfig()
    let weights = try folder.loadWeights(checkedAgainst: config)
    let spec = try #require(try checkpointFixtureJSON("models.json")["micro"] as? [String: Any])
    let sums = try #require(spec["sums"] as? [String: Double])
    let heads = try #require(spec["head_bits"] as? [String: [Int]])
    #expect(Set(weights.keys) == Set(sums.keys))
    for (name, sum) in sums {
        let a = try #require(weights[name])
        let ours = a.values.reduce(0.0) { $0 + Double($1) }
        #expect(abs(ours - sum) <= 1e-9 * max(1, abs(sum)), "\(name)")
        #expect(checkpointBits(Array(a.values.prefix(4))) == heads[name]!.map { UInt32($0) }, "\(name)")
    }
    #expect(try folder.loadWeightShapes() == config.expectedWeightShapes)
    #expect(try folder.loadPreprocessor() == nil)
    #expect(try folder.loadAdapter() == nil)
}

@Test func checkpointFolderSavesAtomicallyAndLoadsBack() throws {
    let config = try microConfig()
    let weights = syntheticWeights(config)
    let parent = TestPaths.tempDir("ckpt")
    let url = parent.appendingPathComponent("model")
    let tokenizer = Data("{\"model\": {\"type\": \"BPE\"}}".utf8)
    try CheckpointFolder.save(arrays: weights, config: config, to: url, tokenizerJSON: tokenizer,
                              preprocessor: .square(16), extraFiles: ["trainer_state.json": Data("{}".utf8)])
    let folder = CheckpointFolder(url)
    #expect(try folder.loadConfig() == config)
    #expect(try folder.loadWeights(checkedAgainst: config) == weights)
    #expect(try folder.loadTokenizerJSON() == tokenizer)
    #expect(try folder.loadPreprocessor() == .square(16))
    #expect(FileManager.default.fileExists(atPath: url.appendingPathComponent("trainer_state.json").path))
    // Written in transformers 5's own names.
    #expect(LlavaWeightLayout.detect(try SafeTensors.shapes(folder.weightsURL.path).keys) == .modules)

    // Saving over an existing checkpoint replaces it whole and leaves no temporary folders.
    let other = syntheticWeights(config, seed: 2)
    try CheckpointFolder.save(arrays: other, config: config, to: url, layout: .legacy, dtype: .F32, maxShardBytes: 8_000)
    #expect(try folder.loadWeights() == other)
    #expect(try folder.loadTokenizerJSON() == nil)
    #expect(FileManager.default.fileExists(atPath: folder.weightsIndexURL.path))
    #expect(!FileManager.default.fileExists(atPath: folder.weightsURL.path))
    #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path) == ["model"])

    // A failed save leaves the previous checkpoint untouched.
    var bad = weights
    bad["model.language_model.norm.weight"] = HostArray(shape: [16], values: [1, 2])
    expectCheckpointError(["model.safetensors", "needs 16 values, has 2"]) {
        try CheckpointFolder.save(arrays: bad, config: config, to: url)
    }
    #expect(try folder.loadWeights() == other)
    #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path) == ["model"])

    expectCheckpointError(["leaves the checkpoint folder"]) {
        try CheckpointFolder.save(arrays: weights, config: config, to: url, extraFiles: ["../x": Data()])
    }
}

@Test func checkpointFolderReportsWrongWeights() throws {
    let config = try microConfig()
    var weights = syntheticWeights(config)
    weights["model.language_model.norm.weight"] = nil
    weights["model.multi_modal_projector.linear_1.weight"] = HostArray.zeros([16, 9])
    weights["model.language_model.layers.0.self_attn.rotary_emb.inv_freq"] = HostArray.zeros([4])
    weights["extra.weight"] = HostArray.zeros([1])
    let url = TestPaths.tempDir("ckpt").appendingPathComponent("wrong")
    try CheckpointFolder.save(arrays: weights, config: config, to: url, layout: .legacy)
    expectCheckpointError(["wrong/model.safetensors", "1 missing: model.language_model.norm.weight",
                           "1 unexpected: extra.weight",
                           "model.multi_modal_projector.linear_1.weight: expected [16, 8], found [16, 9]"]) {
        _ = try CheckpointFolder(url).loadWeights(checkedAgainst: config)
    }

    let empty = TestPaths.tempDir("ckpt")
    expectCheckpointError(["no model.safetensors or model.safetensors.index.json"]) { _ = try CheckpointFolder(empty).loadWeights() }
    expectCheckpointError(["config.json", "no such file"]) { _ = try CheckpointFolder(empty).loadConfig() }
    expectCheckpointError(["no such checkpoint folder"]) { _ = try CheckpointFolder(empty.appendingPathComponent("gone")).loadConfig() }
}

@Test func trainerCheckpointsRotateKeepingTheNewest() throws {
    let config = try microConfig()
    let weights = syntheticWeights(config)
    let run = TestPaths.tempDir("run")
    for step in [100, 200, 300, 1000, 50] {
        try CheckpointFolder.save(arrays: weights, config: config,
                                  to: run.appendingPathComponent(TrainerCheckpoints.folderName(step: step)))
    }
    try FileManager.default.createDirectory(at: run.appendingPathComponent(".checkpoint-400.tmp-1-2"), withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: run.appendingPathComponent("checkpoint-best"), withIntermediateDirectories: true)
    #expect(TrainerCheckpoints.list(in: run).map(\.step) == [50, 100, 200, 300, 1000])
    #expect(TrainerCheckpoints.latest(in: run)?.step == 1000)
    let removed = try TrainerCheckpoints.rotate(in: run, keepLast: 2)
    #expect(removed.map(\.lastPathComponent) == ["checkpoint-50", "checkpoint-100", "checkpoint-200", ".checkpoint-400.tmp-1-2"])
    #expect(try FileManager.default.contentsOfDirectory(atPath: run.path).sorted() == ["checkpoint-1000", "checkpoint-300", "checkpoint-best"])
    #expect(try CheckpointFolder(run.appendingPathComponent("checkpoint-1000")).loadWeights() == weights)
    expectCheckpointError(["keep-last count"]) { try TrainerCheckpoints.rotate(in: run, keepLast: -1) }
}

// MARK: - PEFT adapters

@Test func peftAdapterWrittenByPEFTLoads() throws {
    let adapter = try LoRAAdapter.load(from: checkpointFixture("adapter"))
    let spec = try #require(try checkpointFixtureJSON("models.json")["adapter"] as? [String: Any])
    let tensors = try #require(spec["tensors"] as? [String: [String: Any]])
    #expect(adapter.config.r == 2 && adapter.config.loraAlpha == 6 && adapter.config.scaling == 3)
    #expect(adapter.config.targetModules == .names(["q_proj", "v_proj"]))
    #expect(adapter.config.taskType == "CAUSAL_LM")
    #expect(adapter.modules.count * 2 == tensors.count)
    #expect(adapter.modules.keys.sorted().first == "model.language_model.layers.0.self_attn.q_proj")
    #expect(adapter.modules["model.vision_tower.encoder.layers.1.self_attn.v_proj"] != nil)
    for (key, t) in tensors {
        let (module, matrix) = try #require(PEFTNames.parse(key))
        let pair = try #require(adapter.modules[module])
        let a = matrix == .a ? pair.a : pair.b
        #expect(a.shape == checkpointInts(t["shape"]), "\(key)")
        #expect(checkpointBits(a.values) == checkpointInts(t["bits"]).map { UInt32($0) }, "\(key)")
        #expect(PEFTNames.key(module: module, matrix: matrix) == key)
    }
    let base = try CheckpointFolder(checkpointFixture("micro_llava")).loadWeightShapes()
    try adapter.validate(againstBase: base, file: "adapter")
    // PEFT's own matching rule: the targets are exactly the adapted modules.
    let targeted = base.keys.filter { $0.hasSuffix(".weight") }.map { String($0.dropLast(7)) }.filter(adapter.config.targets)
    #expect(Set(targeted) == Set(adapter.modules.keys))

    // Saved again in transformers 5's names: the same keys and bytes of tensor data.
    let dir = TestPaths.tempDir("lora")
    try adapter.save(to: dir)
    #expect(try SafeTensors.shapes(dir.appendingPathComponent(LoRAAdapter.weightsFileName).path).keys.sorted() == tensors.keys.sorted())
    #expect(try LoRAAdapter.load(from: dir) == adapter)
    // Older key layout loads to the same adapter.
    let legacy = TestPaths.tempDir("lora")
    try adapter.save(to: legacy, layout: .legacy)
    #expect(try SafeTensors.shapes(legacy.appendingPathComponent(LoRAAdapter.weightsFileName).path).keys
        .contains("base_model.model.language_model.model.layers.0.self_attn.q_proj.lora_A.weight"))
    #expect(try LoRAAdapter.load(from: legacy) == adapter)
}

@Test func peftAdapterRefusesWhatItCannotApply() throws {
    let good = try LoRAAdapter.load(from: checkpointFixture("adapter"))
    let q = "model.language_model.layers.0.self_attn.q_proj"

    func writeAdapter(config: [String: Any]? = nil, arrays: [String: HostArray]) throws -> URL {
        let dir = TestPaths.tempDir("lora")
        try SafeTensors.write(arrays, to: dir.appendingPathComponent(LoRAAdapter.weightsFileName))
        var cfg = try checkpointFixtureJSON("adapter/adapter_config.json")
        for (k, v) in config ?? [:] { cfg[k] = v }
        try AtomicFile.writeJSON(cfg, to: dir.appendingPathComponent(LoRAAdapter.configFileName))
        return dir
    }
    let a = good.modules[q]!.a, b = good.modules[q]!.b
    let keyA = PEFTNames.key(module: q, matrix: .a), keyB = PEFTNames.key(module: q, matrix: .b)

    let onlyA = try writeAdapter(arrays: [keyA: a])
    expectCheckpointError(["adapter_model.safetensors", "\(q) has lora_A but no lora_B"]) { _ = try LoRAAdapter.load(from: onlyA) }

    let wrongRank = try writeAdapter(arrays: [keyA: .zeros([3, 16]), keyB: .zeros([16, 3])])
    expectCheckpointError(["lora_A [3, 16] and lora_B [16, 3] do not have rank r = 2"]) { _ = try LoRAAdapter.load(from: wrongRank) }

    let stray = try writeAdapter(arrays: [keyA: a, keyB: b, "base_model.model.lm_head.weight": .zeros([2])])
    expectCheckpointError(["\"base_model.model.lm_head.weight\" is not a LoRA weight"]) { _ = try LoRAAdapter.load(from: stray) }

    let notLora = try writeAdapter(config: ["peft_type": "IA3"], arrays: [keyA: a, keyB: b])
    expectCheckpointError(["adapter_config.json: peft_type: only \"LORA\""]) { _ = try LoRAAdapter.load(from: notLora) }

    let dora = try writeAdapter(config: ["use_dora": true], arrays: [keyA: a, keyB: b])
    expectCheckpointError(["adapter_config.json: use_dora: DoRA"]) { _ = try LoRAAdapter.load(from: dora) }

    let ranks = try writeAdapter(config: ["rank_pattern": ["q_proj": 4]], arrays: [keyA: a, keyB: b])
    expectCheckpointError(["rank_pattern: per-module ranks"]) { _ = try LoRAAdapter.load(from: ranks) }

    let noR = try writeAdapter(config: ["r": NSNull()], arrays: [keyA: a, keyB: b])
    expectCheckpointError(["adapter_config.json: r: expected an integer, found null"]) { _ = try LoRAAdapter.load(from: noR) }

    let regex = try writeAdapter(config: ["target_modules": ".*language_model.*\\.(q_proj|v_proj)"], arrays: [keyA: a, keyB: b])
    let loaded = try LoRAAdapter.load(from: regex)
    #expect(loaded.config.targets(q))
    #expect(!loaded.config.targets("model.vision_tower.encoder.layers.0.self_attn.q_proj"))

    // Against a base whose weight has another shape.
    expectCheckpointError(["base", "adapter for \(q)", "do not fit its weight [16, 15]"]) {
        try good.validate(againstBase: [q + ".weight": [16, 15]], file: "base")
    }
    expectCheckpointError(["which the base model does not have"]) { try good.validate(againstBase: [:], file: "base") }
}

// MARK: - Export for the reference libraries

/// Writes files for `scripts/gen_checkpoint_fixtures.py --verify DIR`, which loads them with
/// safetensors, transformers and peft. Writes to HALLU_CHECKPOINT_EXPORT when set, else to a
/// temporary folder (the writing itself is still exercised).
@Test func checkpointExportForPython() throws {
    let env = ProcessInfo.processInfo.environment["HALLU_CHECKPOINT_EXPORT"]
    let dir = env.map { URL(fileURLWithPath: $0) } ?? TestPaths.tempDir("export")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)

    let plain: [String: HostArray] = [
        "f32": HostArray(shape: [2, 3], values: [1, -2.5, 3e-8, 65504, -0.0, 7]),
        "scalar": HostArray(shape: [], values: [42]),
        "empty": HostArray(shape: [0, 4], values: []),
    ]
    let meta = ["format": "pt", "writer": "hallu \"quoted\" \\ é"]
    try SafeTensors.write(plain, to: dir.appendingPathComponent("plain.safetensors"), metadata: meta)

    let config = try microConfig()
    var c = config
    c.text.ropeTheta = 12_345
    let weights = try CheckpointFolder(checkpointFixture("micro_llava")).loadWeights()
    let adapter = try LoRAAdapter.load(from: checkpointFixture("adapter"))
    try CheckpointFolder.save(arrays: weights, config: c, to: dir.appendingPathComponent("checkpoint"),
                              preprocessor: .square(16), adapter: adapter)

    var expected: [String: Any] = [
        "plain_metadata": meta,
        "plain": plain.mapValues { ["shape": $0.shape, "bits": checkpointBits($0.values)] },
        "rope_theta": 12_345.0,
        "adapter_tensors": adapter.modules.count * 2,
    ]
    var heads: [String: [UInt32]] = [:]
    for (name, a) in weights { heads[name] = checkpointBits(Array(a.values.prefix(8))) }
    expected["checkpoint_bits"] = heads
    try AtomicFile.writeJSON(expected, to: dir.appendingPathComponent("expected.json"))
    #expect(try CheckpointFolder(dir.appendingPathComponent("checkpoint")).loadAdapter() == adapter)
}
