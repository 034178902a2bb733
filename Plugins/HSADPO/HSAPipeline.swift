import CoreRuntime
import Foundation

/// HSA-DPO's detect-then-rewrite pipeline as a `PreferenceSource`:
/// 1. the policy before DPO describes N training images;
/// 2. a `HallucinationDetector` labels each sentence (type and severity);
/// 3. flagged sentences are removed or corrected to make the chosen answer; the rejected answer is
///    the original description; descriptions without a flagged sentence make no pair;
/// 4. `rejected_score` comes from the severities (`SeverityScore`);
/// 5. the pairs go to the severity-aware DPO loss unchanged.
/// The run folder receives the pairs (`hsa_dpo_preference.jsonl`, the world's schema), the labelled
/// descriptions (`hsa_pipeline_detection.jsonl`, the detection schema), the stats
/// (`hsa_pipeline_stats.json`) and the detector's measured quality (`detector_metrics.json`).
public final class HSAPipeline: PreferenceSource {
    public let settings: HSAPipelineSettings
    /// A detector to use instead of the one the settings name (tests, custom detectors).
    public var detector: HallucinationDetector?
    /// A rewriter to use instead of the one the settings name.
    public var rewriter: ResponseRewriter?
    /// The data folder; nil = the run's `--data`, else the default world.
    public var dataDir: URL?
    public private(set) var stats: HSAPipelineStats?
    public private(set) var report: DetectorReport?

    public static let pairsFile = "hsa_dpo_preference.jsonl"
    public static let labelsFile = "hsa_pipeline_detection.jsonl"
    public static let statsFile = "hsa_pipeline_stats.json"
    public static let reportFile = "detector_metrics.json"
    public static let detectorFolder = "detector"

    public init(settings: HSAPipelineSettings, detector: HallucinationDetector? = nil) {
        self.settings = settings
        self.detector = detector
    }

    public var name: String { "pipeline:\(detector?.name ?? settings.detector)" }

    /// Pipeline stats and detector quality as flat metric names (for the method's `evaluate`).
    public var metrics: [String: Double] { (stats?.flattened ?? [:]).merging(report?.flattened ?? [:]) { a, _ in a } }

