import Foundation

/// How a checkpoint is evaluated: which images, how long the answers, how many per batch.
public struct EvalSettings: Codable, Equatable {
    /// Use the first N eval images (nil = all).
    public var images: Int? = nil
    /// Length of generated descriptions (CHAIR and SHR): above the default world's longest training
    /// description (89 tokens), so that CHAIR scores what the model says, not where it was cut off.
    public var maxNewTokens = 128
    /// Length of yes/no answers: POPE reads only the words before the first period, and the scene
    /// world's "A dining table does not ..." decides by its sixth token.
    public var popeMaxNewTokens = 8
    public var batchSize = 64
    /// Decoding method and its resolved options (nil: plain decoding).
    public var decode: String? = nil
    public var decodeOptions: [String: String]? = nil
    /// Beam width and sampling settings (nil: greedy).
    public var numBeams: Int? = nil
    public var temperature: Float? = nil
    public var topP: Float? = nil
    public var seed: UInt64? = nil
    public init() {}
    enum CodingKeys: String, CodingKey {
        case images, maxNewTokens = "max_new_tokens", popeMaxNewTokens = "pope_max_new_tokens", batchSize = "batch_size"
        case decode, decodeOptions = "decode_options", numBeams = "num_beams", temperature, topP = "top_p", seed
    }

    /// The generation settings these select (lengths are set per task).
    public var generation: GenerationConfig {
        var cfg = GenerationConfig()
        cfg.numBeams = numBeams ?? 1
        cfg.temperature = temperature ?? 0
        cfg.topP = topP ?? 1
        cfg.seed = seed ?? 0
        return cfg
    }
}

/// CHAIR, POPE (three splits) and SHR of one model on a dataset's eval files. Encodes to the CLI
/// contract: `{"chair": {...}, "pope": {"random", "popular", "adversarial", "average"}, "shr": {...}}`.
public struct ModelMetrics: Codable, Equatable {
    public var chair: CHAIRReport
    public var pope: POPEReport
    public var shr: SHRReport
    /// Method-specific numbers (e.g. HACL's retrieval accuracy).
    public var extra: [String: Double]?
    /// Generation settings used, recorded with the numbers.
    public var settings: EvalSettings?
}

/// Generates with a model on the eval split of a dataset (CHAIR prompts, POPE questions, the same
/// greedy descriptions for SHR), caches the generations in `outDir`, and scores them.
public struct ModelEvaluation {
    public let model: LlavaModel
    public let codec: PromptCodec
    public let images: ImageStore
    public let dataDir: URL
    public var settings: EvalSettings
    /// Decoding hooks (a method's, then the decoding method's) applied to every generation.
    public var hooks: [DecodingHook] = []
    /// What generation cost so far (forward passes, tokens) and its wall time in seconds.
    public private(set) var cost = GenerationStats()
    public private(set) var generationSeconds = 0.0
    public var log: (String) -> Void = { _ in }
    /// Whether `answer` shows a progress bar with an ETA over the prompts (on a terminal; log
    /// lines every few seconds otherwise).
    public var showProgress = false

    public init(model: LlavaModel, codec: PromptCodec, images: ImageStore, dataDir: URL, settings: EvalSettings) {
        self.model = model; self.codec = codec; self.images = images; self.dataDir = dataDir; self.settings = settings
    }

    func file(_ name: String) -> String { dataDir.appendingPathComponent(name).path }

    /// Answers to `(image, question)` prompts (decoded as `settings` and `hooks` say), in batches, without a tape.
    public mutating func answer(_ prompts: [(image: String, question: String)], maxNewTokens: Int) throws -> [String] {
        var out: [String] = []
        var cfg = settings.generation
        cfg.maxNewTokens = maxNewTokens
        cfg.eosTokenId = codec.eosId
        let gen = Generator(model: model, hooks: hooks)
        let wasTraining = model.training
        model.train(false)
        defer { model.train(wasTraining) }
        let progress = showProgress ? Progress(total: prompts.count, unit: "answer", log: log) : nil
        for start in stride(from: 0, to: prompts.count, by: max(settings.batchSize, 1)) {
            let chunk = prompts[start..<min(start + settings.batchSize, prompts.count)]
            let ids = chunk.map { codec.prompt($0.question) }
            let inputs = LlavaInputs(ids: ids, pixels: try images.batch(chunk.map(\.image)))
            let clock = Date()
            let (generated, stats) = try gen.generateWithStats(inputs, cfg)
            generationSeconds += Date().timeIntervalSince(clock)
            cost += stats
            for g in generated {
                out.append(codec.tokenizer.decode(g.filter { $0 != codec.eosId }).trimmingCharacters(in: .whitespaces))
            }
            progress?.update(out.count)
        }
        progress?.finish()
        return out
    }

