import CoreRuntime

/// Object unlikelihood: supervised fine-tuning on faithful descriptions, plus an unlikelihood term
/// that lowers the probability of naming, anywhere in the description, an object the image does not
/// show (the scene's typical objects that are absent, which a model leaning on the scene prior names
/// anyway):
///
///     L = NLL(description) + alpha * mean over supervised positions of -log(1 - p(absent names))
///
/// A name that is the next gold token at a position is not a negative there.
public final class ObjectUnlikelihoodMethod: Method {
    public init() {}
    public var id: String { "object-ul" }
    public var summary: String { "object unlikelihood: SFT on faithful descriptions plus -log(1 - p) of the names of absent objects" }
    public var options: [MethodOption] { [MethodOption("alpha", "1.0", "weight of the unlikelihood term; 0 = plain SFT on the same data")] }
    public var dataKinds: [DataKind] { [AbsentObjects.kind] }

    /// Unlikelihood training fine-tunes at the language model's fine-tuning lr. The world's baseline
    /// was trained at 2e-3; a short continuation at 1e-4 keeps its yes/no answers where they are.
    public var runDefaults: RunDefaults {
        RunDefaults(lr: 1e-4, steps: 100, batchSize: 8,
                    source: "unlikelihood training at a fine-tuning lr; on the world: 100 steps of 8 at 1e-4")
    }

    private var alpha: Float = 1

    public func configure(_ values: [String: String]) throws {
        let v = OptionValues(method: id, values: values)
        alpha = try v.float("alpha", atLeast: 0, atMost: 100)   // "object-ul.alpha: must be a finite number in [0, 100], got ..."
    }

    public func loss(_ batch: Batch, _ context: TrainContext) throws -> LossOutput {
        let b = try batch.collated(AbsentObjects.kind, as: AbsentObjectsBatch.self)
        let (logits, targets, layout) = try context.model.supervisedLogits(b.inputs)
        let nll = try context.tokenObjective.loss(logits: logits, targets: targets)
        // Supervised row i sits in sequence rows[i] / length; its negatives are that sample's.
        let rows = LlavaModel.shiftedTargets(layout).rows
        let negatives = rows.enumerated().map { i, row in b.negatives[row / layout.length].filter { $0 != targets[i] } }
        let unlikelihood = try Tensor.unlikelihood(logits, negatives: negatives).mean()
        return LossOutput(loss: try nll + unlikelihood.scaled(alpha),
                          metrics: ["nll": Double(nll.item), "unlikelihood": Double(unlikelihood.item), "tokens": Double(targets.count)])
    }
}