    public func pairs(_ data: TrainingData, _ ctx: TrainContext) throws -> [PreferencePair] {
        guard let dir = dataDir ?? ctx.dataDir ?? ctx.config.data.map({ URL(fileURLWithPath: $0) }) else {
            throw HalluError("hsadpo pipeline: the run has no data folder to describe images from (give --data)")
        }
        let fingerprint = settings.fingerprint + "|" + (ctx.config.base ?? "") + "|" + dir.path + "|\(ctx.config.seed)"
        if let reused = try reuse(ctx.runDir, fingerprint: fingerprint) { ctx.log("hsadpo pipeline: reusing \(reused.count) pairs from \(ctx.runDir.path)"); return reused }

        var seconds: [String: Double] = [:]
        var clock = Date()
        let truth = SceneTruth.exists(in: dir) ? try SceneTruth.load(folder: dir) : nil
        let detectionFile = dir.appendingPathComponent(HSADPOData.detectionFile).path
        let labelled = FileManager.default.fileExists(atPath: detectionFile)
            ? try HSADPOData.detections(detectionFile, images: ImageResolver(root: dir.standardizedFileURL)) : []
        let heldout = Array(labelled.suffix(settings.heldout))
        let detector = try self.detector ?? makeDetector(dir: dir, truth: truth, training: Array(labelled.dropLast(settings.heldout)), ctx: ctx)
        seconds["detector_setup"] = Date().timeIntervalSince(clock)

        // Detector quality on held-out labelled records.
        clock = Date()
        var report = DetectorReport(detector: detector.name, heldout: nil, sampled: nil, note: Self.note(detector))
        if !heldout.isEmpty {
            let predicted = try detector.detect(heldout.map(DetectionQuery.init))
            report.heldout = try DetectorMetrics.compute(reference: heldout.map(\.sentences), predicted: predicted)
            ctx.log(String(format: "hsadpo pipeline: detector %@ on %d held-out records: precision %.3f recall %.3f F1 %.3f type accuracy %.3f",
                           detector.name, heldout.count, report.heldout!.precision, report.heldout!.recall, report.heldout!.f1, report.heldout!.typeAccuracy))
        }
        seconds["detector_heldout"] = Date().timeIntervalSince(clock)

        // 1. Describe.
        clock = Date()
        let images = try imagesToDescribe(truth: truth, data: data, dir: dir)
        ctx.log("hsadpo pipeline: describing \(images.count) training images with the model before DPO")
        var sampler = DescriptionSampler(model: ctx.model, codec: ctx.codec, images: ctx.images)
        sampler.batchSize = settings.batchSize
        sampler.maxNewTokens = settings.maxNewTokens
        sampler.temperature = settings.temperature
        sampler.seed = ctx.config.seed
        let descriptions = try sampler.describe(images.map(\.image), question: settings.prompt)
        seconds["describe"] = Date().timeIntervalSince(clock)

        // 2. Detect.
        clock = Date()
        let queries = zip(images, descriptions).map { DetectionQuery(id: $0.id, image: $0.image, question: settings.prompt, sentences: DescriptionSentences.split($1)) }
        let labels = try detector.detect(queries)
        guard labels.count == queries.count, zip(labels, queries).allSatisfy({ $0.count == $1.sentences.count }) else {
            throw HalluError("hsadpo pipeline: detector \(detector.name) returned labels that do not match the sentences")
        }
        seconds["detect"] = Date().timeIntervalSince(clock)
        if let truth, !(detector is GroundTruthDetector) {
            let reference = try GroundTruthDetector(truth: truth).detect(queries)
            report.sampled = try DetectorMetrics.compute(reference: reference, predicted: labels)
        }

        // 3-4. Rewrite and score.
        clock = Date()
        let rewriter = try self.rewriter ?? Rewriters.make(settings.rewrite)
        var pairs: [PreferencePair] = []
        var s = HSAPipelineStats(detector: detector.name, descriptions: queries.count, sentences: 0, hallucinatedSentences: 0,
                                 hallucinatedByType: [:], hallucinatedDescriptions: 0, pairs: 0, skipped: 0, removedSentences: 0,
                                 correctedSentences: 0, keptAsFaithful: 0, meanRejectedScore: nil, meanDescriptionWords: 0,
                                 meanChosenWords: 0, seconds: [:], fingerprint: fingerprint)
        var descriptionWords = 0, chosenWords = 0
        for (i, (q, l)) in zip(queries, labels).enumerated() {
            s.sentences += l.count
            descriptionWords += Self.words(descriptions[i])
            let flagged = l.filter(\.hallucinated)
            guard !flagged.isEmpty else { continue }
            s.hallucinatedDescriptions += 1
            s.hallucinatedSentences += flagged.count
            for f in flagged { s.hallucinatedByType[f.type?.rawValue ?? "object", default: 0] += 1 }
            let outcome = try rewriter.rewrite(l, scene: truth?.facts(image: q.image))
            s.removedSentences += outcome.removed
            s.correctedSentences += outcome.corrected
            s.keptAsFaithful += outcome.keptAsFaithful
            let rejected = DescriptionSentences.join(q.sentences)
            guard !outcome.chosen.isEmpty, outcome.chosen != rejected else { s.skipped += 1; continue }
            chosenWords += Self.words(outcome.chosen)
            let score = settings.score.score(flagged.map(\.severity))
            pairs.append(PreferencePair(id: q.id, image: q.image, question: settings.prompt, chosen: outcome.chosen, rejected: rejected,
                                        chosenScore: score == nil ? nil : 1, rejectedScore: score, source: HSADPOData.preferenceFormatName))
        }
        s.pairs = pairs.count
        let scores = pairs.compactMap(\.rejectedScore)
        s.meanRejectedScore = scores.isEmpty ? nil : scores.reduce(0, +) / Double(scores.count)
        s.meanDescriptionWords = Double(descriptionWords) / Double(max(queries.count, 1))
        s.meanChosenWords = Double(chosenWords) / Double(max(pairs.count, 1))
        seconds["rewrite"] = Date().timeIntervalSince(clock)
        s.seconds = seconds
        let byType = HallucinationType.allCases.map { "\($0.rawValue) \(s.hallucinatedByType[$0.rawValue] ?? 0)" }.joined(separator: ", ")
        ctx.log("hsadpo pipeline: \(s.hallucinatedDescriptions) of \(s.descriptions) descriptions have detected hallucinations "
            + "(\(s.hallucinatedSentences) sentences: \(byType)); \(s.pairs) pairs")

        try write(pairs: pairs, queries: queries, labels: labels, stats: s, report: report, to: ctx.runDir)
        stats = s
        self.report = report
        return pairs
    }

