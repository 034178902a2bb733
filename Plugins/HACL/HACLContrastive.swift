import CoreRuntime
import Foundation

/// The image-text contrastive loss of HACL (Jiang et al., arXiv 2312.06968) with hallucinated
/// captions as hard negatives, on embeddings that are already projected and normalised.
public enum HACLContrastive {
    /// The loss and its two directions, plus the similarity logits (for metrics).
    public struct Output {
        /// `(i2t + t2i) / 2`, the paper's L_ita.
        public var loss: Tensor
        /// Cross-entropy of each image against the text bank `[true captions; hallucinated captions]`.
        public var imageToText: Tensor
        /// Cross-entropy of each true caption against the images.
        public var textToImage: Tensor
        /// `[B, B + H]` image-to-text logits (already divided by the temperature).
        public var imageToTextLogits: Tensor
        /// `[B, B]` text-to-image logits.
        public var textToImageLogits: Tensor
    }

    /// L_ita for `B` pairs.
    ///
    /// - Parameters:
    ///   - image: `[B, d]` image embeddings `I`.
    ///   - positive: `[B, d]` embeddings `Tpos` of the true captions; row i describes image i.
    ///   - hallucinated: `[H, d]` embeddings `Thal` of hallucinated captions (any H, or nil). They are
    ///     extra columns of the image-to-text logits only: negatives for every image, never anchors.
    ///   - temperature: the scalar `τ` (a tensor, so that it learns).
    public static func loss(image: Tensor, positive: Tensor, hallucinated: Tensor?, temperature: Tensor) throws -> Output {
        guard image.rank == 2, positive.rank == 2, image.shape == positive.shape, image.shape[0] > 0 else {
            throw HalluError("hacl contrastive loss: image \(image.shape) and caption \(positive.shape) embeddings must both be [B, d] with B > 0")
        }
        if let h = hallucinated, h.rank != 2 || h.shape[1] != image.shape[1] {
            throw HalluError("hacl contrastive loss: hallucinated embeddings \(h.shape) must be [H, \(image.shape[1])]")
        }
        guard temperature.count == 1 else { throw HalluError("hacl contrastive loss: temperature must be a scalar, got \(temperature.shape)") }
        guard temperature.item > 0 else { throw HalluError("hacl contrastive loss: temperature \(temperature.item) must be positive") }
        let b = image.shape[0]
        let diagonal = Array(0..<b)
        // text bank = [Tpos ; Thal]
        let bank = try hallucinated.map { try Tensor.concat([positive, $0], axis: 0) } ?? positive
        // s_i2t = I · bank^T / τ   [B, B + H]; target i
        let sI2T = try Tensor.similarityLogits(image, bank, temperature: temperature)
        // s_t2i = Tpos · I^T / τ   [B, B]; target i
        let sT2I = try Tensor.similarityLogits(positive, image, temperature: temperature)
        let i2t = try Tensor.crossEntropy(sI2T, targets: diagonal)
        let t2i = try Tensor.crossEntropy(sT2I, targets: diagonal)
        // L_ita = (CE(s_i2t) + CE(s_t2i)) / 2
        let total = try (i2t + t2i).scaled(0.5)
        return Output(loss: total, imageToText: i2t, textToImage: t2i, imageToTextLogits: sI2T, textToImageLogits: sT2I)
    }

    /// Share of images whose true caption has the highest logit among all `B + H` texts of the batch.
    public static func inBatchAccuracy(_ imageToTextLogits: Tensor) -> Double {
        let b = imageToTextLogits.shape[0]
        let best = imageToTextLogits.argmaxLastAxis()
        return Double((0..<b).filter { best[$0] == $0 }.count) / Double(Swift.max(b, 1))
    }

    /// Share of images whose true caption scores above every one of its own hallucinated captions.
    /// `owners[k]` is the image of hallucinated row k; images without hallucinated captions are skipped.
    /// Returns nil when no image has one.
    public static func hardNegativeAccuracy(_ imageToTextLogits: Tensor, owners: [Int]) -> Double? {
        let b = imageToTextLogits.shape[0], cols = imageToTextLogits.shape[1]
        var best = [Float](repeating: -.infinity, count: b)
        for (k, i) in owners.enumerated() where b + k < cols {
            best[i] = Swift.max(best[i], imageToTextLogits.data[i * cols + b + k])
        }
        let judged = (0..<b).filter { best[$0] > -.infinity }
        guard !judged.isEmpty else { return nil }
        let right = judged.filter { imageToTextLogits.data[$0 * cols + $0] > best[$0] }.count
        return Double(right) / Double(judged.count)
    }
}
