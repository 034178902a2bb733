import CoreRuntime
import Foundation

/// HACL's training objective on one batch: `L = L_LM + weight · L_ita`, or `L = L_ita` alone in the
/// stage-1 (alignment) variant. The method plugin is a thin wrapper around this.
public struct HACLObjective {
    /// Multiplies L_ita (the released code's `ita_weight`).
    public var weight: Float
    /// Drops the next-token term (the released code's `do_generation = False`).
    public var contrastiveOnly: Bool
    /// Which hallucinated captions become negatives.
    public var negatives: HACLNegatives

    public init(weight: Float = 1, contrastiveOnly: Bool = false, negatives: HACLNegatives = .all) {
        self.weight = weight; self.contrastiveOnly = contrastiveOnly; self.negatives = negatives
    }

    /// The loss on `batch`: its contrastive examples give L_ita, its conversations the LM term (through
    /// the run's token objective). τ is clamped into range before use, as the released forward does.
    public func loss(_ batch: Batch, _ context: TrainContext, heads: HACLHeads) throws -> LossOutput {
        heads.clampTemperature()
        let e = try HACLReadout.embed(batch.contrastive, negatives: negatives, model: context.model,
                                      codec: context.codec, images: context.images, heads: heads)
        let ita = try HACLContrastive.loss(image: e.image, positive: e.positive, hallucinated: e.hallucinated,
                                           temperature: heads.temperature)
        var metrics: [String: Double] = [
            "ita_loss": Double(ita.loss.item),
            "i2t_loss": Double(ita.imageToText.item),
            "t2i_loss": Double(ita.textToImage.item),
            "itc_temp": Double(heads.temperature.item),
            "i2t_accuracy": HACLContrastive.inBatchAccuracy(ita.imageToTextLogits),
            "negatives": Double(e.owners.count),
        ]
        if let acc = HACLContrastive.hardNegativeAccuracy(ita.imageToTextLogits, owners: e.owners) {
            metrics["hard_negative_accuracy"] = acc
        }
        if contrastiveOnly { return LossOutput(loss: ita.loss, metrics: metrics) }
        guard !batch.conversations.isEmpty else {
            throw HalluError("hacl: the batch holds no SFT conversations for the next-token term; add conversations to the data or set hacl.contrastive_only=true")
        }
        let (lm, tokens) = try context.lmLoss(context.sftInputs(batch.conversations))
        metrics["lm_loss"] = Double(lm.item)
        metrics["tokens"] = Double(tokens)
        return LossOutput(loss: try lm + ita.loss.scaled(weight), metrics: metrics)
    }

    /// Splits off the last `count` contrastive examples (at most a fifth of them) as a retrieval
    /// evaluation set that training never sees. Returns the training data and the held-out examples.
    public static func holdOut(_ data: TrainingData, count: Int) -> (train: TrainingData, heldOut: [ContrastiveExample]) {
        let n = Swift.min(Swift.max(count, 0), data.contrastive.count / 5)
        var train = data
        train.contrastive = Array(data.contrastive.dropLast(n))
        return (train, Array(data.contrastive.suffix(n)))
    }
}
