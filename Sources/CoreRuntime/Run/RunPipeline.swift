import Foundation

/// What `hallu run` leaves in `summary.json`: the CLI contract's keys, plus the training record.
public struct RunSummary: Codable {
    public var method: String
    public var seed: UInt64
    public var seconds: Double
    public var baseline: ModelMetrics?
    public var trained: ModelMetrics?
    public var checkpoint: String
    public var steps: Int
    public var finalLoss: Double?
    public var methodMetrics: [String: Double]
    /// Peak resident memory of the process that ran it, in MB (absent in older summaries).
    public var peakRssMB: Double? = nil
    enum CodingKeys: String, CodingKey {
        case method, seed, seconds, baseline, trained, checkpoint, steps
        case finalLoss = "final_loss", methodMetrics = "method_metrics", peakRssMB = "peak_rss_mb"
    }
}

/// `hallu run`: config -> data -> base model -> methods -> training -> evaluation -> summary, report.
public final class RunPipeline {
    public var config: RunConfig
    public let registry: PluginRegistry
    public var resume: Bool
    /// Whether the run name and the data's image paths may point outside their folders (`--allow-outside`).
    public var allowOutside = false
    /// Whether a base checkpoint with NaN or infinite weights is loaded (with a warning) rather than refused.
    public var allowNonFiniteWeights = false
    /// Whether to evaluate the base model for comparison when no cached evaluation exists.
    public var evaluateBase = true
    public var log: (String) -> Void

    public init(config: RunConfig, registry: PluginRegistry, resume: Bool = false, log: @escaping (String) -> Void = { print($0) }) {
        self.config = config; self.registry = registry; self.resume = resume; self.log = log
    }

    /// The run folder this config names (a timestamped name when none is given). The name must stay
    /// inside `runs_dir` unless `allowOutside`.
    public static func folder(for config: RunConfig, allowOutside: Bool = false) throws -> RunFolder {
        let name = config.name ?? {
            let f = DateFormatter()
            f.dateFormat = "yyyyMMdd-HHmmss"
            f.locale = Locale(identifier: "en_US_POSIX")
            return "\(config.method)-seed\(config.seed)-\(f.string(from: Date()))"
        }()
        let runs = URL(fileURLWithPath: config.runsDir)
        let path = try ContainedPath.resolve(name, in: runs, allowOutside: allowOutside, what: "--name (the run folder's name)")
        guard path != ContainedPath.normalized(runs.path) else {
            throw HalluError("--name \"\(name)\": names the runs folder itself; give the run its own folder name")
        }
        return RunFolder(URL(fileURLWithPath: path))
    }