    // MARK: stages' inputs

    /// The images to describe: the first N training images of scenes.jsonl, else of the run's pairs.
    func imagesToDescribe(truth: SceneTruth?, data: TrainingData, dir: URL) throws -> [(id: String, image: String)] {
        if let truth {
            let train = truth.trainImages
            guard !train.isEmpty else { throw HalluError.file(dir.appendingPathComponent(SceneWorld.Files.scenes).path, "has no training images") }
            return train.prefix(settings.images).map { (String($0.id), $0.image) }
        }
        var seen = Set<String>()
        var out: [(id: String, image: String)] = []
        for p in data.preferences {
            guard let image = p.image, seen.insert(image).inserted else { continue }
            out.append((((image as NSString).lastPathComponent as NSString).deletingPathExtension, image))
            if out.count == settings.images { break }
        }
        guard !out.isEmpty else {
            throw HalluError.file(dir.path, "hsadpo pipeline: no images to describe (needs scenes.jsonl, or preference data naming images)")
        }
        return out
    }

    /// The detector the settings name (`Detectors`); `training` holds the labelled records a model
    /// detector learns from (those of `hsa_dpo_detection.jsonl` before the held-out ones).
    func makeDetector(dir: URL, truth: SceneTruth?, training train: [DetectionExample], ctx: TrainContext) throws -> HallucinationDetector {
        try Detectors.make(settings.detector, DetectorSetup(settings: settings, dataDir: dir, truth: truth, training: train, context: ctx))
    }

    static func note(_ d: HallucinationDetector) -> String {
        if d is GroundTruthDetector {
            return "The ground-truth detector judges against scenes.jsonl, from which the world's labels were made: its scores on world data are 1 by construction."
        }
        return "heldout: against the labels of the last records of hsa_dpo_detection.jsonl (not trained on); sampled: against the ground-truth detector on the pipeline's own descriptions."
    }

    static func words(_ s: String) -> Int { s.split(whereSeparator: { $0.isWhitespace }).count }

    // MARK: files

    func write(pairs: [PreferencePair], queries: [DetectionQuery], labels: [[DetectionSentence]], stats: HSAPipelineStats,
               report: DetectorReport, to dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let pairLines = pairs.map { HSADPOData.record($0) }
        try AtomicFile.write(OrderedJSON.linesText(pairLines), to: dir.appendingPathComponent(Self.pairsFile))
        let labelLines = zip(queries, labels).map { q, l -> OrderedJSON in
            .obj(["id": .string(q.id), "image": .string(q.image), "question": .string(q.question),
                  "response": .string(DescriptionSentences.join(q.sentences)),
                  "sentences": .array(l.map(HSADPOData.record))])
        }
        try AtomicFile.write(OrderedJSON.linesText(labelLines), to: dir.appendingPathComponent(Self.labelsFile))
        try CheckpointJSON.write(report, to: dir.appendingPathComponent(Self.reportFile))
        // Written last: its fingerprint marks the pairs above as complete.
        try CheckpointJSON.write(stats, to: dir.appendingPathComponent(Self.statsFile))
    }

    /// The pairs of an earlier run of the same pipeline in this folder (a resumed run), if complete.
    func reuse(_ dir: URL, fingerprint: String) throws -> [PreferencePair]? {
        let statsURL = dir.appendingPathComponent(Self.statsFile), pairsURL = dir.appendingPathComponent(Self.pairsFile)
        let fm = FileManager.default
        guard fm.fileExists(atPath: statsURL.path), fm.fileExists(atPath: pairsURL.path),
              let saved = try? CheckpointJSON.read(HSAPipelineStats.self, from: statsURL.path), saved.fingerprint == fingerprint else { return nil }
        let pairs = try HSADPOData.preferences(pairsURL.path, images: ImageResolver(root: dir, allowOutside: true))
        stats = saved
        report = try? CheckpointJSON.read(DetectorReport.self, from: dir.appendingPathComponent(Self.reportFile).path)
        if let d = detector, report?.detector != d.name { report = nil }
        return pairs
    }
}
