import CoreRuntime
import Foundation

/// M3ID, multi-modal mutual-information decoding (Favero et al., "Multi-Modal Hallucination Control
/// by Visual Information Grounding", CVPR 2024, arXiv 2403.14003). Each step compares the
/// log-probabilities with the image (l_c) and without it (l_u, the same prompt with the image
/// placeholder removed, decoded in the same batched pass) and amplifies what the image adds, more
/// as the answer grows (the paper's observation: reliance on the image fades with length):
///
///     gamma_t = exp(-lambda t)                            t = 1 for the first generated token
///     out     = l_c + (1 - gamma_t) / gamma_t (l_c - l_u)   when max_v p_c(v) < alpha
///     out     = l_c                                       otherwise (the model is confident)
///
/// Greedy takes the argmax of `out`, sampling samples from it (temperature and top-p apply after),
/// beam search adds its log-softmax. The paper gives the rule and the forgetting rate lambda as a
/// hyper-parameter; the defaults here (lambda 0.02, alpha 0.9) were chosen on the scene world, not
/// taken from the paper.
public final class M3IDMethod: DecodingMethod {
    public init() {}
    public var id: String { "m3id" }
    public var summary: String { "M3ID: amplify image-conditioned over image-free log-probabilities with weight (1-e^-lambda t)/e^-lambda t; two passes in one batch" }
    public var options: [MethodOption] {
        [MethodOption("lambda", "0.02", "forgetting rate: gamma_t = exp(-lambda t); above 0"),
         MethodOption("alpha", "0.9", "amplify only when the top conditioned probability is below alpha; in (0, 1], 1 = always")]
    }
    public private(set) var lambda: Double = 0.02
    public private(set) var alpha: Float = 0.9

    public func configure(_ values: [String: String]) throws {
        let v = OptionValues(method: id, values: try OptionValues.resolve(options, overrides: values, method: id))
        lambda = try v.double("lambda", above: 0, atMost: 10)
        alpha = try v.float("alpha", above: 0, atMost: 1)
    }

    public func begin(_ context: DecodingContext) throws -> DecodingNeeds {
        let image = context.model.config.imageTokenIndex
        return DecodingNeeds(streams: [DecodingStream(name: "without image") { inputs in
            LlavaInputs(ids: inputs.ids.map { $0.filter { $0 != image } }, pixels: nil)
        }])
    }

    public func adjust(_ step: DecodingStep) throws {
        let lc = step.logits.logSoftmax(), lu = try step.streamLogits(0).logSoftmax()
        let v = step.vocabSize
        for r in 0..<step.rows {
            let t = Double(step.generated(r).count + 1)
            let gamma = Foundation.exp(-lambda * t)
            let w = Float((1 - gamma) / gamma)
            let row = step.row(r), c = lc.data + r * v, u = lu.data + r * v
            var top = -Float.infinity
            for j in 0..<v where c[j] > top { top = c[j] }
            let amplify = Foundation.exp(top) < alpha
            for j in 0..<v { row[j] = amplify ? c[j] + w * (c[j] - u[j]) : c[j] }
        }
    }
}

/// What the library hands to hallu (see Entry/).
public enum M3IDPlugin {
    public static var plugin: HalluPlugin {
        let m = M3IDMethod()
        return HalluPlugin(name: "M3ID", decoders: [DecoderDescriptor(id: m.id, summary: m.summary, make: { M3IDMethod() })])
    }
}