    @discardableResult
    public func run() throws -> RunSummary {
        let start = Date()
        try config.validate()
        let folder = try RunPipeline.folder(for: config, allowOutside: allowOutside)
        let fm = FileManager.default
        // An empty folder is what a run killed before writing its config.json leaves: start afresh in it.
        let leftover = (try? fm.contentsOfDirectory(atPath: folder.url.path))?.isEmpty == true
        if fm.fileExists(atPath: folder.url.path) && !resume && !leftover {
            throw HalluError.file(folder.url.path, "run folder already exists; pass --resume to continue it, or --name for a new run")
        }
        if resume && !fm.fileExists(atPath: folder.config.path) {
            throw HalluError.file(folder.url.path, "no run to resume here (no config.json); check --name and --runs-dir, or drop --resume to start a new run")
        }
        try Folders.create(folder.url)
        if resume {
            let saved = try RunConfig.load(folder.config.path)
            if saved != config { log("note: resuming with the config saved in \(folder.config.path)") }
            config = saved
        } else {
            try AtomicFile.write(Self.encodeConfig(config), to: folder.config)
        }

        // Methods first: an unknown name should fail before any expensive work.
        for p in config.plugins { try registry.load(p) }
        let methods = try config.methodIds.map { try registry.make($0) }
        for m in methods {
            try m.configure(OptionValues.resolve(m.options, overrides: config.methodOptions[m.id] ?? [:], method: m.id))
        }
        let objective = try Composition.validate(methods)
        // The decoding method, if any, is built now so that a bad name or option fails before training.
        let decoder = try config.decodeId.map { try registry.makeDecoder($0, options: config.methodOptions[$0] ?? [:]) }

        let dataDir = try config.data.map { URL(fileURLWithPath: $0) } ?? DefaultAssets.world(seed: 0, exports: registry.worldExports, log: log)
        let baseDir: URL
        var baselineMetrics: ModelMetrics? = nil
        if let b = config.base {
            baseDir = URL(fileURLWithPath: b)
        } else {
            let baseline = try BaselineBuilder(preset: config.preset, dataDir: dataDir, registry: registry, log: log).ensure()
            baseDir = baseline.model
            baselineMetrics = baseline.metrics
        }

        let (model, codec, images) = try RunPipeline.loadModel(baseDir, dataDir: dataDir, allowOutside: allowOutside,
                                                               nonFinite: allowNonFiniteWeights ? .warn(log) : .refuse)
        try applyTrainingSetup(model)
        let ctx = TrainContext(model: model, codec: codec, images: images, config: config, runDir: folder.url)
        ctx.log = log
        ctx.dataDir = dataDir
        ctx.catalog = registry.data
        if let objective { ctx.tokenObjective = objective }

        var kinds = Set<DataKind>()
        for m in methods { kinds.formUnion(m.dataKinds) }
        for k in kinds where registry.data.kind(k) == nil {
            throw HalluError("method \(config.method) trains on \"\(k)\" samples, a data kind no loaded plugin declares")
        }
        var data = try Dataset.load(dataDir.path, kinds: kinds, allowOutside: allowOutside, catalog: registry.data).data
        ctx.data = data
        for m in methods { data = try m.transformData(data, ctx); ctx.data = data }
        for k in kinds where data.count(k) == 0 {
            let files = registry.data.files(of: k)
            throw HalluError.file(dataDir.path, "method \(config.method) needs \(k.rawValue) data, and the folder has none "
                + "(files read as \(k.rawValue): \(files.isEmpty ? "none registered" : files.joined(separator: ", ")); see docs/DATA.md)")
        }
        for m in methods { try m.prepare(ctx) }

        let perStep = max(config.batchSize * max(config.gradAccum, 1), 1)
        let largest = kinds.map { data.count($0) }.max() ?? 0
        let steps = try config.steps ?? {
            let n = ((config.epochs ?? 1) * Double(largest) / Double(perStep)).rounded(.up)
            guard let s = CheckedSize.integer(n), s >= 1 else {
                throw HalluError("epochs \(config.epochs ?? 1) over \(largest) samples in batches of \(perStep) gives \(n) steps; give --steps N or a smaller --epochs")
            }
            return s
        }()
        let weights = methods.map { (method: $0, weight: config.weights[$0.id] ?? 1) }
        let trainer = try Trainer(context: ctx, methods: weights, totalSteps: steps)
        if resume { try trainer.resumeIfPossible() }
        log("training \(config.method) for \(steps) steps (\(trainer.parameters.reduce(0) { $0 + $1.1.count }) trainable parameters) -> \(folder.url.path)")
        try trainer.run()

        let info = try HalluCheckpointInfo.load(baseDir)
        try model.save(to: folder.model, tokenizerJSON: try InputFile.read(CheckpointFolder(baseDir).tokenizerURL.path),
                       preprocessor: try CheckpointFolder(baseDir).loadPreprocessor(), loraTargets: config.loraTargets)
        try CheckpointJSON.write(info, to: folder.model.appendingPathComponent(HalluCheckpointInfo.fileName))

        var methodMetrics: [String: Double] = [:]
        for m in methods { for (k, v) in try m.evaluate(ctx) { methodMetrics["\(m.id)/\(k)"] = v } }
        var trained: ModelMetrics? = nil
        if !config.skipEval {
            log("evaluating the trained model")
            var settings = EvalSettings()
            settings.images = config.evalImages
            settings.maxNewTokens = config.evalMaxNewTokens
            if let decoder {
                settings.decode = decoder.id
                settings.decodeOptions = try OptionValues.resolve(decoder.options, overrides: config.methodOptions[decoder.id] ?? [:], method: decoder.id)
            }
            var ev = ModelEvaluation(model: model, codec: codec, images: images, dataDir: dataDir, settings: settings,
                                     evaluators: registry.evaluators)
            ev.hooks = try methods.flatMap { try $0.decodingHooks(ctx) } + (decoder.map { [$0] } ?? [])
            ev.log = log
            try Folders.create(folder.eval)
            var m = try ev.run(outDir: folder.eval)
            m.extra = methodMetrics.isEmpty ? nil : methodMetrics
            try CheckpointJSON.write(m, to: folder.eval.appendingPathComponent("metrics.json"))
            try CheckpointJSON.write(ev.decodingCost, to: folder.eval.appendingPathComponent("decoding_cost.json"))
            trained = m
            // A cached baseline evaluation is reused when it has the same settings and every evaluator's report.
            let names = registry.evaluators.map(\.name)
            let cachedFits = baselineMetrics.map { $0.settings == settings && names.allSatisfy($0.reports.map(\.name).contains) } ?? false
            if evaluateBase && !cachedFits {
                log("evaluating the base model with the same settings")
                let (bm, bc, bi) = try RunPipeline.loadModel(baseDir, dataDir: dataDir, allowOutside: allowOutside,
                                                             nonFinite: allowNonFiniteWeights ? .warn(log) : .refuse)
                let bdir = folder.eval.appendingPathComponent("baseline")
                try Folders.create(bdir)
                var bev = ModelEvaluation(model: bm, codec: bc, images: bi, dataDir: dataDir, settings: settings,
                                          evaluators: registry.evaluators)
                bev.log = log
                bev.hooks = decoder.map { [$0] } ?? []
                baselineMetrics = try bev.run(outDir: bdir)
                try CheckpointJSON.write(baselineMetrics!, to: bdir.appendingPathComponent("metrics.json"))
            }
        }
        let summary = RunSummary(method: config.method, seed: config.seed, seconds: Date().timeIntervalSince(start),
                                 baseline: baselineMetrics, trained: trained, checkpoint: folder.model.path,
                                 steps: trainer.state.step, finalLoss: trainer.state.lossHistory.last,
                                 methodMetrics: methodMetrics, peakRssMB: BenchResult.currentPeakRSSMB())
        try RunReport.write(summary: summary, folder: folder, dataDir: dataDir, evaluators: registry.evaluators)
        try CheckpointJSON.write(summary, to: folder.summary)
        log(RunReport.table(summary, evaluators: registry.evaluators))
        return summary
    }

