import Foundation

/// The embedded defaults: the scene world and the baseline model trained on it, each built once
/// and cached under `HalluCache.root` (`$HALLU_CACHE`, else `~/.cache/hallu`):
///
///     world-seed<S>/                  the default world (hallu data synth)
///     baseline-<preset>-<key>/init/    the untrained model and the tokenizer trained on the world
///     baseline-<preset>-<key>/run/     the SFT run: model/, eval/ (CHAIR/POPE/SHR), summary.json
///
/// `<key>` hashes the data folder and the baseline's recipe (`BaselineBuilder.dir`).
public enum DefaultAssets {
    /// Special tokens of tokenizers trained on a world; `<image>` is the image placeholder id.
    public static let specialTokens = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]
    /// The system prompt of models hallu trains on the scene world (empty: the world's text is short,
    /// and a 30-token preamble would triple the cost of every step). Recorded in the checkpoint.
    public static let worldSystemPrompt = ""

    /// The cached default world, generated if absent or written by another version of the generator.
    public static func world(seed: UInt64 = 0, cacheRoot: URL = HalluCache.root, log: (String) -> Void) throws -> URL {
        let dir = cacheRoot.appendingPathComponent("world-seed\(seed)")
        var cfg = WorldConfig()
        cfg.seed = seed
        let worldFile = dir.appendingPathComponent(SceneWorld.Files.world).path
        if FileManager.default.fileExists(atPath: worldFile) {
            // A world from another generator version or default config is replaced, not reused.
            if let cached = try? WorldConfig.load(worldFile), cached == cfg.resolved { return dir }
            log("regenerating the default scene world in \(dir.path) (the cached one is from another version)")
        } else {
            log("generating the default scene world into \(dir.path) (once)")
        }
        try SceneWorld.synth(config: cfg, outDir: dir)
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
    static let baselineRecipeTag = "tokenizer:bpe-\(tokenizerVocabSize)+roles\(chatRoleMarkers)|system:\(worldSystemPrompt)"

    /// The training recipe of the default baseline per preset (measured to learn the world, see
    /// docs/RESULTS.md).
    public static func baselineConfig(preset: String, seed: UInt64) -> RunConfig {
        var c = RunConfig()
        c.method = "sft"
        c.preset = preset
        c.seed = seed
        c.batchSize = 64
        c.lr = 2e-3
        c.weightDecay = 0.01
        c.schedule = "cosine"
        c.minLrRatio = 0.1
        c.warmupSteps = 100
        c.clip = 1.0
        c.freezeVision = false
        c.saveEvery = 250
        // Batches of similar length: the world mixes ~100-token descriptions with ~40-token yes/no
        // questions, and random batches spend over half their rows on padding.
        c.groupByLength = true
        c.steps = preset == "tiny" ? 150 : 1500
        if preset == "tiny" { c.warmupSteps = 10 }
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
