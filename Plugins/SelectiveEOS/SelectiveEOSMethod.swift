import CoreRuntime

/// `selective-eos`: supervised fine-tuning under Selective EOS Supervision ("Less is More" §3).
///
/// At every supervised position whose gold token is not EOS, the EOS logit is left out of the
/// softmax; at EOS positions the full softmax is used; the loss is the token-level mean over the
/// batch (`SelectiveEOSObjective`). The objective is exposed as `tokenObjective`, so in a
/// composition such as `selective-eos+hsadpo` every SFT term of the other methods uses it too.
/// The method's own loss is the SFT loss on the conversations, through `context.lmLoss`.
public final class SelectiveEOSMethod: Method {
    static let methodId = "selective-eos"
    static let summaryText = "Selective EOS Supervision (Less is More, ACL 2024): SFT with the EOS logit left out of the softmax where the gold token is not EOS"

    private let objective = SelectiveEOSObjective()
    private var eosOption = -1

    public init() {}
    public var id: String { Self.methodId }
    public var summary: String { Self.summaryText }
    public var dataKinds: [DataKind] { [.sft] }
    /// The paper: LoRA r 128, alpha 256, lr 2e-4, cosine, warm-up 3%, one epoch of Detail23k (180
    /// steps of 128). On the world, a short continuation at a third of the methods table's lr keeps
    /// CHAIR recall within 0.1 of the baseline (docs/RESULTS.md, "Run defaults").
    public var runDefaults: RunDefaults {
        RunDefaults(lr: 1e-4, steps: 100, batchSize: 16,
                    source: "Less is More: LoRA r128, lr 2e-4, 1 epoch of Detail23k; on the world: 100 steps of 16 at 1e-4 (docs/RESULTS.md)")
    }
    public var options: [MethodOption] {
        [
            MethodOption("eos_id", "-1", "EOS token id; -1 = the tokenizer's EOS"),
            MethodOption("enabled", "true", "false = plain cross-entropy (the ablation baseline)"),
        ]
    }
    public var tokenObjective: TokenObjective? { objective }

    public func configure(_ values: [String: String]) throws {
        let o = OptionValues(method: id, values: values)
        eosOption = try parseEOSOption(o)
        objective.enabled = try o.bool("enabled")
        objective.eosId = eosOption
    }

    /// Resolves the EOS id and makes the objective the run's token objective, unless the host has
    /// already installed it. Another method's objective here means the composition is invalid.
    public func prepare(_ context: TrainContext) throws {
        objective.eosId = try resolveEOS(eosOption, context, method: id)
        if context.tokenObjective is CrossEntropyObjective { context.tokenObjective = objective }
        guard context.tokenObjective === objective else {
            throw HalluError("selective-eos: the run already uses the token objective \"\(context.tokenObjective.name)\"; at most one method per run may replace it")
        }
        context.log("selective-eos: \(objective.name)")
    }

    public func loss(_ batch: Batch, _ context: TrainContext) throws -> LossOutput {
        // Without this check a host that skipped `prepare` would silently train with plain cross-entropy.
        guard context.tokenObjective === objective else {
            throw HalluError("selective-eos: the run's token objective is \"\(context.tokenObjective.name)\"; call prepare before training")
        }
        let inputs = try context.sftInputs(batch.conversations)
        let (loss, tokens) = try context.lmLoss(inputs)
        let eosTokens = (inputs.labels ?? []).reduce(0) { $0 + $1.filter { $0 == objective.eosId }.count }
        return LossOutput(loss: loss, metrics: ["tokens": Double(tokens), "eos_tokens": Double(eosTokens)])
    }
}