    static func encodeConfig(_ c: RunConfig) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        return try enc.encode(c)
    }

    /// Freezing flags, LoRA and activation recomputation.
    func applyTrainingSetup(_ model: LlavaModel) throws {
        model.languageModel.recomputeActivations = config.recomputeActivations
        model.setTrainable(true, prefixes: [""])
        if config.lora {
            model.applyLoRA(targets: config.loraTargets, rank: config.loraR, alpha: Float(config.loraAlpha),
                            dropout: Float(config.loraDropout), scope: "model.language_model", seed: config.seed &+ 17)
            if !config.freezeProjector { model.setTrainable(true, prefixes: ["model.multi_modal_projector"]) }
            return
        }
        if config.freezeVision { model.setTrainable(false, prefixes: ["model.vision_tower"]) }
        if config.freezeProjector { model.setTrainable(false, prefixes: ["model.multi_modal_projector"]) }
        if config.freezeLanguageModel { model.setTrainable(false, prefixes: ["model.language_model", "lm_head"]) }
    }

    /// A checkpoint folder's model, its prompt codec and an image store for a data folder (image paths
    /// must stay inside `dataDir` unless `allowOutside`). `precision: .stored` keeps a 16-bit
    /// checkpoint's matrices 16-bit (inference).
    public static func loadModel(_ dir: URL, dataDir: URL?, adapter: URL? = nil, precision: WeightPrecision = .float32,
                                 allowOutside: Bool = false, nonFinite: NonFiniteWeights = .refuse) throws -> (LlavaModel, PromptCodec, ImageStore) {
        let model = try LlavaModel.load(dir, adapter: adapter, precision: precision, nonFinite: nonFinite)
        let folder = CheckpointFolder(dir)
        guard FileManager.default.fileExists(atPath: folder.tokenizerURL.path) else {
            throw HalluError.file(dir.path, "checkpoint has no tokenizer.json")
        }
        let tok = try Tokenizer.load(folder.tokenizerURL.path)
        try tok.check(against: model.config, file: folder.tokenizerURL.path)
        let info = try HalluCheckpointInfo.load(dir)
        let codec: PromptCodec
        do { codec = try PromptCodec(tokenizer: tok, imageTokenIndex: model.config.imageTokenIndex, system: info.systemPrompt) }
        catch let e as HalluError { throw HalluError.file(folder.configURL.path, "does not fit tokenizer.json: \(e.message)") }
        let size = model.config.vision.imageSize
        let images = ImageStore(size: size, loader: ImagePipeline.loader(size: size, processor: try folder.loadPreprocessor(), root: dataDir,
                                                                         allowOutside: allowOutside))
        return (model, codec, images)
    }
}

