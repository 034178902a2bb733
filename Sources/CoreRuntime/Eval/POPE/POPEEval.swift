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

/// File-level POPE: question files (JSONL as POPE ships them, or a JSON list) and answer files in
/// any layout `POPEAnswerFiles` reads.
public enum POPEEval {
    /// Answer-text keys tried, in order, when none is given.
    public static let defaultAnswerKeys = POPEAnswerFiles.defaultAnswerKeys
    /// The order splits are reported in when a file names them.
    public static let standardSplits = ["random", "popular", "adversarial"]

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

    /// Scores one answers file that holds several splits.
    /// - lmms-eval logs carry each question's label and split: no question files are needed, and
    ///   every split found is scored.
    /// - LLaVA's `model_vqa_loader` on `llava_pope_test.jsonl` writes all splits into one file; give
    ///   that question file as `categoriesPath` (it names each question_id's split) and each split's
    ///   POPE question file in `splits`. As LLaVA's eval_pope.py does, a split's answers are taken in
    ///   file order and paired with its question file line by line.
    /// - Answers with a `category` key of their own work the same way without `categoriesPath`.
    public static func run(answersPath: String, splits: [(name: String, questionsPath: String)] = [],
                           categoriesPath: String? = nil, answerKey: String? = nil) throws -> POPEReport {
        let answers = try loadAnswers(path: answersPath, answerKey: answerKey)
        let categoryOf = try categoriesPath.map(POPEAnswerFiles.categories(path:))
        var grouped: [String: [POPEAnswer]] = [:]
        var order: [String] = []
        for (i, a) in answers.enumerated() {
            var category = a.category
            if let categoryOf {
                guard let id = a.questionId else {
                    throw HalluError.file(answersPath, "answer \(i + 1) has no question_id to look up in \(categoriesPath!)")
                }
                guard let c = categoryOf[id] else {
                    throw HalluError.file(answersPath, "answer \(i + 1): question_id \(id) is not in \(categoriesPath!)")
                }
                category = c
            }
            guard let category else {
                throw HalluError.file(answersPath, "answer \(i + 1) names no split: give the question file with the "
                    + "categories (--categories), or score each split with --questions/--answers")
            }
            if grouped[category] == nil { order.append(category) }
            grouped[category, default: []].append(a)
        }
        if splits.isEmpty {
            guard answers.allSatisfy({ $0.label != nil }) else {
                throw HalluError.file(answersPath, "the answers carry no labels: give each split's question file (--split NAME=QUESTIONS)")
            }
            let names = standardSplits.filter { grouped[$0] != nil } + order.filter { !standardSplits.contains($0) }
            return POPEReport(splits: names.map { name in
                let list = grouped[name]!
                return (name, POPEScorer.metrics(labels: list.map { $0.label! }, predictions: list.map { !POPEScorer.isNo($0.text) }))
            })
        }
        return POPEReport(splits: try splits.map { split in
            let questions = try loadQuestions(path: split.questionsPath)
            let list = grouped[split.name] ?? []
            guard list.count == questions.count else {
                throw HalluError("\(answersPath): \(list.count) answers of split \"\(split.name)\" for \(questions.count) questions "
                    + "in \(split.questionsPath) (splits found: \(order.map { "\($0) \(grouped[$0]!.count)" }.joined(separator: ", ")))")
            }
            // Paired by position within the split, as LLaVA's eval_pope.py does.
            return (split.name, POPEScorer.metrics(labels: questions.map(\.label), predictions: list.map { !POPEScorer.isNo($0.text) }))
        })
    }

    /// Reads questions: `question_id` (optional), `image` (optional), `text`, `label` ("yes"/"no").
    public static func loadQuestions(path: String) throws -> [POPEQuestion] {
        let records = try EvalRecords.read(path)
        guard !records.isEmpty else { throw HalluError.file(path, "no questions") }
        return try records.map { line, r in
            guard r["label"] != nil else { throw HalluError.missingKey("label", in: path, line: line) }
            return POPEQuestion(questionId: try POPEAnswerFiles.questionId(r["question_id"], path: path, line: line),
                                image: r["image"] as? String, text: r["text"] as? String ?? "",
                                label: try POPEAnswerFiles.label(r["label"], path: path, line: line, key: "label")!)
        }
    }

    /// Reads answers in any layout `POPEAnswerFiles` knows; the answer text is under `answerKey`
    /// (default: the first of `defaultAnswerKeys` present, or an lmms-eval sample's response).
    public static func loadAnswers(path: String, answerKey: String? = nil) throws -> [POPEAnswer] {
        try POPEAnswerFiles.read(path: path, answerKey: answerKey)
    }
}
