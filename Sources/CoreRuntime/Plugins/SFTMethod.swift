import Foundation

/// Supervised fine-tuning: next-token loss on the assistant turns (LLaVA's visual instruction tuning).
/// Built into the core; it is also the baseline every method is compared against.
public final class SFTMethod: Method {
    static let summaryText = "supervised fine-tuning on conversations (next-token loss on assistant turns)"
    public init() {}
    public var id: String { "sft" }
    public var summary: String { Self.summaryText }
    public var dataKinds: [DataKind] { [.sft] }

    public func loss(_ batch: Batch, _ ctx: TrainContext) throws -> LossOutput {
        let (loss, tokens) = try ctx.lmLoss(ctx.sftInputs(batch.conversations))
        return LossOutput(loss: loss, metrics: ["tokens": Double(tokens)])
    }
}

/// Several methods trained together: losses summed with weights, data kinds unioned. Refuses
/// combinations that cannot compose.
public enum Composition {
    /// Validates a composition and returns the token objective it uses.
    public static func validate(_ methods: [Method]) throws -> TokenObjective? {
        let ids = methods.map(\.id)
        if Set(ids).count != ids.count { throw HalluError("method \(ids.joined(separator: "+")) names a method twice") }
        let objectives = methods.filter { $0.tokenObjective != nil }
        if objectives.count > 1 {
            throw HalluError("\(objectives.map(\.id).joined(separator: " and ")) both replace the token objective; at most one method per run may do so")
        }
        return objectives.first?.tokenObjective
    }
}
