import CoreRuntime
import Foundation

/// Which number ranks samples for dropping. Higher always means "more harmful": the sample pushes
/// the model to keep talking where it would stop.
public enum EOSScoreKind: String, CaseIterable {
    /// `S_neg`: the total push away from stopping that the sample delivers (grows with length).
    case sNeg = "s_neg"
    /// `S_neg` per supervised non-EOS token: the push independent of length.
    case sNegMean = "s_neg_mean"
    /// `S_neg - S_pos`: push to stop too late, net of the push to stop early.
    case sNegMinusSPos = "s_neg_minus_s_pos"
    /// The same difference of per-token means.
    case sNegMeanMinusSPosMean = "s_neg_mean_minus_s_pos_mean"

    /// The ranking value of one sample.
    public func value(_ s: EOSScore) -> Double {
        switch self {
        case .sNeg: return s.sNeg
        case .sNegMean: return s.sNegMean
        case .sNegMinusSPos: return s.sNeg - s.sPos
        case .sNegMeanMinusSPosMean: return s.sNegMean - s.sPosMean
        }
    }

    /// Parses an option value, or explains which values exist.
    public static func parse(_ text: String) throws -> EOSScoreKind {
        if let k = EOSScoreKind(rawValue: text) { return k }
        let names = allCases.map(\.rawValue)
        let hint = Suggest.nearest(text, in: names).map { " (did you mean \"\($0)\"?)" } ?? ""
        throw HalluError("scoring-eos.score: unknown score \"\(text)\"\(hint); known: \(names.joined(separator: ", "))")
    }
}

/// Turns ranking values into keep/drop decisions.
public enum EOSFilterRule: Equatable {
    /// Drops the `fraction` of samples with the highest values (rounded to the nearest count).
    /// Ties are broken by position: among equal values the earlier sample is dropped first.
    case dropTopFraction(Double)
    /// Keeps the samples whose value is at most the threshold.
    case threshold(Double)

    /// One flag per value: true = keep. Throws on a fraction outside [0, 1] or a NaN value.
    public func keep(_ values: [Double]) throws -> [Bool] {
        if let i = values.firstIndex(where: { $0.isNaN }) { throw HalluError("scoring-eos: score of sample \(i) is NaN") }
        switch self {
        case .threshold(let tau):
            guard !tau.isNaN else { throw HalluError("scoring-eos.threshold: NaN is not a threshold") }
            return values.map { $0 <= tau }
        case .dropTopFraction(let f):
            guard f >= 0 && f <= 1 else { throw HalluError("scoring-eos.drop_fraction: \(f) is outside [0, 1]") }
            let drop = Int((f * Double(values.count)).rounded())
            let order = values.indices.sorted { values[$0] != values[$1] ? values[$0] > values[$1] : $0 < $1 }
            var keep = [Bool](repeating: true, count: values.count)
            for i in order.prefix(drop) { keep[i] = false }
            return keep
        }
    }
}
