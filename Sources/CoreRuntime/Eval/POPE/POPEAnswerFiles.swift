import Foundation

/// Reads POPE answer files in the layouts the common evaluation scripts write, so existing outputs
/// are scored without converting them:
///
/// | writer | layout | answer | also |
/// |---|---|---|---|
/// | POPE, and POPE scripts that follow it (`pope_eval.py`) | JSONL `{"question", "answer"}` | `answer` | `question_id` (some) |
/// | LLaVA `model_vqa_loader` | JSONL `{"question_id", "prompt", "text", "answer_id", "model_id", "metadata"}` | `text` | |
/// | contrastive-decoding scripts (`object_hallucination_vqa_*`) | JSONL `{"question_id", "prompt", "text", "model_id", "image", "metadata"}` | `text` | |
/// | lmms-eval `--log_samples` | JSONL of `{"doc_id", "doc": {"question_id", "question", "answer", "category"}, "target", "resps", "filtered_resps", ...}`, or older `{"logs": [...]}` | `filtered_resps[0]` | label `doc.answer`, split `doc.category` |
///
/// Scripts that only print their POPE answers write no answer file; CHAIR captions written as
/// `{"image_id", "caption"}` are read by `CHAIREval`.
public enum POPEAnswerFiles {
    /// Answer-text keys tried, in order, when none is given ("answer" as POPE's scripts write, "text"
    /// as LLaVA's evaluation scripts write).
    public static let defaultAnswerKeys = ["answer", "text"]

    /// Reads every answer of a file (JSON list, JSONL, or lmms-eval's `{"logs": [...]}`).
    public static func read(path: String, answerKey: String? = nil) throws -> [POPEAnswer] {
        try records(path).map { line, r in try answer(r, path: path, line: line, answerKey: answerKey) }
    }

    /// The records of a file: a JSON list, JSON Lines, or lmms-eval's aggregate `{"logs": [...]}`.
    static func records(_ path: String) throws -> [(line: Int, record: [String: Any])] {
        let data = try JSONFiles.readData(path)
        let first = data.first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
        if first == UInt8(ascii: "{"), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let logs = object["logs"] {
            guard let list = logs as? [[String: Any]] else { throw HalluError.file(path, "\"logs\" is not a list of samples") }
            return list.enumerated().map { ($0.offset + 1, $0.element) }
        }
        let out = try EvalRecords.read(path)
        guard !out.isEmpty else { throw HalluError.file(path, "no answers") }
        return out
    }

    static func answer(_ r: [String: Any], path: String, line: Int, answerKey: String?) throws -> POPEAnswer {
        if let doc = r["doc"] as? [String: Any], answerKey == nil, r["resps"] != nil || r["filtered_resps"] != nil {
            return try lmmsEvalSample(r, doc: doc, path: path, line: line)
        }
        let key: String
        if let answerKey {
            key = answerKey
        } else if let found = defaultAnswerKeys.first(where: { r[$0] != nil }) {
            key = found
        } else {
            throw HalluError.file(path, line: line, "no answer key (tried \(defaultAnswerKeys.joined(separator: ", ")); "
                + "record has \(r.keys.sorted().joined(separator: ", ")))")
        }
        guard let value = r[key] else { throw HalluError.missingKey(key, in: path, line: line) }
        guard let text = value as? String else { throw HalluError.file(path, line: line, "\"\(key)\" is not a string") }
        return POPEAnswer(questionId: try questionId(r["question_id"], path: path, line: line), text: text,
                          label: try label(r["label"], path: path, line: line, key: "label"),
                          category: r["category"] as? String)
    }

    /// One sample of an lmms-eval log: the response, and the question's label and split from its doc.
    static func lmmsEvalSample(_ r: [String: Any], doc: [String: Any], path: String, line: Int) throws -> POPEAnswer {
        func firstString(_ v: Any?) -> String? {
            if let s = v as? String { return s }
            if let list = v as? [Any] { return list.lazy.compactMap(firstString).first }
            return nil
        }
        guard let text = firstString(r["filtered_resps"]) ?? firstString(r["resps"]) else {
            throw HalluError.file(path, line: line, "lmms-eval sample without a text response in \"filtered_resps\" or \"resps\"")
        }
        let labelValue = doc["answer"] ?? r["target"]
        return POPEAnswer(questionId: try questionId(doc["question_id"], path: path, line: line), text: text,
                          label: try label(labelValue, path: path, line: line, key: "doc.answer"),
                          category: doc["category"] as? String)
    }

    static func questionId(_ v: Any?, path: String, line: Int) throws -> String? {
        guard let v else { return nil }
        if let n = v as? NSNumber, n.doubleValue.rounded() == n.doubleValue, abs(n.doubleValue) < 1e15 {
            return String(Int64(n.doubleValue))
        }
        if let s = v as? String { return s }
        throw HalluError.file(path, line: line, "question_id must be an integer or a string")
    }

    /// A "yes"/"no" label (any case, surrounding spaces ignored), or nil when absent.
    static func label(_ v: Any?, path: String, line: Int, key: String) throws -> Bool? {
        guard let v else { return nil }
        guard let s = (v as? String)?.trimmingCharacters(in: .whitespaces).lowercased(), s == "yes" || s == "no" else {
            throw HalluError.file(path, line: line, "\(key) must be \"yes\" or \"no\", found \(v)")
        }
        return s == "yes"
    }

    /// question_id -> category from a question file that names each question's split (LLaVA's
    /// `llava_pope_test.jsonl`: `{"question_id", "image", "text", "category"}`).
    public static func categories(path: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for (line, r) in try EvalRecords.read(path) {
            guard let id = try questionId(r["question_id"], path: path, line: line) else {
                throw HalluError.missingKey("question_id", in: path, line: line)
            }
            guard let category = r["category"] as? String else { throw HalluError.missingKey("category", in: path, line: line) }
            guard out[id] == nil else { throw HalluError.file(path, line: line, "question_id \(id) appears twice") }
            out[id] = category
        }
        guard !out.isEmpty else { throw HalluError.file(path, "no questions") }
        return out
    }
}
