import CoreRuntime

/// HACL, Hallucination Augmented Contrastive Learning (Jiang et al., arXiv 2312.06968).
///
/// An image and its caption are embedded by the LLM itself (the hidden state at an EOS token after
/// the visual tokens, or after the caption), projected by small heads and normalised. A contrastive
/// loss pulls each image towards its true caption and away from the other captions of the batch and
/// from hallucinated captions (the true caption with objects or attributes edited), which serve as
/// hard negatives in the image-to-text direction only. The total is `L_LM + weight · L_ita`.
/// The maths: `HACLObjective`, `HACLContrastive`, `HACLReadout`, `HACLRetrieval`.
public final class HACLMethod: Method {
    static let summaryText = "hallucination-augmented contrastive learning: LLM-readout image/text embeddings, hallucinated captions as hard negatives"

    public init() {}
    public var id: String { "hacl" }
    public var summary: String { Self.summaryText }
    public var options: [MethodOption] {
        [
            MethodOption("weight", "1.0", "weight of the contrastive loss L_ita added to the next-token loss (ita_weight)"),
            MethodOption("contrastive_only", "false", "train on L_ita alone, without the next-token loss (stage-1 alignment variant)"),
            MethodOption("negatives", "all", "which hallucinated captions of an example are negatives: all, or first"),
            MethodOption("holdout", "32", "contrastive examples kept out of training for the retrieval evaluation (at most a fifth of them)"),
            MethodOption("eval_examples", "64", "when nothing is held out: how many of the last training examples the retrieval evaluation uses"),
        ]
    }
    public var dataKinds: [DataKind] { objective.contrastiveOnly ? [.contrastive] : [.sft, .contrastive] }
    /// HACL fine-tunes LLaVA with its SFT recipe (lr 2e-5, one epoch) plus L_ita. On the world the
    /// equivalent is a short continuation at the world's fine-tuning lr (docs/RESULTS.md, "Run defaults").
    public var runDefaults: RunDefaults {
        RunDefaults(lr: 3e-4, steps: 100, batchSize: 8,
                    source: "HACL: LLaVA's SFT recipe (lr 2e-5, 1 epoch) with L_ita; on the world: 100 steps of 8 at 3e-4 (docs/RESULTS.md)")
    }

    /// The configured objective.
    public private(set) var objective = HACLObjective()
    /// The projection heads and temperature, created by `prepare` once the model's width is known.
    public private(set) var heads: HACLHeads?
    /// Examples the retrieval evaluation uses instead of training examples (set by `transformData`).
    public var evaluationExamples: [ContrastiveExample] = []
    private var holdout = 32
    private var fallbackCount = 64

    public func configure(_ values: [String: String]) throws {
        let v = OptionValues(method: id, values: values)
        let weight = try v.float("weight", atLeast: 0)
        let rule = v.string("negatives") ?? "all"
        guard let negatives = HACLNegatives(rawValue: rule) else {
            throw HalluError("hacl.negatives: expected one of \(HACLNegatives.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(rule)\"")
        }
        objective = HACLObjective(weight: weight, contrastiveOnly: try v.bool("contrastive_only"), negatives: negatives)
        holdout = try v.int("holdout", in: 0...1_000_000_000)
        fallbackCount = try v.int("eval_examples", in: 0...1_000_000_000)
    }

    public func transformData(_ data: TrainingData, _ context: TrainContext) throws -> TrainingData {
        let (train, heldOut) = HACLObjective.holdOut(data, count: holdout)
        evaluationExamples = heldOut
        if !heldOut.isEmpty { context.log("hacl: \(heldOut.count) contrastive examples held out for the retrieval evaluation") }
        return train
    }

    /// Creates the heads (seeded from the run seed) unless they exist, so that the trainer built after
    /// this call trains and checkpoints them.
    public func prepare(_ context: TrainContext) throws {
        guard !context.data.contrastive.isEmpty else {
            throw HalluError("hacl needs contrastive examples (caption plus hallucinated captions with an image); the training data has none")
        }
        if heads == nil {
            heads = try HACLHeads(hidden: context.model.config.text.hiddenSize, seed: context.config.seed ^ 0x4AC1)
        }
    }

    public func loss(_ batch: Batch, _ context: TrainContext) throws -> LossOutput {
        guard let heads else { throw HalluError("hacl: prepare(context) must run before the first loss (it creates the projection heads)") }
        return try objective.loss(batch, context, heads: heads)
    }

    public func extraParameters() -> [(String, Tensor)] { heads?.checkpointParameters ?? [] }

    /// The spec clamps τ once per optimiser step: here, right after the update.
    public func didStep(_ step: Int, _ context: TrainContext) throws { heads?.clampTemperature() }

    /// Retrieval accuracy against hallucinated captions on the held-out examples, or, when nothing was
    /// held out, on the last `eval_examples` training examples (then `retrieval_heldout` is 0).
    public func evaluate(_ context: TrainContext) throws -> [String: Double] {
        guard let heads else { throw HalluError("hacl: prepare(context) must run before evaluate (it creates the projection heads)") }
        let heldOut = !evaluationExamples.isEmpty
        let examples = heldOut ? evaluationExamples : Array(context.data.contrastive.suffix(fallbackCount))
        let r = try HACLRetrieval.accuracy(model: context.model, heads: heads, examples: examples, context: context)
        return ["retrieval_accuracy": r.accuracy, "retrieval_examples": Double(r.examples),
                "retrieval_margin": r.meanMargin, "retrieval_heldout": heldOut ? 1 : 0]
    }
}

/// What the library hands to hallu (see Entry/).
public enum HACLPlugin {
    public static var plugin: HalluPlugin {
        HalluPlugin(name: "HACL", methods: [MethodDescriptor(id: "hacl", summary: HACLMethod.summaryText, make: { HACLMethod() })],
                    dataFormats: [HACLData.format], worldExports: [HACLData.worldExport])
    }
}
