import CoreRuntime

/// A decoding hook (`--decode eager-eos`): stop as soon as stopping is plausible. Once a row has
/// generated `min_tokens` tokens, whenever the end-of-sequence logit is within `margin` of the
/// best logit, it is raised to the best, so greedy decoding ends there. The decode-time side of
/// the observation behind object unlikelihood: what a small model adds after the point where it
/// could have stopped is mostly guessed from the scene. It reads nothing but the logits, so it
/// works in every decoding mode.
public final class EagerEOS: DecodingMethod {
    public init() {}
    public var id: String { "eager-eos" }
    public var summary: String { "end the answer where EOS is within margin of the best token (after min_tokens)" }
    public var options: [MethodOption] {
        [MethodOption("margin", "2.0", "how far below the best logit EOS may be and still win; at least 0"),
         MethodOption("min_tokens", "8", "tokens a row generates before the hook acts; 0 to 65536")]
    }
    public private(set) var margin: Float = 2
    public private(set) var minTokens = 8
    private var eos = 0

    public func configure(_ values: [String: String]) throws {
        let v = OptionValues(method: id, values: try OptionValues.resolve(options, overrides: values, method: id))
        margin = try v.float("margin", atLeast: 0, atMost: 100)
        minTokens = try v.int("min_tokens", in: 0...65_536)
    }

    /// Reads nothing beyond the main logits: no extra streams, layers or attention.
    public func begin(_ context: DecodingContext) throws -> DecodingNeeds {
        eos = context.config.eosTokenId ?? context.model.config.text.eosTokenId ?? 2
        return DecodingNeeds()
    }

    public func adjust(_ step: DecodingStep) throws {
        guard eos < step.vocabSize else { throw HalluError("eager-eos: EOS id \(eos) is outside the vocabulary (\(step.vocabSize))") }
        for r in 0..<step.rows where step.generated(r).count >= minTokens {
            let logits = step.row(r)
            let best = logits.max() ?? 0
            if logits[eos] >= best - margin { logits[eos] = best }
        }
    }
}
