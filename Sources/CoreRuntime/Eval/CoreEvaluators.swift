import Foundation

extension OrderedJSON {
    /// The JSON of an encodable value (an evaluator's typed report).
    public init<T: Encodable>(encoding value: T) throws {
        self = try OrderedJSON.parse(try JSONEncoder().encode(value), path: "\(T.self)")
    }

    /// The same value with object keys sorted and every number a double: what is left after a
    /// round trip through a file written with sorted keys, for comparing reports.
    public var canonical: OrderedJSON {
        switch self {
        case .int(let i): return .number(Double(i))
        case .array(let items): return .array(items.map(\.canonical))
        case .object(let kv): return .object(kv.sorted { $0.0 < $1.0 }.map { ($0.0, $0.1.canonical) })
        default: return self
        }
    }

    /// A typed value decoded from this JSON.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try CheckpointJSON.decode(type, from: Data(text().utf8), file: "\(T.self)")
    }
}

/// CHAIR on the descriptions of the eval images (`chair_prompts.jsonl`, `chair_gt_objects.json`).
public final class CHAIRModelEvaluator: Evaluator {
    public init() {}
    public var name: String { "chair" }
    public var summary: String { "CHAIRs, CHAIRi and recall of the objects the descriptions name (Rohrbach et al. 2018)" }
    public var requiredFiles: [String] { [SceneWorld.Files.chairPrompts, SceneWorld.Files.chairGT] }

    public func evaluate(_ context: EvaluationContext) throws -> OrderedJSON {
        let clock = Date()
        let prompts = try context.descriptionPrompts()
        let captions = try context.descriptions()
        let gt = try CHAIRGroundTruth.load(path: context.file(SceneWorld.Files.chairGT))
        let report = CHAIREvaluator(groundTruth: gt).evaluate(captions: zip(prompts, captions).map { CHAIRCaption(imageId: $0.id, text: $1) })
        context.log(String(format: "  CHAIR on %d images (%.0fs)", prompts.count, Date().timeIntervalSince(clock)))
        return try OrderedJSON(encoding: report)
    }

    public func headline(_ report: OrderedJSON) -> [MetricValue] {
        guard let r = try? report.decode(CHAIRReport.self) else { return [] }
        return [MetricValue(key: "chair_s", label: "CHAIRs", value: r.chairS, lowerIsBetter: true, group: "CHAIR", short: "CHAIRs"),
                MetricValue(key: "chair_i", label: "CHAIRi", value: r.chairI, lowerIsBetter: true, group: "CHAIR", short: "CHAIRi"),
                MetricValue(key: "chair_recall", label: "CHAIR recall", title: "recall", value: r.recall, lowerIsBetter: false,
                            group: "CHAIR", short: "recall"),
                MetricValue(key: "chair_len", label: "words/description", title: "len", value: r.len, lowerIsBetter: nil, decimals: 1,
                            group: "CHAIR", short: "len")]
    }

    public func text(_ report: OrderedJSON) -> String { (try? report.decode(CHAIRReport.self).renderTable()) ?? "" }
}

/// POPE's three splits (`pope_<split>.jsonl`), restricted to the images CHAIR describes.
public final class POPEModelEvaluator: Evaluator {
    public init() {}
    public var name: String { "pope" }
    public var summary: String { "POPE yes/no accuracy, F1 and yes-ratio on the random, popular and adversarial splits (Li et al. 2023)" }
    public var requiredFiles: [String] { [SceneWorld.Files.chairPrompts] + POPEStrategy.allCases.map(SceneWorld.Files.pope) }

    public func evaluate(_ context: EvaluationContext) throws -> OrderedJSON {
        let clock = Date()
        let keep = try context.imagesInUse()
        var splits: [(name: String, metrics: POPEMetrics)] = []
        for split in POPEStrategy.allCases.map(\.rawValue) {
            let qs = try POPEEval.loadQuestions(path: context.file("pope_\(split).jsonl")).filter { keep.contains($0.image ?? "") }
            let answers = try context.answer(qs.map { ($0.image ?? "", $0.text) }, maxNewTokens: context.settings.popeMaxNewTokens)
            var text = ""
            for (q, a) in zip(qs, answers) {
                let rec: [String: Any] = ["question_id": q.questionId ?? "", "question": q.text, "answer": a]
                text += String(data: try JSONSerialization.data(withJSONObject: rec, options: [.sortedKeys]), encoding: .utf8)! + "\n"
            }
            try AtomicFile.write(text, to: context.outDir.appendingPathComponent("pope_\(split)_answers.jsonl"))
            splits.append((split, try POPEScorer.score(questions: qs, answers: zip(qs, answers).map { POPEAnswer(questionId: $0.questionId, text: $1) })))
        }
        context.log(String(format: "  POPE on %d questions (%.0fs)", splits.reduce(0) { $0 + $1.metrics.n }, Date().timeIntervalSince(clock)))
        return try OrderedJSON(encoding: POPEReport(splits: splits))
    }

