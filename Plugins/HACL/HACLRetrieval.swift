import CoreRuntime
import Foundation

/// Image-to-text retrieval with hallucinated captions as distractors: for each image, does its true
/// caption score above every one of its own hallucinated captions under the HACL embeddings?
/// This asks exactly what HACL trains for: whether the joint space separates a faithful description
/// from a minimally edited hallucinated one.
public enum HACLRetrieval {
    /// Retrieval outcome over a set of examples.
    public struct Result: Equatable {
        /// Examples with at least one hallucinated caption (the others cannot be judged).
        public var examples: Int
        /// How many of them rank the true caption first.
        public var correct: Int
        /// Mean of cos(image, true caption) - max_j cos(image, hallucinated_j).
        public var meanMargin: Double
        /// `correct / examples` (0 when nothing was judged).
        public var accuracy: Double { examples == 0 ? 0 : Double(correct) / Double(examples) }
    }

    /// Scores `examples` with the model and heads (no gradients recorded), `chunk` examples per forward
    /// pass. Every hallucinated caption of an example is a distractor, whatever the training rule.
    public static func accuracy(model: LlavaModel, heads: HACLHeads, examples: [ContrastiveExample],
                                context: TrainContext, chunk: Int = 16) throws -> Result {
        try accuracy(model: model, heads: heads, examples: examples, codec: context.codec, images: context.images, chunk: chunk)
    }

    /// `accuracy` with the text and image pipelines given directly.
    public static func accuracy(model: LlavaModel, heads: HACLHeads, examples: [ContrastiveExample],
                                codec: PromptCodec, images: ImageStore, chunk: Int = 16) throws -> Result {
        let judged = examples.filter { !$0.hallucinatedCaptions.isEmpty }
        var result = Result(examples: 0, correct: 0, meanMargin: 0)
        var marginSum: Double = 0
        let step = Swift.max(chunk, 1)
        try withNoGrad {
            for start in stride(from: 0, to: judged.count, by: step) {
                let part = Array(judged[start..<Swift.min(start + step, judged.count)])
                let e = try HACLReadout.embed(part, negatives: .all, model: model, codec: codec, images: images, heads: heads)
                guard let hal = e.hallucinated else { continue }
                let d = e.image.shape[1]
                func cosine(_ a: Tensor, _ i: Int, _ b: Tensor, _ j: Int) -> Double {
                    var s: Double = 0
                    for k in 0..<d { s += Double(a.data[i * d + k]) * Double(b.data[j * d + k]) }
                    return s
                }
                var bestWrong = [Double](repeating: -.infinity, count: part.count)
                for (k, owner) in e.owners.enumerated() { bestWrong[owner] = Swift.max(bestWrong[owner], cosine(e.image, owner, hal, k)) }
                for i in 0..<part.count {
                    let margin = cosine(e.image, i, e.positive, i) - bestWrong[i]
                    result.examples += 1
                    if margin > 0 { result.correct += 1 }
                    marginSum += margin
                }
            }
        }
        result.meanMargin = result.examples == 0 ? 0 : marginSum / Double(result.examples)
        return result
    }
}
