import CoreRuntime
import Foundation

/// What one detector prompt covers.
public enum DetectorGranularity: String, CaseIterable, Sendable {
    /// The whole response as numbered sentences; the answer has one `DetectionFormat` line per sentence
    /// (HSA-DPO's detector reads the full response).
    case response
    /// One sentence per prompt; the answer is one verdict ("correct" / "hallucination: object: 3").
    case sentence
}

/// An LVLM fine-tuned by hallu to label hallucinated sentences (HSA-DPO's detector): a copy of the
/// base model trained by SFT on detection conversations built from `hsa_dpo_detection.jsonl`, answering
/// in `DetectionFormat`. Shares the policy's tokenizer, chat template and image pipeline.
public final class ModelDetector: HallucinationDetector {
    public let model: LlavaModel
    public let codec: PromptCodec
    public let images: ImageStore
    public let granularity: DetectorGranularity
    public var batchSize = 64
    /// Replies of the last `detect` call that did not give a verdict for every sentence.
    public private(set) var unparsed = 0
    public var name: String { "model" }

    public init(model: LlavaModel, codec: PromptCodec, images: ImageStore, granularity: DetectorGranularity) {
        self.model = model; self.codec = codec; self.images = images; self.granularity = granularity
    }

    /// The question of a whole-response prompt (followed by the numbered sentences).
    public static let responseInstruction = "Which sentences about this image are hallucinated?"
    /// The question of a one-sentence prompt (followed by the sentence).
    public static let sentenceInstruction = "Is this sentence about the image hallucinated?"

    /// The human turns (without `<image>`) for one response's sentences: one prompt, or one per sentence.
    public static func prompts(_ sentences: [String], granularity: DetectorGranularity) -> [String] {
        switch granularity {
        case .response: return [responseInstruction + "\n" + SHRText.numbered(sentences).trimmingCharacters(in: .newlines)]
        case .sentence: return sentences.map { sentenceInstruction + "\n" + $0 }
        }
    }

    /// The target answers matching `prompts` for labelled sentences.
    public static func answers(_ labels: [DetectionSentence], granularity: DetectorGranularity) -> [String] {
        switch granularity {
        case .response: return [DetectionFormat.render(labels)]
        case .sentence: return labels.map { DetectionFormat.line($0) }
        }
    }

    /// SFT conversations for labelled responses.
    public static func conversations(_ examples: [DetectionExample], granularity: DetectorGranularity) -> [Conversation] {
        examples.flatMap { ex -> [Conversation] in
            let qs = prompts(ex.sentences.map(\.text), granularity: granularity)
            let as_ = answers(ex.sentences, granularity: granularity)
            return zip(qs, as_).enumerated().map { k, qa in
                Conversation(id: granularity == .response ? ex.id : "\(ex.id)-\(k)", image: ex.image,
                             turns: [ConversationTurn(from: "human", value: "<image>\n" + qa.0), ConversationTurn(from: "gpt", value: qa.1)])
            }
        }
    }

    public func detect(_ queries: [DetectionQuery]) throws -> [[DetectionSentence]] {
        // Flatten to prompts, remembering which response and sentences each covers.
        var prompts: [(image: String, text: String, query: Int, sentences: Int)] = []
        for (qi, q) in queries.enumerated() where !q.sentences.isEmpty {
            let ps = Self.prompts(q.sentences, granularity: granularity)
            for p in ps { prompts.append((q.image, p, qi, granularity == .response ? q.sentences.count : 1)) }
        }
        let perLine = codec.tokenizer.encode("99. hallucination: attribute: 3\n", addSpecialTokens: false).count + 2
        var replies: [String] = []
        let gen = Generator(model: model)
        model.train(false)
        let size = max(batchSize, 1)
        for start in stride(from: 0, to: prompts.count, by: size) {
            let chunk = Array(prompts[start..<min(start + size, prompts.count)])
            var cfg = GenerationConfig()
            cfg.eosTokenId = codec.eosId
            cfg.maxNewTokens = perLine * (chunk.map(\.sentences).max() ?? 1) + 4
            let inputs = LlavaInputs(ids: chunk.map { codec.prompt($0.text) }, pixels: try images.batch(chunk.map(\.image)))
            for g in try gen.generate(inputs, cfg) { replies.append(codec.tokenizer.decode(g.filter { $0 != codec.eosId })) }
        }
        var out = queries.map { $0.sentences.map(DetectionSentence.correct) }
        var cursor = [Int](repeating: 0, count: queries.count)
        unparsed = 0
        for (p, reply) in zip(prompts, replies) {
            let verdicts: [DetectionSentence?]
            switch granularity {
            case .response: verdicts = DetectionFormat.parse(reply, count: p.sentences)
            case .sentence: verdicts = [DetectionFormat.verdict(reply)]
            }
            if verdicts.contains(where: { $0 == nil }) { unparsed += 1 }
            for v in verdicts {
                let k = cursor[p.query]
                cursor[p.query] += 1
                guard var v, k < out[p.query].count else { continue }
                v.text = queries[p.query].sentences[k]
                out[p.query][k] = v
            }
        }
        return out
    }

    // MARK: training

