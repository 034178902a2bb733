import Foundation

/// The embedded defaults: the scene world and the baseline model trained on it, each built once
/// and cached under `HalluCache.root` (`$HALLU_CACHE`, else `~/.cache/hallu`):
///
///     world-seed<S>/                  the default world (hallu data synth)
///     baseline-<preset>-<key>/init/    the model before SFT (vision tower pretrained on the category,
///                                      colour and size under each patch, the rest untrained) and the
///                                      tokenizer trained on the world
///     baseline-<preset>-<key>/ground/  stage 1: SFT on the yes/no questions (ground-data/ holds them)
///     baseline-<preset>-<key>/run/     stage 2: SFT on the mix (mix-data/ holds it: two yes/no questions
///                                      per image): model/, eval/ (CHAIR/POPE/SHR), summary.json
///
/// `<key>` hashes the data folder and the baseline's recipe (`BaselineBuilder.dir`).
public enum DefaultAssets {
    /// Special tokens of tokenizers trained on a world; `<image>` is the image placeholder id.
    public static let specialTokens = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]
    /// The system prompt of models hallu trains on the scene world (empty: the world's text is short,
    /// and a 30-token preamble would triple the cost of every step). Recorded in the checkpoint.
    public static let worldSystemPrompt = ""

    /// The cached default world with the files of `exports`, generated if absent, written by another
    /// version of the generator, or missing an export's files.
    public static func world(seed: UInt64 = 0, exports: [WorldExport] = [], cacheRoot: URL = HalluCache.root,
                             log: (String) -> Void) throws -> URL {
        let dir = cacheRoot.appendingPathComponent("world-seed\(seed)")
        var cfg = WorldConfig()
        cfg.seed = seed
        if SceneWorld.isComplete(dir, config: cfg, exports: exports) { return dir }
        let worldFile = dir.appendingPathComponent(SceneWorld.Files.world).path
        if let cached = try? WorldConfig.load(worldFile), cached == cfg.resolved {
            log("regenerating the default scene world in \(dir.path) to add \(exports.map(\.name).joined(separator: ", "))'s files")
        } else if FileManager.default.fileExists(atPath: worldFile) {
            // A world from another generator version or default config is replaced, not reused.
            log("regenerating the default scene world in \(dir.path) (the cached one is from another version)")
        } else {
            log("generating the default scene world into \(dir.path) (once)")
        }
        try SceneWorld.synth(config: cfg, outDir: dir, exports: exports)
        return dir
    }

    /// Vocabulary cap of the tokenizer trained on a world. The default world's text runs out of
    /// pairs to merge at 537 entries, so every word and role marker is one or two tokens.
    public static let tokenizerVocabSize = 640
    /// The LLaVA v1 template's role markers as they appear in a rendered conversation.
    static let chatRoleMarkers = " USER: ASSISTANT:"

    /// Trains a byte-level BPE tokenizer on the texts of a dataset.
    public static func trainTokenizer(_ data: Dataset, vocabSize: Int = tokenizerVocabSize) -> Tokenizer {
        var corpus: [String] = []
        for c in data.conversations {
            for t in c.turns { corpus.append(t.value.replacingOccurrences(of: "<image>", with: "")) }
            // The chat template's role markers occur once per turn in training; without them in the
            // corpus the BPE spells each byte by byte (17 of a yes/no question's 43 tokens).
            corpus.append(chatRoleMarkers)
        }
        for p in data.preferences { corpus += [p.question, p.chosen, p.rejected] }
        for c in data.contrastive { corpus += [c.caption] + c.hallucinatedCaptions }
        return Tokenizer.train(corpus: corpus, vocabSize: vocabSize, specialTokens: specialTokens)
    }

    /// Names what else shapes a cached baseline besides its training config (the tokenizer recipe
    /// above, the system prompt): part of the cache key, so a changed recipe never reuses a stale
    /// baseline.
    static var baselineRecipeTag: String {
        let v = visionPretraining(preset: "small"), t = visionPretraining(preset: "tiny")
        return "tokenizer:bpe-\(tokenizerVocabSize)+roles\(chatRoleMarkers)|system:\(worldSystemPrompt)"
            + "|vision:patches+color+size-\(v.steps)x\(v.batchSize)@\(v.lr)-tiny\(t.steps)"
            + "|mixed-yes-no:\(mixedYesNoPerImage)"
    }

    /// Stage 0 of the default baseline on a scene world: the vision tower learns to name the object
    /// under each patch, its colour and size (`VisionPretraining`), then stays frozen through SFT, as
    /// LLaVA's CLIP does.
    /// The small preset's tower names every object patch of the default world right by step 300 of 600
    /// (25 s on 2 cores).
    public static func visionPretraining(preset: String) -> VisionPretraining {
        var v = VisionPretraining()
        v.steps = preset == "tiny" ? 60 : 600
        return v
    }

    /// The grounding stage of the default baseline: SFT on the world's yes/no questions alone, from
    /// the initial model with its pretrained vision tower (`BaselineBuilder.ground`).
    /// Unlike the mixed stage it decays to zero, without weight decay or length grouping: with the
    /// mixed stage's settings the answer loss left its plateau near step 230 and fell back onto it.
    /// 800 steps: the step at which the loss leaves its plateau varies with the world, from about
    /// 250 to about 450 on format 4 worlds; 400 steps left some on it (docs/history/RESULTS-2026-11.md).
    public static func groundingConfig(preset: String, seed: UInt64) -> RunConfig {
        var c = worldSFT(preset: preset, seed: seed)
        c.warmupSteps = preset == "tiny" ? 5 : 20
        c.steps = preset == "tiny" ? 30 : 800
        c.saveEvery = 100
        c.skipEval = true
        return c
    }

    /// What both SFT stages of the default baseline share: batch 64, AdamW at 2e-3 on a cosine
    /// schedule, clipping at 1, the pretrained vision tower frozen.
    static func worldSFT(preset: String, seed: UInt64) -> RunConfig {
        var c = RunConfig()
        c.method = "sft"
        c.preset = preset
        c.seed = seed
        c.batchSize = 64
        c.lr = 2e-3
        c.schedule = "cosine"
        c.clip = 1.0
        c.freezeVision = true
        return c
    }

    /// How many yes/no questions per image the mixed stage keeps. The grounding stage has taught
    /// them; with all four of the world's, descriptions are a sixth of the mixed stage's batches,
    /// and whether the decoder learned to name colours within 1200 steps varied with the world
    /// (docs/RESULTS.md).
    public static let mixedYesNoPerImage = 2

    /// The training recipe of the default baseline per preset (measured to learn the world, see
    /// docs/RESULTS.md): the mixed stage, continued from the grounding stage.
    public static func baselineConfig(preset: String, seed: UInt64) -> RunConfig {
        var c = worldSFT(preset: preset, seed: seed)
        c.weightDecay = 0.01
        c.minLrRatio = 0.1
        c.saveEvery = 250
        // Batches of similar length: the world mixes ~100-token descriptions with ~40-token yes/no
        // questions, and random batches spend over half their rows on padding.
        c.groupByLength = true
        // 1200 steps: after 600 the descriptions of the default world still named colours at chance
        // and repeated objects; after 1200 they name 98% of colours right (docs/RESULTS.md).
        c.steps = preset == "tiny" ? 150 : 1200
        c.warmupSteps = preset == "tiny" ? 10 : 50
        return c
    }
}

/// Settings stored with a checkpoint that are not part of Hugging Face's config: the chat template.
public struct HalluCheckpointInfo: Codable, Equatable {
    public var chatTemplate = "llava_v1"
    public var systemPrompt = ChatTemplate.vicunaSystem
    public init() {}
    enum CodingKeys: String, CodingKey { case chatTemplate = "chat_template", systemPrompt = "system_prompt" }

    public static let fileName = "hallu.json"
    public static func load(_ dir: URL) throws -> HalluCheckpointInfo {
        let f = dir.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: f.path) else { return HalluCheckpointInfo() }
        return try CheckpointJSON.read(HalluCheckpointInfo.self, from: f.path)
    }
}