/// Trains (once) and caches the default baseline: SFT from random initialisation on a data folder.
public struct BaselineBuilder {
    public let preset: String
    public let dataDir: URL
    public let registry: PluginRegistry
    public let log: (String) -> Void

    /// The cache folder: keyed by the data folder, its world.json (a regenerated world is other
    /// data) and everything that shapes the baseline (its two training configs and
    /// `DefaultAssets.baselineRecipeTag`), so a changed recipe or world trains afresh.
    public var dir: URL {
        let recipe = [DefaultAssets.groundingConfig(preset: preset, seed: 0), DefaultAssets.baselineConfig(preset: preset, seed: 0)]
            .compactMap { (try? RunPipeline.encodeConfig($0)).flatMap { String(data: $0, encoding: .utf8) } }.joined(separator: "\n")
        let world = (try? String(contentsOf: dataDir.appendingPathComponent(SceneWorld.Files.world), encoding: .utf8)) ?? ""
        let text = [dataDir.standardizedFileURL.path, recipe, DefaultAssets.baselineRecipeTag, world,
                    "tokenizer text: " + tokenizerFiles.joined(separator: ",")].joined(separator: "\n")
        let key = String(format: "%08x", UInt32(truncatingIfNeeded: text.hashValueStable))
        return HalluCache.root.appendingPathComponent("baseline-\(preset)-\(key)")
    }

    /// The kinds whose text the baseline's tokenizer is trained on.
    static let tokenizerKinds: Set<DataKind> = [.sft, .preference, .contrastive]

    /// The data files the tokenizer's text comes from (those the registry's formats read): part of the
    /// cache key, so that a baseline made with other formats loaded is not reused.
    var tokenizerFiles: [String] {
        registry.data.formats.filter { Self.tokenizerKinds.contains($0.kind) }.flatMap(\.files)
            .filter { FileManager.default.fileExists(atPath: dataDir.appendingPathComponent($0).path) }
    }

