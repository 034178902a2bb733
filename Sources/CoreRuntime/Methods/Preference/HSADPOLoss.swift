import Foundation

/// The severity-aware DPO objective of HSA-DPO (Xiao et al., AAAI 2025, arXiv 2404.14233): each
/// side's implicit reward is scaled by a per-pair weight inside the sigmoid, so a more severe
/// hallucination in the rejected answer pushes harder.
public enum HSADPOLoss {
    /// `loss = mean_i -log sigmoid(beta h_i) + gamma * NLL(chosen)` with
    /// `h_i = w_c,i (log pi(c_i) - log pi_ref(c_i)) - w_r,i (log pi(r_i) - log pi_ref(r_i))`.
    /// With every weight 1 this is exactly HA-DPO's loss. HSA-DPO's recipe is gamma = 0, beta = 0.1.
    public static func loss(_ lp: DPO.LogProbs, beta: Float, chosenWeights: [Float], rejectedWeights: [Float], gamma: Float = 0) throws -> LossOutput {
        let b = lp.count
        guard chosenWeights.count == b, rejectedWeights.count == b else {
            throw HalluError("hsadpo: \(chosenWeights.count) chosen and \(rejectedWeights.count) rejected weights for \(b) pairs")
        }
        let (chosenRatio, rejectedRatio) = try DPO.logRatios(lp)                 // log pi/pi_ref per side
        let wc = try Tensor(chosenWeights, shape: [b]), wr = try Tensor(rejectedWeights, shape: [b])
        let h = try wc * chosenRatio - wr * rejectedRatio                          // w_c(...) - w_r(...)
        let perPair = (h * beta).logSigmoid().scaled(-1)                          // -log sigmoid(beta h)
        let dpo = LossOutput(loss: perPair.mean(), metrics: DPO.metrics(lp, beta: beta)) // mean; rewards unweighted
        return try DPO.addingSFT(dpo, lp, gamma: gamma)                            // + gamma * NLL(chosen)
    }

    /// The per-pair weights: `w_c = chosen_score if useChosenScore else 1`, `w_r = rejected_score if
    /// useRejectedScore else 1`; a missing score is 1 (then the pair is trained by plain DPO). A score
    /// that is negative or not finite is an error naming the pair: it would invert or break the loss.
    public static func weights(_ pairs: [PreferencePair], useChosenScore: Bool, useRejectedScore: Bool) throws -> (chosen: [Float], rejected: [Float]) {
        func weight(_ score: Double?, _ use: Bool, _ side: String, _ id: String) throws -> Float {
            guard use, let s = score else { return 1 }
            guard s.isFinite, s >= 0 else { throw HalluError("pair \(id): \(side)_score is \(s); severity scores must be finite and >= 0") }
            return Float(s)
        }
        let c = try pairs.map { try weight($0.chosenScore, useChosenScore, "chosen", $0.id) }
        let r = try pairs.map { try weight($0.rejectedScore, useRejectedScore, "rejected", $0.id) }
        return (c, r)
    }
}
