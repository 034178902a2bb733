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
    public init() {}
    enum CodingKeys: String, CodingKey { case images, maxNewTokens = "max_new_tokens", popeMaxNewTokens = "pope_max_new_tokens", batchSize = "batch_size" }
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
    /// Generations made (descriptions and POPE answers) and how many of them were empty.
    public var generations: Int?
    public var emptyGenerations: Int?

    enum CodingKeys: String, CodingKey {
        case chair, pope, shr, extra, settings, generations, emptyGenerations = "empty_generations"
    }

    /// A warning when the model generated nothing for every prompt (its CHAIR and SHR then describe
    /// no text at all, and would read as perfect), else nil.
    public var emptyWarning: String? {
        guard let n = generations, let e = emptyGenerations, n > 0, e == n else { return nil }
        return "the model generated nothing (an empty answer) for all \(n) prompts: its CHAIR and SHR scores measure no text"
    }
}

/// Generates with a model on the eval split of a dataset (CHAIR prompts, POPE questions, the same
/// greedy descriptions for SHR), caches the generations in `outDir`, and scores them.
public struct ModelEvaluation {
    public let model: LlavaModel
    public let codec: PromptCodec
    public let images: ImageStore
    public let dataDir: URL
    public var settings: EvalSettings
    public var processors: [LogitsProcessor] = []
    public var log: (String) -> Void = { _ in }
    /// Whether `answer` shows a progress bar with an ETA over the prompts (on a terminal; log
    /// lines every few seconds otherwise).
    public var showProgress = false

    public init(model: LlavaModel, codec: PromptCodec, images: ImageStore, dataDir: URL, settings: EvalSettings) {
        self.model = model; self.codec = codec; self.images = images; self.dataDir = dataDir; self.settings = settings
    }

    func file(_ name: String) -> String { dataDir.appendingPathComponent(name).path }

    /// Greedy answers to `(image, question)` prompts, in batches, without a tape.
    public func answer(_ prompts: [(image: String, question: String)], maxNewTokens: Int) throws -> [String] {
        var out: [String] = []
        var cfg = GenerationConfig()
        cfg.maxNewTokens = maxNewTokens
        cfg.eosTokenId = codec.eosId
        let gen = Generator(model: model, processors: processors)
        let wasTraining = model.training
        model.train(false)
        defer { model.train(wasTraining) }
        let progress = showProgress ? Progress(total: prompts.count, unit: "answer", log: log) : nil
        for start in stride(from: 0, to: prompts.count, by: max(settings.batchSize, 1)) {
            let chunk = prompts[start..<min(start + settings.batchSize, prompts.count)]
            let ids = chunk.map { codec.prompt($0.question) }
            let inputs = LlavaInputs(ids: ids, pixels: try images.batch(chunk.map(\.image)))
            for g in try gen.generate(inputs, cfg) {
                out.append(codec.tokenizer.decode(g.filter { $0 != codec.eosId }).trimmingCharacters(in: .whitespaces))
            }
            progress?.update(out.count)
        }
        progress?.finish()
        return out
    }

    /// Runs all three evaluations; generations go to `outDir` (chair_captions.jsonl, pope_<split>_answers.jsonl).
    public func run(outDir: URL) throws -> ModelMetrics {
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
        var generated = captions
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
            generated += answers
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
        var metrics = ModelMetrics(chair: chair, pope: POPEReport(splits: splits), shr: shr, extra: nil, settings: settings)
        metrics.generations = generated.count
        metrics.emptyGenerations = generated.filter { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }.count
        if let w = metrics.emptyWarning { log("  warning: \(w)") }
        return metrics
    }
}
