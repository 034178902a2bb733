import CoreRuntime

/// A decoding hook (`--decode repeat-penalty`): the repetition penalty of CTRL (Keskar et al.,
/// 2019, arXiv 1909.05858). Every token a row has generated so far becomes less likely: its logit
/// is divided by `penalty` when positive and multiplied by it when negative. Small models that lose
/// count repeat an object they have named ("a yellow car to the right of the car"); this makes the
/// second mention cost more. It reads nothing but the logits, so it works in every decoding mode.
public final class RepeatPenalty: DecodingMethod {
    public init() {}
    public var id: String { "repeat-penalty" }
    public var summary: String { "CTRL's repetition penalty: logits of already generated tokens divided (or, if negative, multiplied) by penalty" }
    public var options: [MethodOption] { [MethodOption("penalty", "1.3", "in [1, 10]; 1 leaves the logits as they are")] }
    public private(set) var penalty: Float = 1.3

    public func configure(_ values: [String: String]) throws {
        let v = OptionValues(method: id, values: try OptionValues.resolve(options, overrides: values, method: id))
        penalty = try v.float("penalty")
        guard penalty.isFinite, penalty >= 1, penalty <= 10 else { throw HalluError("repeat-penalty.penalty: must be in [1, 10], got \(v.string("penalty")!)") }
    }

    /// Needs nothing beyond the main logits: no extra streams, layers or attention.
    public func begin(_ context: DecodingContext) throws -> DecodingNeeds { DecodingNeeds() }

    public func adjust(_ step: DecodingStep) throws {
        for r in 0..<step.rows {
            let logits = step.row(r)
            for token in Set(step.generated(r)) where logits.indices.contains(token) {
                logits[token] = logits[token] > 0 ? logits[token] / penalty : logits[token] * penalty
            }
        }
    }
}
