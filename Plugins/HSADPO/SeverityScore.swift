import CoreRuntime
import Foundation

/// How a rejected answer's detected severities become its `rejected_score`, the weight of its implicit
/// reward in HSA-DPO's loss. HSA-DPO's released code takes the score as given data; the paper's own
/// mapping is not in its repository.
public enum SeverityScore: String, CaseIterable, Sendable {
    /// `min(1, sum of severities / 3)`: the scene world's mapping (docs/DATA.md), so one object
    /// hallucination (3) scores 1, one attribute (2) 0.6667, one relation (1) 0.3333, and several
    /// add up to the cap.
    case sum
    /// `max severity / 3`: the worst sentence decides, however many there are.
    case max
    /// No score: every pair trains as plain DPO (weight 1).
    case none

    /// The score for a response's hallucinated sentences' severities (1-3 each), rounded to 4
    /// decimals as the world writes it; nil for `none`. A response without hallucinations scores 0.
    public func score(_ severities: [Int]) -> Double? {
        switch self {
        case .sum: return HallucinatedDescription.score(severities: severities)
        case .max:
            let raw = Double(severities.max() ?? 0) / 3
            return (Swift.min(1, raw) * 10_000).rounded() / 10_000
        case .none: return nil
        }
    }
}
