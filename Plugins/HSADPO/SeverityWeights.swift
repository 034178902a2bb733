import CoreRuntime

/// The per-pair weights of severity-aware DPO: each side's implicit reward is scaled by the pair's
/// score inside the sigmoid (`DPO.loss`'s `chosenWeights` and `rejectedWeights`), so that a more
/// severe hallucination in the rejected answer pushes harder.
enum SeverityWeights {
    /// `w_c = chosen_score if useChosenScore else 1`, `w_r = rejected_score if useRejectedScore else 1`;
    /// a missing score is 1 (then the pair is trained by plain DPO). A score that is negative or not
    /// finite is an error naming the pair: it would invert or break the loss.
    static func weights(_ pairs: [PreferencePair], useChosenScore: Bool, useRejectedScore: Bool) throws -> (chosen: [Float], rejected: [Float]) {
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
