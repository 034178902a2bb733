import CoreRuntime
import Foundation

/// Selective EOS Supervision (Yue, Zhang, Jin, "Less is More", ACL 2024): cross-entropy in which the
/// EOS logit is left out of the softmax at every supervised position whose gold token is not EOS.
///
/// Plain cross-entropy at a non-EOS position pushes probability away from every wrong token,
/// EOS included, so each training description teaches "do not stop here" at every position, even
/// where the image has nothing more to say. Removing EOS from those softmaxes keeps the rest of
/// the next-token objective and leaves the stop decision to the positions that carry an EOS
/// label, where the full softmax raises P(EOS) as usual. With `z'_p[EOS] = -inf` when `y_p != EOS`:
///
///     L = mean_p [ logsumexp_v z'_p[v] - z'_p[y_p] ]      (token-level mean over the whole batch)
///
/// Rows whose target is `Tensor.ignoreIndex` are unsupervised and count neither in the sum nor
/// in the mean. With `enabled == false` this is exactly `Tensor.crossEntropy` (for ablations).
public final class SelectiveEOSObjective: TokenObjective {
    /// The EOS token id, or -1 while unresolved (the method resolves it from the tokenizer).
    public var eosId: Int
    /// False gives plain cross-entropy.
    public var enabled: Bool

    /// `eosId` -1 means "not known yet"; `loss` refuses to run until it is set.
    public init(eosId: Int = -1, enabled: Bool = true) {
        self.eosId = eosId
        self.enabled = enabled
    }

    public var name: String { enabled ? "selective-eos (eos \(eosId))" : "cross-entropy (selective-eos disabled)" }

    /// The column each row leaves out of its softmax: EOS where the target is a real non-EOS token,
    /// -1 (nothing) where the target is EOS or the row is unsupervised.
    public func excludedColumns(targets: [Int]) -> [Int] {
        targets.map { $0 == Tensor.ignoreIndex || $0 == eosId ? -1 : eosId }
    }

    public func loss(logits: Tensor, targets: [Int]) throws -> Tensor {
        guard enabled else { return try Tensor.crossEntropy(logits, targets: targets) }
        guard eosId >= 0 else {
            throw HalluError("selective-eos: the EOS token id is not set (set selective-eos.eos_id, or give the tokenizer an EOS token)")
        }
        guard logits.rank == 2, eosId < logits.shape[1] else {
            throw HalluError("selective-eos: EOS id \(eosId) is outside the vocabulary of logits \(logits.shape)")
        }
        return try Tensor.crossEntropy(logits, targets: targets, excluded: excludedColumns(targets: targets))
    }
}
