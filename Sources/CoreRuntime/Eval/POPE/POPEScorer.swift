import Foundation

/// One POPE question: "Is there a <object> in the image?" with its yes/no label.
public struct POPEQuestion: Sendable {
    /// Question id as text ("1" for 1), if the file has one.
    public var questionId: String?
    public var image: String?
    public var text: String
    /// True for a "yes" label.
    public var label: Bool

    public init(questionId: String? = nil, image: String? = nil, text: String, label: Bool) {
        self.questionId = questionId
        self.image = image
        self.text = text
        self.label = label
    }
}

/// A model's answer to one POPE question.
public struct POPEAnswer: Sendable {
    public var questionId: String?
    public var text: String
    /// The question's label, when the answer file carries it (lmms-eval logs do).
    public var label: Bool?
    /// The question's split, when the answer file names it (lmms-eval's `doc.category`).
    public var category: String?

    public init(questionId: String? = nil, text: String, label: Bool? = nil, category: String? = nil) {
        self.questionId = questionId
        self.text = text
        self.label = label
        self.category = category
    }
}

/// POPE scores with "yes" as the positive class (fractions in [0, 1]). Encodes to the CLI contract
/// `{"accuracy", "precision", "recall", "f1", "yes_ratio", "n", ...}`.
public struct POPEMetrics: Codable, Equatable, Sendable {
    public var accuracy: Double
    public var precision: Double
    public var recall: Double
    public var f1: Double
    /// Share of answers read as "yes".
    public var yesRatio: Double
    public var n: Int
    public var truePositives: Int
    public var falsePositives: Int
    public var trueNegatives: Int
    public var falseNegatives: Int

    enum CodingKeys: String, CodingKey {
        case accuracy, precision, recall, f1, yesRatio = "yes_ratio", n
        case truePositives = "tp", falsePositives = "fp", trueNegatives = "tn", falseNegatives = "fn"
    }
}

/// POPE scoring exactly as POPE's evaluate.py: an answer is "no" when, in the text before its first
/// period with commas removed and split on single spaces, some word is exactly "No", "not" or "no";
/// every other answer (including an empty one) is "yes".
public enum POPEScorer {
    /// Whether POPE reads `answer` as "no" (evaluate.py: the text before the first "." with every ","
    /// deleted, split on single spaces, holds the word "No", "not" or "no"). Works on code points, as
    /// Python does: "NO", "No,there" (one word once the comma is gone), "Nope" and "no\nthere" are yes.
    public static func isNo(_ answer: String) -> Bool {
        var word: [Unicode.Scalar] = []
        func isNegation(_ w: [Unicode.Scalar]) -> Bool { w == ["N", "o"] || w == ["n", "o", "t"] || w == ["n", "o"] }
        for c in answer.unicodeScalars {
            if c == "." { break }
            if c == "," { continue }
            if c == " " {
                if isNegation(word) { return true }
                word.removeAll(keepingCapacity: true)
            } else {
                word.append(c)
            }
        }
        return isNegation(word)
    }

    /// Metrics from labels and predictions (true = yes), paired by position.
    public static func metrics(labels: [Bool], predictions: [Bool]) -> POPEMetrics {
        var tp = 0, fp = 0, tn = 0, fn = 0
        for (label, pred) in zip(labels, predictions) {
            switch (label, pred) {
            case (true, true): tp += 1
            case (false, true): fp += 1
            case (false, false): tn += 1
            case (true, false): fn += 1
            }
        }
        let n = tp + fp + tn + fn
        func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
        let precision = ratio(tp, tp + fp)
        let recall = ratio(tp, tp + fn)
        let f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
        return POPEMetrics(accuracy: ratio(tp + tn, n), precision: precision, recall: recall, f1: f1,
                           yesRatio: ratio(tp + fp, n), n: n, truePositives: tp, falsePositives: fp,
                           trueNegatives: tn, falseNegatives: fn)
    }

    /// Scores answers against questions. Answers are matched by question id when every question and
    /// every answer has one, otherwise by position, in which case the counts must agree.
    public static func score(questions: [POPEQuestion], answers: [POPEAnswer]) throws -> POPEMetrics {
        let pairs = try match(questions: questions, answers: answers)
        if let (q, a) = pairs.first(where: { $0.1.label != nil && $0.1.label != $0.0.label }) {
            throw HalluError("POPE: the answer to question \(q.questionId ?? "?") carries the label \(a.label! ? "yes" : "no"), "
                + "the question file says \(q.label ? "yes" : "no"): the files do not belong together")
        }
        return metrics(labels: pairs.map(\.0.label), predictions: pairs.map { !isNo($0.1.text) })
    }

    static func match(questions: [POPEQuestion], answers: [POPEAnswer]) throws -> [(POPEQuestion, POPEAnswer)] {
        guard !questions.isEmpty else { throw HalluError("POPE: no questions to score") }
        let byId = questions.allSatisfy { $0.questionId != nil } && answers.allSatisfy { $0.questionId != nil }
        guard byId else {
            guard answers.count == questions.count else {
                throw HalluError("POPE: \(answers.count) answers for \(questions.count) questions; without question_id "
                    + "on every line, answers are matched by line and the counts must be equal")
            }
            return Array(zip(questions, answers))
        }
        var answerOf: [String: POPEAnswer] = [:]
        for a in answers {
            let id = a.questionId!
            guard answerOf[id] == nil else { throw HalluError("POPE: question_id \(id) is answered twice") }
            answerOf[id] = a
        }
        var seen = Set<String>()
        var pairs: [(POPEQuestion, POPEAnswer)] = []
        for q in questions {
            let id = q.questionId!
            guard seen.insert(id).inserted else { throw HalluError("POPE: question_id \(id) appears twice among the questions") }
            guard let a = answerOf[id] else {
                throw HalluError("POPE: no answer for question_id \(id) (\(answers.count) answers for \(questions.count) questions)")
            }
            pairs.append((q, a))
        }
        if answers.count != questions.count {
            let extra = Set(answerOf.keys).subtracting(seen).sorted().prefix(5)
            throw HalluError("POPE: answers for unknown question_id(s) \(extra.joined(separator: ", "))")
        }
        return pairs
    }
}
