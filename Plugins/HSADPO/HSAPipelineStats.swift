import CoreRuntime
import Foundation

/// What one pipeline run made (`hsa_pipeline_stats.json` in the run folder).
public struct HSAPipelineStats: Codable, Equatable, Sendable {
    public var detector: String
    /// Descriptions sampled (one per image).
    public var descriptions: Int
    public var sentences: Int
    public var hallucinatedSentences: Int
    /// Hallucinated sentences per detected type.
    public var hallucinatedByType: [String: Int]
    /// Descriptions with at least one detected hallucination.
    public var hallucinatedDescriptions: Int
    /// Preference pairs made.
    public var pairs: Int
    /// Flagged descriptions left out because nothing remained of the chosen answer, or it equalled the rejected one.
    public var skipped: Int
    public var removedSentences: Int
    public var correctedSentences: Int
    /// Flagged sentences kept because the ground truth found them faithful (rewrite=correct).
    public var keptAsFaithful: Int
    /// Mean `rejected_score` of the pairs (nil with score=none or without pairs).
    public var meanRejectedScore: Double?
    /// Mean words per sampled description, and per chosen answer.
    public var meanDescriptionWords: Double
    public var meanChosenWords: Double
    /// Wall-clock seconds per stage.
    public var seconds: [String: Double]
    /// The settings the pairs were made with (reused on resume only when they match).
    public var fingerprint: String

    enum CodingKeys: String, CodingKey {
        case detector, descriptions, sentences, pairs, skipped, seconds, fingerprint
        case hallucinatedSentences = "hallucinated_sentences", hallucinatedByType = "hallucinated_by_type"
        case hallucinatedDescriptions = "hallucinated_descriptions", removedSentences = "removed_sentences"
        case correctedSentences = "corrected_sentences", keptAsFaithful = "kept_as_faithful"
        case meanRejectedScore = "mean_rejected_score", meanDescriptionWords = "mean_description_words"
        case meanChosenWords = "mean_chosen_words"
    }

    /// The numbers as flat metric names under "pipeline/".
    public var flattened: [String: Double] {
        var out: [String: Double] = [
            "pipeline/descriptions": Double(descriptions), "pipeline/pairs": Double(pairs),
            "pipeline/sentences": Double(sentences), "pipeline/hallucinated_sentences": Double(hallucinatedSentences),
            "pipeline/hallucinated_descriptions": Double(hallucinatedDescriptions),
            "pipeline/removed_sentences": Double(removedSentences), "pipeline/corrected_sentences": Double(correctedSentences),
            "pipeline/mean_description_words": meanDescriptionWords, "pipeline/mean_chosen_words": meanChosenWords,
        ]
        for t in HallucinationType.allCases { out["pipeline/hallucinated_\(t.rawValue)"] = Double(hallucinatedByType[t.rawValue] ?? 0) }
        if let m = meanRejectedScore { out["pipeline/mean_rejected_score"] = m }
        return out
    }
}

/// The detector's measured quality (`detector_metrics.json` in the run folder).
public struct DetectorReport: Codable, Equatable, Sendable {
    public var detector: String
    /// Against the labels of the held-out records of `hsa_dpo_detection.jsonl`.
    public var heldout: DetectorMetrics?
    /// Against the ground-truth detector on the descriptions the pipeline sampled (scene world, when
    /// the detector is not the ground truth itself).
    public var sampled: DetectorMetrics?
    public var note: String

    /// The numbers as flat metric names under "detector/".
    public var flattened: [String: Double] {
        var out: [String: Double] = [:]
        if let heldout { out.merge(heldout.flattened(prefix: "detector/heldout")) { a, _ in a } }
        if let sampled { out.merge(sampled.flattened(prefix: "detector/sampled")) { a, _ in a } }
        return out
    }
}