    public func headline(_ report: OrderedJSON) -> [MetricValue] {
        guard let r = try? report.decode(POPEReport.self) else { return [] }
        // The usual splits first in their usual order (a decoded report lists them by key), then any others.
        let usual = POPEStrategy.allCases.map(\.rawValue)
        let names = usual.filter(r.splitNames.contains) + r.splitNames.filter { !usual.contains($0) }
        return names.flatMap { s -> [MetricValue] in
            guard let p = r.splits[s] else { return [] }
            return [MetricValue(key: "pope_\(s)_acc", label: "POPE \(s) acc", value: p.accuracy, lowerIsBetter: false, group: "POPE \(s)", short: "acc"),
                    MetricValue(key: "pope_\(s)_f1", label: "POPE \(s) F1", value: p.f1, lowerIsBetter: false, group: "POPE \(s)", short: "F1"),
                    MetricValue(key: "pope_\(s)_yes", label: "POPE \(s) yes", value: p.yesRatio, lowerIsBetter: nil, group: "POPE \(s)", short: "yes")]
        }
    }

    public func text(_ report: OrderedJSON) -> String { (try? report.decode(POPEReport.self).renderTable()) ?? "" }
}

/// SHR with the ground-truth judge (`shr_facts.jsonl`) on the same descriptions as CHAIR.
public final class SHRModelEvaluator: Evaluator {
    public init() {}
    public var name: String { "shr" }
    public var summary: String { "sentence-level hallucination ratio of the descriptions, ground-truth judge (Zhao et al. 2023)" }
    public var requiredFiles: [String] { [SceneWorld.Files.chairPrompts, SceneWorld.Files.shrFacts] }

    public func evaluate(_ context: EvaluationContext) throws -> OrderedJSON {
        let prompts = try context.descriptionPrompts()
        let captions = try context.descriptions()
        let facts = try SHREval.loadSceneFacts(path: context.file(SceneWorld.Files.shrFacts))
        let shrImages = zip(prompts, captions).map { SHRImage(id: $0.id, response: $1, scene: facts[$0.id]) }
        return try OrderedJSON(encoding: try SHREvaluator(judge: SceneGroundTruthJudge()).evaluate(images: shrImages))
    }

    public func headline(_ report: OrderedJSON) -> [MetricValue] {
        guard let r = try? report.decode(SHRReport.self) else { return [] }
        return [MetricValue(key: "shr", label: "SHR", value: r.shr, lowerIsBetter: true)]
    }

    public func text(_ report: OrderedJSON) -> String { (try? report.decode(SHRReport.self).renderTable()) ?? "" }
}

/// OrderedJSON as a Codable value, so that reports of any evaluator sit in metrics.json and
/// summary.json as they are.
extension OrderedJSON: Codable {
    /// A coding key made from any string (the keys of a JSON object not known in advance).
    public struct Key: CodingKey {
        public var stringValue: String
        public var intValue: Int? { nil }
        public init(_ s: String) { stringValue = s }
        public init?(stringValue: String) { self.stringValue = stringValue }
        public init?(intValue: Int) { nil }
    }

    public init(from decoder: Decoder) throws {
        if let keyed = try? decoder.container(keyedBy: Key.self) {
            self = .object(try keyed.allKeys.sorted { $0.stringValue < $1.stringValue }.map { ($0.stringValue, try keyed.decode(OrderedJSON.self, forKey: $0)) })
            return
        }
        if var list = try? decoder.unkeyedContainer() {
            var items: [OrderedJSON] = []
            while !list.isAtEnd { items.append(try list.decode(OrderedJSON.self)) }
            self = .array(items)
            return
        }
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else { self = .string(try c.decode(String.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .null, .bool, .int, .number, .string:
            var c = encoder.singleValueContainer()
            switch self {
            case .bool(let b): try c.encode(b)
            case .int(let i): try c.encode(i)
            case .number(let d): try c.encode(d)
            case .string(let s): try c.encode(s)
            default: try c.encodeNil()
            }
        case .array(let items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(item) }
        case .object(let kv):
            var c = encoder.container(keyedBy: Key.self)
            for (k, v) in kv { try c.encode(v, forKey: Key(k)) }
        }
    }
}
