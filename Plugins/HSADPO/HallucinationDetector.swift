import CoreRuntime
import Foundation

/// One response to check: its image and its sentences, in order.
public struct DetectionQuery: Equatable, Sendable {
    /// An id for logs and output files (the image id or the detection record id).
    public var id: String
    /// Absolute image path (the same string the image store and the scene truth are keyed by).
    public var image: String
    /// The question the response answers, without `<image>`.
    public var question: String
    /// The response split into sentences (`DescriptionSentences.split`).
    public var sentences: [String]

    public init(id: String, image: String, question: String, sentences: [String]) {
        self.id = id; self.image = image; self.question = question; self.sentences = sentences
    }

    /// The query for a labelled detection record (its sentences as labelled).
    public init(_ example: DetectionExample) {
        self.init(id: example.id, image: example.image ?? "", question: example.question,
                  sentences: example.sentences.map(\.text))
    }
}

/// Finds hallucinated sentences with their type (object, attribute, relation) and severity (1-3),
/// the labels HSA-DPO's detect-then-rewrite pipeline works from. Class-bound so that detectors can
/// hold models, caches and connections.
public protocol HallucinationDetector: AnyObject {
    /// A short name for logs and stats ("ground-truth", "model", "chat:<model>").
    var name: String { get }
    /// One label per sentence of each query, in order (`DetectionSentence.text` is the sentence).
    /// A faithful sentence, or one the detector could not judge, has `hallucinated == false`.
    func detect(_ queries: [DetectionQuery]) throws -> [[DetectionSentence]]
}

extension DetectionSentence {
    /// A faithful verdict on `text`.
    public static func correct(_ text: String) -> DetectionSentence {
        DetectionSentence(text: text, hallucinated: false, type: nil, severity: 0, reason: "")
    }

    /// A hallucination of `type`; the severity defaults to the world's mapping for that type.
    public static func hallucination(_ text: String, _ type: HallucinationType, severity: Int? = nil, reason: String = "") -> DetectionSentence {
        DetectionSentence(text: text, hallucinated: true, type: type, severity: severity ?? type.severity, reason: reason)
    }
}

/// Splitting a response into the sentences the detector judges and the rewriter edits.
public enum DescriptionSentences {
    /// Sentences in order, each with its closing '.', '!' or '?' (a sentence ends at such a mark
    /// followed by white space or the end of the text); an unfinished trailing piece is kept as it is.
    /// Unlike SHR's splitting, repeated sentences are kept: the rewrite must account for every one.
    public static func split(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        let chars = Array(text)
        for (i, c) in chars.enumerated() {
            current.append(c)
            let ends = (c == "." || c == "!" || c == "?") && (i + 1 == chars.count || chars[i + 1].isWhitespace)
            if ends {
                let s = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if !s.isEmpty { out.append(s) }
                current = ""
            }
        }
        let rest = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !rest.isEmpty { out.append(rest) }
        return out
    }

    /// Sentences joined by single spaces (the world's layout).
    public static func join(_ sentences: [String]) -> String { sentences.joined(separator: " ") }
}

/// What a detector is made from: the pipeline's settings, the data folder and its ground truth (a
/// scene world's), the labelled records a learned detector trains on, and the run.
public struct DetectorSetup {
    public var settings: HSAPipelineSettings
    public var dataDir: URL
    public var truth: SceneTruth?
    public var training: [DetectionExample]
    public var context: TrainContext
}

/// The detectors the pipeline can use, by the name `hsadpo.detector` gives.
public enum Detectors {
    /// Name, one line of help, and how to make it.
    public static let all: [(name: String, help: String, make: (DetectorSetup) throws -> HallucinationDetector)] = [
        ("ground-truth", "judges against scenes.jsonl (the scene world's ground truth)", { s in
            guard let truth = s.truth else {
                throw HalluError.file(s.dataDir.path, "hsadpo detector=ground-truth needs scenes.jsonl (scene world); use detector=model or chat")
            }
            return GroundTruthDetector(truth: truth)
        }),
        ("model", "a copy of the base model fine-tuned on hsa_dpo_detection.jsonl", ModelDetector.make),
        ("chat", "an OpenAI-compatible chat endpoint (judge_url)", { s in
            guard let raw = s.settings.judgeURL, let url = URL(string: raw) else { throw HalluError("hsadpo detector=chat needs judge_url") }
            let key = s.settings.judgeKeyVariable.isEmpty ? nil : s.settings.judgeKeyVariable
            return try ChatDetector(config: ChatJudgeConfig(url: url, model: s.settings.judgeModel, apiKeyVariable: key), truth: s.truth)
        }),
    ]

    public static var names: [String] { all.map(\.name) }

    /// The detector called `name`.
    public static func make(_ name: String, _ setup: DetectorSetup) throws -> HallucinationDetector {
        guard let d = all.first(where: { $0.name == name }) else {
            throw HalluError("hsadpo.detector: unknown detector \"\(name)\"; known: \(names.joined(separator: ", "))")
        }
        return try d.make(setup)
    }
}
