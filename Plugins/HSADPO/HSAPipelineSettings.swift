import CoreRuntime
import Foundation

/// The options of HSA-DPO's detect-then-rewrite pipeline (`--set hsadpo.pipeline=true`).
public struct HSAPipelineSettings: Equatable, Sendable {
    public var enabled = false
    /// Training images to describe.
    public var images = 2000
    public var prompt = "Describe this image in detail."
    public var temperature: Float = 0
    public var maxNewTokens = 96
    public var batchSize = 64
    /// A name of `Detectors`.
    public var detector = "ground-truth"
    /// A name of `Rewriters`.
    public var rewrite = "remove"
    public var score = SeverityScore.sum
    /// Detection records at the end of `hsa_dpo_detection.jsonl` kept out of detector training and
    /// used to measure the detector.
    public var heldout = 200
    public var detectorTraining = ModelDetector.Training()
    public var granularity = DetectorGranularity.response
    /// A saved detector to use instead of training one.
    public var detectorModel: String? = nil
    public var judgeURL: String? = nil
    public var judgeModel = "gpt-4o-mini"
    /// Name of the environment variable holding the chat endpoint's API key ("" sends none).
    public var judgeKeyVariable = "OPENAI_API_KEY"

    public init() {}

    /// The pipeline's options, with defaults and help.
    public static func options() -> [MethodOption] {
        let d = HSAPipelineSettings()
        return [
            MethodOption("pipeline", "false", "build the preference pairs with the detect-then-rewrite pipeline (describe training images with the model, detect hallucinated sentences, rewrite them) instead of reading them from the data"),
            MethodOption("pipeline_images", "\(d.images)", "training images the model describes (pairs are made only from descriptions with a detected hallucination)"),
            MethodOption("pipeline_prompt", d.prompt, "the question asked for each description"),
            MethodOption("pipeline_temperature", "0", "0 = greedy descriptions; above 0, sampled at this temperature (seeded by the run seed)"),
            MethodOption("pipeline_max_new_tokens", "\(d.maxNewTokens)", "length limit of the sampled descriptions"),
            MethodOption("pipeline_batch_size", "\(d.batchSize)", "images per generation batch (descriptions and the model detector)"),
            MethodOption("detector", d.detector, "ground-truth (scenes.jsonl of the scene world), model (a copy of the base fine-tuned on hsa_dpo_detection.jsonl) or chat (an OpenAI-compatible endpoint, judge_url)"),
            MethodOption("rewrite", d.rewrite, "remove: drop flagged sentences from the chosen answer; correct: fix them from scenes.jsonl (rename an absent object to an undescribed drawn one, fix colour, size, relation) and drop what cannot be fixed"),
            MethodOption("score", d.score.rawValue, "rejected_score from the detected severities: sum = min(1, sum/3) (the world's mapping), max = max/3, none = no score (plain DPO)"),
            MethodOption("detector_heldout", "\(d.heldout)", "last N records of hsa_dpo_detection.jsonl: not trained on, used to measure the detector (0 = no measurement)"),
            MethodOption("detector_steps", "\(d.detectorTraining.steps)", "model detector: SFT steps"),
            MethodOption("detector_lr", "\(d.detectorTraining.lr)", "model detector: peak learning rate (cosine schedule)"),
            MethodOption("detector_batch_size", "\(d.detectorTraining.batchSize)", "model detector: conversations per step"),
            MethodOption("detector_granularity", d.granularity.rawValue, "model detector prompt: response (the numbered sentences, one answer line each; measured better) or sentence (one verdict per sentence)"),
            MethodOption("detector_model", "", "model detector: a saved detector folder (e.g. runs/<name>/detector/model) to use instead of training one"),
            MethodOption("judge_url", "", "chat detector: endpoint root, its /v1, or the full /v1/chat/completions URL"),
            MethodOption("judge_model", d.judgeModel, "chat detector: model name"),
            MethodOption("judge_key_env", d.judgeKeyVariable, "chat detector: NAME of the environment variable holding the API key (empty = none)"),
        ]
    }

    /// Parses and checks the options from resolved values.
    public init(_ values: [String: String], method: String) throws {
        let o = OptionValues(method: method, values: values)
        func choice<T: RawRepresentable & CaseIterable>(_ name: String, _: T.Type) throws -> T where T.RawValue == String {
            let raw = o.string(name) ?? ""
            guard let v = T(rawValue: raw) else {
                throw HalluError("\(method).\(name): expected one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(raw)\"")
            }
            return v
        }
        func name(_ option: String, _ names: [String]) throws -> String {
            let raw = o.string(option) ?? ""
            guard names.contains(raw) else {
                throw HalluError("\(method).\(option): expected one of \(names.joined(separator: ", ")), got \"\(raw)\"")
            }
            return raw
        }
        enabled = try o.bool("pipeline")
        images = try o.int("pipeline_images", in: 1...10_000_000)
        prompt = o.string("pipeline_prompt") ?? prompt
        temperature = try o.float("pipeline_temperature", atLeast: 0, atMost: 100)
        maxNewTokens = try o.int("pipeline_max_new_tokens", in: 1...65_536)
        batchSize = try o.int("pipeline_batch_size", in: 1...65_536)
        detector = try name("detector", Detectors.names)
        rewrite = try name("rewrite", Rewriters.names)
        score = try choice("score", SeverityScore.self)
        heldout = try o.int("detector_heldout", in: 0...10_000_000)
        detectorTraining.steps = try o.int("detector_steps", in: 1...100_000_000)
        detectorTraining.lr = try o.double("detector_lr", above: 0)
        detectorTraining.batchSize = try o.int("detector_batch_size", in: 1...65_536)
        granularity = try choice("detector_granularity", DetectorGranularity.self)
        detectorModel = o.string("detector_model").flatMap { $0.isEmpty ? nil : $0 }
        judgeURL = o.string("judge_url").flatMap { $0.isEmpty ? nil : $0 }
        judgeModel = o.string("judge_model") ?? judgeModel
        judgeKeyVariable = o.string("judge_key_env") ?? ""
        if enabled && detector == "chat" && judgeURL == nil {
            throw HalluError("\(method): detector=chat needs judge_url")
        }
    }

    /// Everything that determines the pairs, for reusing them when a run resumes.
    var fingerprint: String {
        [String(enabled), String(images), prompt, String(temperature), String(maxNewTokens), detector, rewrite,
         score.rawValue, String(heldout), String(detectorTraining.steps), String(detectorTraining.lr), String(detectorTraining.batchSize),
         String(detectorTraining.seed), granularity.rawValue, detectorModel ?? "", judgeURL ?? "", judgeModel].joined(separator: "|")
    }
}
