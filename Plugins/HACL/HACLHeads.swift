import CoreRuntime
import Foundation

/// HACL's trainable additions to the model: one linear projection per modality (hidden -> hidden/4,
/// with bias, as `nn.Linear` in the released code) and the learnable temperature `itc_temp`.
public final class HACLHeads: Module {
    /// The temperature starts here (the released code's `itc_temp` initial value).
    public static let initialTemperature: Float = 0.07
    /// The temperature is kept inside this range after every step.
    public static let temperatureRange: ClosedRange<Float> = 0.001...0.5

    /// Maps the image readout to the joint space.
    public let visionProjector: Linear
    /// Maps the caption readout to the joint space.
    public let textProjector: Linear
    /// The scalar temperature τ (shape `[]`).
    public let temperature: Tensor

    /// Fresh heads for an LLM of width `hidden`, initialised like `nn.Linear` from `seed`.
    public init(hidden: Int, seed: UInt64) throws {
        guard hidden >= 4 else { throw HalluError("hacl: hidden size \(hidden) is too small for a hidden/4 projection") }
        var rng = SeededRNG(seed: seed)
        visionProjector = Linear(hidden, hidden / 4, bias: true, rng: &rng)
        textProjector = Linear(hidden, hidden / 4, bias: true, rng: &rng)
        temperature = Tensor.full([], HACLHeads.initialTemperature, requiresGrad: true)
    }

    public override var ownParameters: [(String, Tensor)] { [("itc_temp", temperature)] }
    public override var children: [(String, Module)] { [("vision_projector", visionProjector), ("text_projector", textProjector)] }

    /// Parameters under the names they are checkpointed with: `hacl.vision_projector.weight`,
    /// `hacl.vision_projector.bias`, `hacl.text_projector.weight`, `hacl.text_projector.bias`, `hacl.itc_temp`.
    public var checkpointParameters: [(String, Tensor)] { namedParameters(prefix: "hacl") }

    /// Puts τ back into `temperatureRange` in place (outside the graph), as the released code's
    /// `itc_temp.clamp_(0.001, 0.5)`.
    public func clampTemperature() {
        let r = HACLHeads.temperatureRange
        temperature.data[0] = Swift.min(Swift.max(temperature.data[0], r.lowerBound), r.upperBound)
    }

    /// Projected, L2-normalised image embeddings from LLM readouts `[B, hidden]`.
    public func embedImages(_ readout: Tensor) throws -> Tensor { try visionProjector(readout).l2NormalizedRows() }
    /// Projected, L2-normalised caption embeddings from LLM readouts `[N, hidden]`.
    public func embedTexts(_ readout: Tensor) throws -> Tensor { try textProjector(readout).l2NormalizedRows() }
}
