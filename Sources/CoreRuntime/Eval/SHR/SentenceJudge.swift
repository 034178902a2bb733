import Foundation

/// The verdict on one sentence of a description.
public enum SentenceJudgement: String, Codable, Sendable {
    case hallucination
    case correct
    case cannotJudge = "cannot judge"
}

/// A box of a region description, corners as fractions of the image size.
public struct SHRRegion: Codable, Equatable, Sendable {
    /// [x1, y1, x2, y2] in [0, 1].
    public var box: [Double]
    public var phrase: String

    public init(box: [Double], phrase: String) {
        self.box = box
        self.phrase = phrase
    }
}

/// One image to judge: the model's description and what the judge may know about the image.
public struct SHRImage: Sendable {
    public var id: String
    /// The model's description of the image.
    public var response: String
    /// Structured ground truth (scene world); the ground-truth judge needs it.
    public var scene: SceneFacts?
    /// Region descriptions (Visual Genome style), for text judges.
    public var regions: [SHRRegion]
    /// Human-written factual statements, for text judges.
    public var facts: [String]

    public init(id: String, response: String, scene: SceneFacts? = nil, regions: [SHRRegion] = [], facts: [String] = []) {
        self.id = id
        self.response = response
        self.scene = scene
        self.regions = regions
        self.facts = facts
    }
}

/// Judges the sentences of a description. Implementations: `SceneGroundTruthJudge` (scene world) and
/// `ChatSentenceJudge` (an OpenAI-compatible chat endpoint).
public protocol SentenceJudge: AnyObject {
    /// A short name for reports, e.g. "ground-truth" or "chat:gpt-4".
    var name: String { get }
    /// One judgement per sentence, in order; nil where the judge gave no usable verdict.
    /// Throws when the judge cannot work at all (e.g. the endpoint is unreachable).
    func judge(sentences: [String], image: SHRImage) throws -> [SentenceJudgement?]
}
