import CoreRuntime
import Foundation

/// HSA-DPO's view of a model's descriptions: each sentence labelled with its hallucination type
/// (object, attribute, relation) and severity (1-3) by the ground-truth detector, summed per
/// description. Where CHAIR counts object words and SHR flags sentences, this weighs them the way
/// HSA-DPO's loss does (`SeverityScore`), so that a method that turns made-up objects into wrong
/// colours shows up as less severe. Needs the scene world's ground truth (`scenes.jsonl`).
///
/// Report: `severity` (mean summed severity per description), `score` (mean `rejected_score` the
/// descriptions would get, `SeverityScore.sum`), `hallucinated` (share of sentences), and per type
/// the hallucinated sentences per description.
public final class SeverityEvaluator: Evaluator {
    public init() {}
    public var name: String { "severity" }
    public var summary: String { "hallucination severity of the descriptions: type and 1-3 severity per sentence, summed (HSA-DPO's labels, ground-truth detector)" }
    public var requiredFiles: [String] { [SceneWorld.Files.scenes, SceneWorld.Files.chairPrompts] }

    public func evaluate(_ context: EvaluationContext) throws -> OrderedJSON {
        let truth = try SceneTruth.load(folder: context.dataDir)
        let prompts = try context.descriptionPrompts()
        let descriptions = try context.descriptions()
        let images = prompts.map { context.dataDir.appendingPathComponent($0.image).standardizedFileURL.path }
        return try Self.report(descriptions: descriptions, images: images, truth: truth)
    }

    /// The report of descriptions of scene-world images.
    static func report(descriptions: [String], images: [String], truth: SceneTruth) throws -> OrderedJSON {
        let detector = GroundTruthDetector(truth: truth)
        let queries = zip(images, descriptions).enumerated().map { i, p in
            DetectionQuery(id: String(i), image: p.0, question: "", sentences: DescriptionSentences.split(p.1))
        }
        let labels = try detector.detect(queries)
        let n = Double(max(labels.count, 1))
        let sentences = labels.reduce(0) { $0 + $1.count }
        let flagged = labels.flatMap { $0.filter(\.hallucinated) }
        var kv: [(String, OrderedJSON)] = [
            ("severity", .rounded(Double(flagged.reduce(0) { $0 + $1.severity }) / n)),
            ("score", .rounded(labels.map { SeverityScore.sum.score($0.filter(\.hallucinated).map(\.severity)) ?? 0 }.reduce(0, +) / n)),
            ("hallucinated", .rounded(Double(flagged.count) / Double(max(sentences, 1)))),
        ]
        for t in HallucinationType.allCases {
            kv.append((t.rawValue, .rounded(Double(flagged.filter { $0.type == t }.count) / n)))
        }
        kv += [("descriptions", .int(labels.count)), ("sentences", .int(sentences))]
        return .object(kv)
    }

    public func headline(_ report: OrderedJSON) -> [MetricValue] {
        guard case .object(let kv) = report else { return [] }
        let values = Dictionary(kv.compactMap { k, v -> (String, Double)? in
            if case .number(let d) = v { return (k, d) }
            if case .int(let i) = v { return (k, Double(i)) }
            return nil
        }, uniquingKeysWith: { a, _ in a })
        func metric(_ key: String, _ label: String) -> MetricValue? {
            values[key].map { MetricValue(key: "severity_\(key)", label: label, title: key, value: $0, lowerIsBetter: true,
                                          group: "severity", short: key) }
        }
        return [metric("severity", "severity/description"), metric("object", "object hal./description"),
                metric("attribute", "attribute hal./description"), metric("relation", "relation hal./description")].compactMap { $0 }
    }

    /// `hallu eval severity --responses FILE --world DIR`: descriptions in a JSON list or JSON Lines
    /// (`image`, and the text under `text` or `caption`), scored against the world folder's ground truth.
    public var command: EvaluatorCommand? {
        EvaluatorCommand(
            usage: "hallu eval severity --responses FILE --world DIR [--json]",
            flags: [EvaluatorCommand.Flag("responses", value: "FILE", help: "severity: descriptions with their image (e.g. a run's eval/chair_captions.jsonl)"),
                    EvaluatorCommand.Flag("world", value: "DIR", help: "severity: the scene world whose scenes.jsonl judges them")],
            run: { arguments in
                let responses = try arguments.required("responses")
                let dir = URL(fileURLWithPath: try arguments.required("world")).standardizedFileURL
                let truth = try SceneTruth.load(folder: dir)
                var images: [String] = [], texts: [String] = []
                for r in try DataRecord.readAll(responses) {
                    images.append(dir.appendingPathComponent(try r.string("image")).standardizedFileURL.path)
                    texts.append(try r.optionalString("text") ?? r.string("caption"))
                }
                let report = try Self.report(descriptions: texts, images: images, truth: truth)
                return (report, self.text(report))
            })
    }
}
