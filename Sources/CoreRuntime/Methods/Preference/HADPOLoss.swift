import Foundation

/// The HA-DPO objective (Zhao et al., arXiv 2311.16839; LLaVA-1.5 trainer), optionally with TRL's
/// conservative label smoothing and the MiniGPT-4 branch's auxiliary SFT term ("DPO + SFT").
public enum HADPOLoss {
    /// `loss = mean_i [-(1-eps) log sigmoid(beta h_i) - eps log sigmoid(-beta h_i)] + gamma * NLL(chosen)`
    /// with `h_i = (log pi(c_i) - log pi(r_i)) - (log pi_ref(c_i) - log pi_ref(r_i))`.
    /// HA-DPO's LLaVA recipe is eps = 0, gamma = 0, beta = 0.1.
    public static func loss(_ lp: DPO.LogProbs, beta: Float, labelSmoothing eps: Float = 0, gamma: Float = 0) throws -> LossOutput {
        let (chosenRatio, rejectedRatio) = try DPO.logRatios(lp)       // log pi/pi_ref per side
        let h = try chosenRatio - rejectedRatio                          // the implicit reward margin / beta
        var perPair = (h * beta).logSigmoid().scaled(-(1 - eps))       // -(1-eps) log sigmoid(beta h)
        if eps != 0 { perPair = try perPair - (h * (-beta)).logSigmoid().scaled(eps) } // - eps log sigmoid(-beta h)
        let dpo = LossOutput(loss: perPair.mean(), metrics: DPO.metrics(lp, beta: beta))  // mean over pairs
        return try DPO.addingSFT(dpo, lp, gamma: gamma)                  // + gamma * NLL(chosen)
    }
}