    /// Runs all three evaluations; generations go to `outDir` (chair_captions.jsonl, pope_<split>_answers.jsonl).
    public mutating func run(outDir: URL) throws -> ModelMetrics {
        let clock = Date()
        // CHAIR prompts, on the first N eval images.
        var prompts = try JSONFiles.readJSONLines(file(SceneWorld.Files.chairPrompts)).map { line, r -> (id: String, image: String, text: String) in
            guard let image = r["image"] as? String else { throw HalluError.missingKey("image", in: file(SceneWorld.Files.chairPrompts), line: line) }
            let id = ImageID.canonical(r["image_id"] ?? image) ?? image
            return (id, image, (r["text"] as? String) ?? "Please describe this image in detail.")
        }
        if let n = settings.images { prompts = Array(prompts.prefix(n)) }
        let keep = Set(prompts.map(\.image))
        let captions = try answer(prompts.map { ($0.image, $0.text) }, maxNewTokens: settings.maxNewTokens)
        var lines = ""
        for (p, c) in zip(prompts, captions) {
            let rec: [String: Any] = ["image_id": p.id, "image": p.image, "text": c]
            lines += String(data: try JSONSerialization.data(withJSONObject: rec, options: [.sortedKeys]), encoding: .utf8)! + "\n"
        }
        try AtomicFile.write(lines, to: outDir.appendingPathComponent("chair_captions.jsonl"))
        let gt = try CHAIRGroundTruth.load(path: file(SceneWorld.Files.chairGT))
        let chair = CHAIREvaluator(groundTruth: gt).evaluate(captions: zip(prompts, captions).map { CHAIRCaption(imageId: $0.id, text: $1) })
        log(String(format: "  CHAIR on %d images (%.0fs)", prompts.count, Date().timeIntervalSince(clock)))

        // POPE, three splits, restricted to the same images.
        var splits: [(name: String, metrics: POPEMetrics)] = []
        for split in ["random", "popular", "adversarial"] {
            let qs = try POPEEval.loadQuestions(path: file("pope_\(split).jsonl")).filter { keep.contains($0.image ?? "") }
            let answers = try answer(qs.map { ($0.image ?? "", $0.text) }, maxNewTokens: settings.popeMaxNewTokens)
            var text = ""
            for (q, a) in zip(qs, answers) {
                let rec: [String: Any] = ["question_id": q.questionId ?? "", "question": q.text, "answer": a]
                text += String(data: try JSONSerialization.data(withJSONObject: rec, options: [.sortedKeys]), encoding: .utf8)! + "\n"
            }
            try AtomicFile.write(text, to: outDir.appendingPathComponent("pope_\(split)_answers.jsonl"))
            splits.append((split, try POPEScorer.score(questions: qs, answers: zip(qs, answers).map { POPEAnswer(questionId: $0.questionId, text: $1) })))
        }
        log(String(format: "  POPE on %d questions (%.0fs)", splits.reduce(0) { $0 + $1.metrics.n }, Date().timeIntervalSince(clock)))

        // SHR with the ground-truth judge on the same descriptions.
        let facts = try SHREval.loadSceneFacts(path: file(SceneWorld.Files.shrFacts))
        let shrImages = zip(prompts, captions).map { SHRImage(id: $0.id, response: $1, scene: facts[$0.id]) }
        let shr = try SHREvaluator(judge: SceneGroundTruthJudge()).evaluate(images: shrImages)
        return ModelMetrics(chair: chair, pope: POPEReport(splits: splits), shr: shr, extra: nil, settings: settings)
    }

    /// What the answers cost, for `decoding_cost.json`: forward passes per generated token and
    /// generated tokens per second (wall time of generation only).
    public var decodingCost: [String: Double] {
        let tokens = Double(max(cost.generatedTokens, 1))
        return ["forward_passes": Double(cost.forwardPasses), "generated_tokens": Double(cost.generatedTokens),
                "seconds": generationSeconds, "forward_passes_per_token": Double(cost.forwardPasses) / tokens,
                "tokens_per_second": generationSeconds > 0 ? Double(cost.generatedTokens) / generationSeconds : 0]
    }
}
