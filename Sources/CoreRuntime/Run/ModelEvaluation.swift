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
    /// Products with bfloat16 weights (`HalfProducts` raw value; nil: widened, the default).
    public var halfProducts: String? = nil
    public init() {}
    enum CodingKeys: String, CodingKey {
        case images, maxNewTokens = "max_new_tokens", popeMaxNewTokens = "pope_max_new_tokens", batchSize = "batch_size"
        case decode, decodeOptions = "decode_options", numBeams = "num_beams", temperature, topP = "top_p", seed
        case halfProducts = "half_products"
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

/// Every evaluator's report on one model, by evaluator name. Encodes to the CLI contract:
/// `{"chair": {...}, "pope": {"random", "popular", "adversarial", "average"}, "shr": {...}}`, then
/// any plugin evaluator's report under its name, and `extra` and `settings`.
public struct ModelMetrics: Codable, Equatable {
    /// Reports in evaluation order.
    public var reports: [(name: String, report: OrderedJSON)] = []
    /// Method-specific numbers (e.g. a contrastive method's retrieval accuracy).
    public var extra: [String: Double]?
    /// Generation settings used, recorded with the numbers.
    public var settings: EvalSettings?
    /// Generations made (descriptions and answers) and how many of them were empty.
    public var generations: Int?
    public var emptyGenerations: Int?

    /// A warning when the model generated nothing for every prompt (its CHAIR and SHR then describe
    /// no text at all, and would read as perfect), else nil.
    public var emptyWarning: String? {
        guard let n = generations, let e = emptyGenerations, n > 0, e == n else { return nil }
        return "the model generated nothing (an empty answer) for all \(n) prompts: its CHAIR and SHR scores measure no text"
    }

    public init(reports: [(name: String, report: OrderedJSON)] = [], extra: [String: Double]? = nil, settings: EvalSettings? = nil) {
        self.reports = reports; self.extra = extra; self.settings = settings
    }

    /// The three core evaluators' reports.
    public init(chair: CHAIRReport, pope: POPEReport, shr: SHRReport, extra: [String: Double]? = nil, settings: EvalSettings? = nil) throws {
        self.init(reports: [("chair", try OrderedJSON(encoding: chair)), ("pope", try OrderedJSON(encoding: pope)),
                            ("shr", try OrderedJSON(encoding: shr))], extra: extra, settings: settings)
    }

    /// One evaluator's report.
    public func report(_ name: String) -> OrderedJSON? { reports.first { $0.name == name }?.report }

    /// One evaluator's report as its type (nil when absent or of another shape).
    public func report<T: Decodable>(_ name: String, as type: T.Type) -> T? { try? report(name)?.decode(type) }

    /// The built-in reports, typed.
    public var chair: CHAIRReport? { report("chair", as: CHAIRReport.self) }
    public var pope: POPEReport? { report("pope", as: POPEReport.self) }
    public var shr: SHRReport? { report("shr", as: SHRReport.self) }

    /// The headline numbers of every report, in order (`evaluators` gives plugin evaluators their
    /// own rules; others fall back to `Evaluators.headline`).
    public func headline(_ evaluators: [Evaluator] = Evaluators.builtIn()) -> [MetricValue] {
        reports.flatMap { Evaluators.headline($0.name, $0.report, among: evaluators) }
    }

    public static func == (a: ModelMetrics, b: ModelMetrics) -> Bool {
        a.reports.map(\.name) == b.reports.map(\.name) && zip(a.reports, b.reports).allSatisfy { $0.report.canonical == $1.report.canonical }
            && a.extra == b.extra && a.settings == b.settings
            && a.generations == b.generations && a.emptyGenerations == b.emptyGenerations
    }

    static let fixedKeys = ["extra", "settings", "generations", "empty_generations"]

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: OrderedJSON.Key.self)
        extra = try c.decodeIfPresent([String: Double].self, forKey: OrderedJSON.Key("extra"))
        settings = try c.decodeIfPresent(EvalSettings.self, forKey: OrderedJSON.Key("settings"))
        generations = try c.decodeIfPresent(Int.self, forKey: OrderedJSON.Key("generations"))
        emptyGenerations = try c.decodeIfPresent(Int.self, forKey: OrderedJSON.Key("empty_generations"))
        // The built-in evaluators first, in their order; any other report after them by name.
        let names = c.allKeys.map(\.stringValue).filter { !Self.fixedKeys.contains($0) }
        let builtIn = Evaluators.builtIn().map(\.name)
        let ordered = builtIn.filter(names.contains) + names.filter { !builtIn.contains($0) }.sorted()
        reports = try ordered.map { ($0, try c.decode(OrderedJSON.self, forKey: OrderedJSON.Key($0))) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: OrderedJSON.Key.self)
        for (name, report) in reports { try c.encode(report, forKey: OrderedJSON.Key(name)) }
        try c.encodeIfPresent(extra, forKey: OrderedJSON.Key("extra"))
        try c.encodeIfPresent(settings, forKey: OrderedJSON.Key("settings"))
        try c.encodeIfPresent(generations, forKey: OrderedJSON.Key("generations"))
        try c.encodeIfPresent(emptyGenerations, forKey: OrderedJSON.Key("empty_generations"))
    }
}

/// Runs evaluators on a model and a data folder's eval split: CHAIR, POPE and SHR, then the
/// plugins' (`PluginRegistry.evaluators`). The descriptions are generated once and shared; every
/// evaluator writes its files into `outDir`.
public struct ModelEvaluation {
    public let model: LlavaModel
    public let codec: PromptCodec
    public let images: ImageStore
    public let dataDir: URL
    public var settings: EvalSettings
    public var evaluators: [Evaluator]
    /// Decoding hooks (a method's, then the decoding method's) applied to every generation.
    public var hooks: [DecodingHook] = []
    /// What generation cost so far (forward passes, tokens) and its wall time in seconds.
    public private(set) var cost = GenerationStats()
    public private(set) var generationSeconds = 0.0
    public var log: (String) -> Void = { _ in }
    /// Whether `answer` shows a progress bar with an ETA over the prompts (on a terminal; log
    /// lines every few seconds otherwise).
    public var showProgress = false

    public init(model: LlavaModel, codec: PromptCodec, images: ImageStore, dataDir: URL, settings: EvalSettings,
                evaluators: [Evaluator] = Evaluators.builtIn()) {
        self.model = model; self.codec = codec; self.images = images; self.dataDir = dataDir; self.settings = settings
        self.evaluators = evaluators
    }

    /// Runs every evaluator; generations and evaluators' files go to `outDir`.
    public mutating func run(outDir: URL) throws -> ModelMetrics {
        let context = EvaluationContext(model: model, codec: codec, images: images, dataDir: dataDir, settings: settings,
                                        outDir: outDir, hooks: hooks, log: log)
        context.showProgress = showProgress
        var metrics = ModelMetrics(settings: settings)
        for e in evaluators {
            let missing = e.requiredFiles.filter { !FileManager.default.fileExists(atPath: context.file($0)) }
            guard missing.isEmpty else {
                throw HalluError.file(dataDir.path, "evaluator \(e.name) needs \(missing.joined(separator: ", ")), which the folder does not have")
            }
            metrics.reports.append((e.name, try e.evaluate(context)))
        }
        cost += context.cost
        generationSeconds += context.generationSeconds
        metrics.generations = context.generations
        metrics.emptyGenerations = context.emptyGenerations
        if let w = metrics.emptyWarning { log("  warning: \(w)") }
        return metrics
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
