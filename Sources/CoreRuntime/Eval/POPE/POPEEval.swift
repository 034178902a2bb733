import Foundation

/// POPE over several splits (random, popular, adversarial): each split's metrics and their mean.
/// Encodes as `{"<split>": {metrics}, ..., "average": {metrics}}`.
public struct POPEReport: Codable, Equatable, Sendable {
    /// Split names in the order they were given.
    public var splitNames: [String]
    public var splits: [String: POPEMetrics]
    /// Each metric averaged over splits (unweighted); counts and `n` are summed.
    public var average: POPEMetrics

    public init(splits: [(name: String, metrics: POPEMetrics)]) {
        splitNames = splits.map(\.name)
        self.splits = Dictionary(splits.map { ($0.name, $0.metrics) }, uniquingKeysWith: { $1 })
        let all = splits.map(\.metrics)
        let k = Double(max(all.count, 1))
        func mean(_ f: (POPEMetrics) -> Double) -> Double { all.map(f).reduce(0, +) / k }
        func sum(_ f: (POPEMetrics) -> Int) -> Int { all.map(f).reduce(0, +) }
        average = POPEMetrics(accuracy: mean(\.accuracy), precision: mean(\.precision), recall: mean(\.recall),
                              f1: mean(\.f1), yesRatio: mean(\.yesRatio), n: sum(\.n),
                              truePositives: sum(\.truePositives), falsePositives: sum(\.falsePositives),
                              trueNegatives: sum(\.trueNegatives), falseNegatives: sum(\.falseNegatives))
    }

    typealias Key = OrderedJSON.Key

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        for name in splitNames { try c.encode(splits[name], forKey: Key(name)) }
        try c.encode(average, forKey: Key("average"))
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        var list: [(String, POPEMetrics)] = []
        for key in c.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) where key.stringValue != "average" {
            list.append((key.stringValue, try c.decode(POPEMetrics.self, forKey: key)))
        }
        self.init(splits: list)
    }
}

/// File-level POPE: question files (JSONL as POPE ships them, or a JSON list) and answer files.
public enum POPEEval {
    /// Answer-text keys tried, in order, when none is given ("answer" as Zhao et al.'s (2023) code writes, "text" as
    /// LLaVA's evaluation scripts write).
    public static let defaultAnswerKeys = ["answer", "text"]

    /// Scores one answers file against one questions file.
    public static func run(questionsPath: String, answersPath: String, answerKey: String? = nil) throws -> POPEMetrics {
        let questions = try loadQuestions(path: questionsPath)
        let answers = try loadAnswers(path: answersPath, answerKey: answerKey)
        // POPE reads an empty answer as "yes"; answers that are all empty mean nothing was generated.
        if answers.allSatisfy({ $0.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }) {
            throw HalluError.file(answersPath, "all \(answers.count) answers are empty: there is nothing to score (check --answer-key)")
        }
        do {
            return try POPEScorer.score(questions: questions, answers: answers)
        } catch let e as HalluError {
            throw HalluError("\(answersPath) vs \(questionsPath): \(e.message)")
        }
    }

    /// Scores several splits, e.g. `[("random", q, a), ("popular", q, a), ("adversarial", q, a)]`.
    public static func run(splits: [(name: String, questionsPath: String, answersPath: String)],
                           answerKey: String? = nil) throws -> POPEReport {
        guard !splits.isEmpty else { throw HalluError("POPE: no splits given") }
        return POPEReport(splits: try splits.map {
            ($0.name, try run(questionsPath: $0.questionsPath, answersPath: $0.answersPath, answerKey: answerKey))
        })
    }

    /// Reads questions: `question_id` (optional), `image` (optional), `text`, `label` ("yes"/"no").
    public static func loadQuestions(path: String) throws -> [POPEQuestion] {
        let records = try EvalRecords.read(path)
        guard !records.isEmpty else { throw HalluError.file(path, "no questions") }
        return try records.map { line, r in
            guard let label = r["label"] else { throw HalluError.missingKey("label", in: path, line: line) }
            guard let text = label as? String, ["yes", "no"].contains(text.lowercased()) else {
                throw HalluError.file(path, line: line, "label must be \"yes\" or \"no\", found \(label)")
            }
            return POPEQuestion(questionId: try questionId(r, path: path, line: line),
                                image: r["image"] as? String, text: r["text"] as? String ?? "",
                                label: text.lowercased() == "yes")
        }
    }

    /// Reads answers: `question_id` (optional) and the answer text under `answerKey`
    /// (default: the first of `defaultAnswerKeys` present).
    public static func loadAnswers(path: String, answerKey: String? = nil) throws -> [POPEAnswer] {
        let records = try EvalRecords.read(path)
        guard !records.isEmpty else { throw HalluError.file(path, "no answers") }
        return try records.map { line, r in
            let key: String
            if let answerKey {
                key = answerKey
            } else if let found = defaultAnswerKeys.first(where: { r[$0] != nil }) {
                key = found
            } else {
                throw HalluError.file(path, line: line, "no answer key (tried \(defaultAnswerKeys.joined(separator: ", ")))")
            }
            guard let value = r[key] else { throw HalluError.missingKey(key, in: path, line: line) }
            guard let text = value as? String else { throw HalluError.file(path, line: line, "\"\(key)\" is not a string") }
            return POPEAnswer(questionId: try questionId(r, path: path, line: line), text: text)
        }
    }

    static func questionId(_ r: [String: Any], path: String, line: Int) throws -> String? {
        guard let v = r["question_id"] else { return nil }
        if let n = v as? NSNumber, n.doubleValue.rounded() == n.doubleValue { return String(Int64(n.doubleValue)) }
        if let s = v as? String { return s }
        throw HalluError.file(path, line: line, "question_id must be an integer or a string")
    }
}
