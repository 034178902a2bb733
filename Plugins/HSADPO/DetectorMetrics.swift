import CoreRuntime
import Foundation

/// Sentence-level quality of a detector against reference labels: hallucinated vs faithful as a
/// binary task (precision, recall, F1, accuracy), and, on the sentences both call hallucinated, how
/// often the type and the severity agree.
public struct DetectorMetrics: Codable, Equatable, Sendable {
    /// Responses compared.
    public var responses: Int
    /// Sentences compared.
    public var sentences: Int
    /// Sentences the reference calls hallucinated.
    public var referenceHallucinated: Int
    /// Sentences the detector calls hallucinated.
    public var predictedHallucinated: Int
    /// Sentences both call hallucinated.
    public var truePositives: Int
    /// TP / predicted (0 when nothing is predicted).
    public var precision: Double
    /// TP / reference (0 when the reference has none).
    public var recall: Double
    /// Harmonic mean of precision and recall (0 when both are 0).
    public var f1: Double
    /// Share of sentences whose hallucinated/faithful call agrees.
    public var accuracy: Double
    /// Share of the true positives whose type agrees.
    public var typeAccuracy: Double
    /// Share of the true positives whose severity agrees.
    public var severityAccuracy: Double
    /// Recall per reference type ("object", "attribute", "relation"), for the types present.
    public var recallByType: [String: Double]

    enum CodingKeys: String, CodingKey {
        case responses, sentences, precision, recall, f1, accuracy
        case referenceHallucinated = "reference_hallucinated", predictedHallucinated = "predicted_hallucinated"
        case truePositives = "true_positives", typeAccuracy = "type_accuracy", severityAccuracy = "severity_accuracy"
        case recallByType = "recall_by_type"
    }

    /// Compares predictions with references response by response; the sentence counts must agree.
    public static func compute(reference: [[DetectionSentence]], predicted: [[DetectionSentence]]) throws -> DetectorMetrics {
        guard reference.count == predicted.count else {
            throw HalluError("detector metrics: \(reference.count) reference responses but \(predicted.count) predicted")
        }
        var n = 0, refH = 0, predH = 0, tp = 0, agree = 0, typeOK = 0, sevOK = 0
        var byType: [String: (hit: Int, all: Int)] = [:]
        for (i, (r, p)) in zip(reference, predicted).enumerated() {
            guard r.count == p.count else {
                throw HalluError("detector metrics: response \(i) has \(r.count) reference sentences but \(p.count) predicted")
            }
            for (a, b) in zip(r, p) {
                n += 1
                if a.hallucinated { refH += 1 }
                if b.hallucinated { predH += 1 }
                if a.hallucinated == b.hallucinated { agree += 1 }
                if let t = a.type, a.hallucinated {
                    byType[t.rawValue, default: (0, 0)].all += 1
                    if b.hallucinated { byType[t.rawValue, default: (0, 0)].hit += 1 }
                }
                guard a.hallucinated && b.hallucinated else { continue }
                tp += 1
                if a.type == b.type { typeOK += 1 }
                if a.severity == b.severity { sevOK += 1 }
            }
        }
        func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
        let p = ratio(tp, predH), r = ratio(tp, refH)
        return DetectorMetrics(responses: reference.count, sentences: n, referenceHallucinated: refH, predictedHallucinated: predH,
                               truePositives: tp, precision: p, recall: r, f1: p + r == 0 ? 0 : 2 * p * r / (p + r),
                               accuracy: ratio(agree, n), typeAccuracy: ratio(typeOK, tp), severityAccuracy: ratio(sevOK, tp),
                               recallByType: byType.mapValues { ratio($0.hit, $0.all) })
    }

    /// The numbers as flat metric names under `prefix` (e.g. "detector/heldout/f1").
    public func flattened(prefix: String) -> [String: Double] {
        var out: [String: Double] = [
            "\(prefix)/precision": precision, "\(prefix)/recall": recall, "\(prefix)/f1": f1,
            "\(prefix)/accuracy": accuracy, "\(prefix)/type_accuracy": typeAccuracy,
            "\(prefix)/severity_accuracy": severityAccuracy, "\(prefix)/sentences": Double(sentences),
            "\(prefix)/reference_hallucinated": Double(referenceHallucinated),
            "\(prefix)/predicted_hallucinated": Double(predictedHallucinated),
        ]
        for (t, v) in recallByType { out["\(prefix)/recall_\(t)"] = v }
        return out
    }
}