    /// The baseline's model folder and its evaluation (cached).
    public func ensure() throws -> (model: URL, metrics: ModelMetrics?) {
        let model = dir.appendingPathComponent("run/model"), metricsFile = dir.appendingPathComponent("run/eval/metrics.json")
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent("run/summary.json").path) {
            let m = try? CheckpointJSON.read(ModelMetrics.self, from: metricsFile.path)
            return (model, m)
        }
        log("training the default \(preset) baseline on \(dataDir.path) (once; cached in \(dir.path))")
        let initDir = dir.appendingPathComponent("init")
        if !FileManager.default.fileExists(atPath: initDir.appendingPathComponent("config.json").path) {
            let data = try Dataset.load(dataDir.path, kinds: Self.tokenizerKinds, checkImages: false, catalog: registry.data)
            let tok = DefaultAssets.trainTokenizer(data)
            guard let image = tok.id(of: "<image>") else { throw HalluError("baseline tokenizer lacks <image>") }
            let preset: LlavaPreset = self.preset == "tiny" ? .tiny : .small
            let world = try? WorldConfig.load(dataDir.appendingPathComponent(SceneWorld.Files.world).path)
            let cfg = try preset.config(vocabSize: tok.vocabSize, imageSize: world?.imageSize ?? 32, imageTokenIndex: image,
                                        bosTokenId: tok.bosId, eosTokenId: tok.eosId, padTokenId: tok.padId)
            let m = LlavaModel(cfg, seed: 1234)
            try pretrainVision(m)
            let tmpTok = FileManager.default.temporaryDirectory.appendingPathComponent("hallu-tok-\(getpid()).json")
            try tok.save(tmpTok.path)
            try m.save(to: initDir, tokenizerJSON: try Data(contentsOf: tmpTok), preprocessor: .square(cfg.vision.imageSize))
            var info = HalluCheckpointInfo()
            info.systemPrompt = DefaultAssets.worldSystemPrompt
            try CheckpointJSON.write(info, to: initDir.appendingPathComponent(HalluCheckpointInfo.fileName))
        }
        let groundedModel = try ground(from: initDir)
        var cfg = DefaultAssets.baselineConfig(preset: preset, seed: 0)
        cfg.base = groundedModel.path
        cfg.data = try mixedData().path
        cfg.runsDir = dir.path
        cfg.name = "run"
        let runDir = dir.appendingPathComponent("run")
        let pipeline = RunPipeline(config: cfg, registry: registry, resume: FileManager.default.fileExists(atPath: runDir.appendingPathComponent("config.json").path), log: log)
        pipeline.evaluateBase = false
        let s = try pipeline.run()
        return (model, s.trained)
    }

    /// Stage 1, grounding: SFT on the data's yes/no questions alone (`DefaultAssets.groundingConfig`)
    /// before the full mix. Trained from the start on the mix, where descriptions make up most of the
    /// gradient, the answer to "Is there a cup?" stays at chance for 4500 steps; alone, the questions
    /// teach the model to look for the named object within 300 (docs/RESULTS.md). Returns the model
    /// to continue from (`initDir` itself when the data has no yes/no questions).
    func ground(from initDir: URL) throws -> URL {
        let stageDir = dir.appendingPathComponent("ground"), model = stageDir.appendingPathComponent("model")
        if FileManager.default.fileExists(atPath: stageDir.appendingPathComponent("summary.json").path) { return model }
        let source = dataDir.appendingPathComponent(SceneWorld.Files.llava)
        let records = FileManager.default.fileExists(atPath: source.path)
            ? try JSONFiles.readRecords(source.path).map(\.record).filter(Self.isYesNoQuestion) : []
        guard !records.isEmpty else {
            log("no yes/no questions in \(source.path): the baseline skips the grounding stage")
            return initDir
        }
        let groundData = try stageData("ground-data", records: records)
        var cfg = DefaultAssets.groundingConfig(preset: preset, seed: 0)
        cfg.base = initDir.path
        cfg.data = groundData.path
        cfg.runsDir = dir.path
        cfg.name = "ground"
        log("grounding stage: \(cfg.steps ?? 0) steps on the \(records.count) yes/no questions")
        let pipeline = RunPipeline(config: cfg, registry: registry, resume: FileManager.default.fileExists(atPath: stageDir.appendingPathComponent("config.json").path), log: log)
        pipeline.evaluateBase = false
        _ = try pipeline.run()
        return model
    }

    /// Stage 2's data: the whole `llava_train.json` but for the yes/no questions, of which each image
    /// keeps its first `DefaultAssets.mixedYesNoPerImage` (the world shuffles each image's
    /// questions, so about half of those kept are about absent objects). The data folder itself
    /// when it has no `llava_train.json`.
    func mixedData() throws -> URL {
        let source = dataDir.appendingPathComponent(SceneWorld.Files.llava)
        guard FileManager.default.fileExists(atPath: source.path) else { return dataDir }
        let records = Self.capYesNoQuestions(try JSONFiles.readRecords(source.path).map(\.record),
                                             perImage: DefaultAssets.mixedYesNoPerImage)
        return try stageData("mix-data", records: records)
    }

    /// `records` in order with only the first `perImage` yes/no questions of each image.
    static func capYesNoQuestions(_ records: [[String: Any]], perImage: Int) -> [[String: Any]] {
        var kept: [String: Int] = [:]
        return records.filter { r in
            guard isYesNoQuestion(r) else { return true }
            let image = r["image"] as? String ?? ""
            guard kept[image, default: 0] < perImage else { return false }
            kept[image, default: 0] += 1
            return true
        }
    }

    /// A stage's data folder under the cache: `records` as its `llava_train.json`, next to links to
    /// everything else in the data folder.
    func stageData(_ name: String, records: [[String: Any]]) throws -> URL {
        let folder = dir.appendingPathComponent(name)
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for entry in try FileManager.default.contentsOfDirectory(atPath: dataDir.path) where entry != SceneWorld.Files.llava {
            try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent(entry),
                                                       withDestinationURL: dataDir.appendingPathComponent(entry).standardizedFileURL)
        }
        try AtomicFile.write(try JSONSerialization.data(withJSONObject: records), to: folder.appendingPathComponent(SceneWorld.Files.llava))
        return folder
    }

    /// A LLaVA record of one exchange whose question is POPE's "Is there a/an X in the image?".
    static func isYesNoQuestion(_ record: [String: Any]) -> Bool {
        guard let turns = record["conversations"] as? [[String: Any]], turns.count == 2,
              let q = turns[0]["value"] as? String else { return false }
        return DataReaders.popeObject(DataReaders.stripImageToken(q)) != nil
    }

    /// Stage 0, LLaVA's pretrained CLIP: on a scene world (a folder with scenes.jsonl), the vision
    /// tower first learns to name the object under each patch, its colour and size
    /// (`DefaultAssets.visionPretraining`); the baseline's SFT then keeps it frozen. Other data
    /// folders start from a random tower.
    func pretrainVision(_ model: LlavaModel) throws {
        guard FileManager.default.fileExists(atPath: dataDir.appendingPathComponent(SceneWorld.Files.scenes).path) else {
            log("no \(SceneWorld.Files.scenes) in \(dataDir.path): the vision tower starts untrained")
            return
        }
        let v = model.config.vision
        let labels = try PatchLabels.load(dataDir: dataDir, imageSize: v.imageSize, patchSize: v.patchSize)
        let images = ImageStore(size: v.imageSize, loader: ImagePipeline.loader(size: v.imageSize, processor: .square(v.imageSize), root: dataDir))
        let recipe = DefaultAssets.visionPretraining(preset: preset)
        log("pretraining the vision tower to name patches (\(recipe.steps) steps on \(labels.images.count) images)")
        let start = Date()
        let outcome = try recipe.run(model, labels: labels, images: images, log: log)
        let attributes = outcome.attributeAccuracy.sorted { $0.key < $1.key }.map { String(format: ", %@ %.3f", $0.key, $0.value) }.joined()
        log(String(format: "vision pretraining: loss %.4f, object-patch accuracy %.3f", outcome.loss, outcome.objectAccuracy)
            + attributes + String(format: " (%.0f s)", Date().timeIntervalSince(start)))
    }
}