    /// How the detector is fine-tuned.
    public struct Training: Equatable, Sendable {
        public var steps = 300
        public var batchSize = 32
        public var lr = 1e-3
        public var warmupSteps = 20
        public var seed: UInt64 = 0
        /// Train the vision tower too (off: the base model's image features are kept).
        public var trainVision = false
        public init() {}
    }

    /// A copy of `base` (enabled LoRA adapters folded in) fine-tuned on `examples` for
    /// `settings.steps` AdamW steps with the trainer (cosine schedule, clipping at 1). The trainer's
    /// checkpoint and metrics go to `dir`.
    public static func train(base: LlavaModel, codec: PromptCodec, images: ImageStore, examples: [DetectionExample],
                             granularity: DetectorGranularity, settings: Training, dir: URL,
                             log: @escaping (String) -> Void) throws -> ModelDetector {
        guard !examples.isEmpty else { throw HalluError("model detector: no detection examples to train on (hsa_dpo_detection.jsonl)") }
        guard settings.steps > 0 else { throw HalluError("model detector: detector_steps must be positive, got \(settings.steps)") }
        let model = try base.mergedCopy()
        model.setTrainable(true, prefixes: [""])
        if !settings.trainVision { model.setTrainable(false, prefixes: ["model.vision_tower"]) }
        var cfg = RunConfig()
        cfg.method = "sft"
        cfg.steps = settings.steps
        cfg.batchSize = settings.batchSize
        cfg.lr = settings.lr
        cfg.warmupSteps = settings.warmupSteps
        cfg.schedule = "cosine"
        cfg.minLrRatio = 0.1
        cfg.seed = settings.seed
        cfg.saveEvery = 0
        cfg.keepLast = 1
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let ctx = TrainContext(model: model, codec: codec, images: images, config: cfg, runDir: dir)
        ctx.log = log
        ctx.data = TrainingData(conversations: conversations(examples, granularity: granularity))
        let trainer = try Trainer(context: ctx, methods: [(SFTMethod(), 1)], totalSteps: settings.steps)
        try trainer.resumeIfPossible()
        try trainer.run()
        model.setTrainable(false, prefixes: [""])
        return ModelDetector(model: model, codec: codec, images: images, granularity: granularity)
    }

    /// The pipeline's model detector: loaded from `detector_model` when set, else trained on the
    /// setup's labelled records into the run folder's `detector/`.
    static func make(_ s: DetectorSetup) throws -> HallucinationDetector {
        let ctx = s.context, settings = s.settings
        let folder = ctx.runDir.appendingPathComponent(HSAPipeline.detectorFolder)
        if let path = settings.detectorModel {
            ctx.log("hsadpo pipeline: loading the detector from \(path)")
            let d = try load(URL(fileURLWithPath: path), policy: ctx.model, codec: ctx.codec, images: ctx.images, granularity: settings.granularity)
            d.batchSize = settings.batchSize
            return d
        }
        guard !s.training.isEmpty else {
            throw HalluError.file(s.dataDir.path, "hsadpo detector=model needs hsa_dpo_detection.jsonl with more than detector_heldout (\(settings.heldout)) records")
        }
        var t = settings.detectorTraining
        t.seed = ctx.config.seed
        ctx.log("hsadpo pipeline: training the detector on \(s.training.count) labelled descriptions for \(t.steps) steps -> \(folder.path)")
        let d = try train(base: ctx.model, codec: ctx.codec, images: ctx.images, examples: s.training,
                          granularity: settings.granularity, settings: t, dir: folder, log: ctx.log)
        d.batchSize = settings.batchSize
        try d.save(to: folder.appendingPathComponent("model"))
        return d
    }

    /// Saves the detector as a checkpoint folder (with the policy's tokenizer), loadable with `load`.
    public func save(to dir: URL) throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("hallu-detector-tok-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).json")
        try codec.tokenizer.save(tmp.path)
        defer { try? FileManager.default.removeItem(at: tmp) }
        try model.save(to: dir, tokenizerJSON: try Data(contentsOf: tmp), preprocessor: nil)
        var info = HalluCheckpointInfo()
        info.systemPrompt = codec.template.system
        try CheckpointJSON.write(info, to: dir.appendingPathComponent(HalluCheckpointInfo.fileName))
    }

    /// Loads a detector saved by `save`; it must have the policy's vocabulary and image token.
    public static func load(_ dir: URL, policy: LlavaModel, codec: PromptCodec, images: ImageStore,
                            granularity: DetectorGranularity) throws -> ModelDetector {
        let model = try LlavaModel.load(dir)
        guard model.config.text.vocabSize == policy.config.text.vocabSize, model.config.imageTokenIndex == policy.config.imageTokenIndex,
              model.config.vision.imageSize == policy.config.vision.imageSize else {
            throw HalluError.file(dir.path, "detector vocabulary, image token or image size does not match the policy's "
                + "(\(model.config.text.vocabSize)/\(model.config.imageTokenIndex) vs \(policy.config.text.vocabSize)/\(policy.config.imageTokenIndex))")
        }
        model.setTrainable(false, prefixes: [""])
        return ModelDetector(model: model, codec: codec, images: images, granularity: granularity)
    }
}
