import Foundation

/// File-level CHAIR: read a captions file and a ground-truth file, score, report.
public enum CHAIREval {
    /// Caption keys tried, in order, when none is given.
    public static let defaultCaptionKeys = ["caption", "text"]
    /// Image-id keys tried, in order, when none is given.
    public static let defaultImageIdKeys = ["image_id", "image", "imageId"]

    /// Scores `captionsPath` (JSON list or JSONL of objects) against `gtPath`
    /// (`{"<id>": [node words]}`, plain or .gz). Keys default to the first present of
    /// `defaultCaptionKeys` / `defaultImageIdKeys`.
    public static func run(captionsPath: String, gtPath: String, captionKey: String? = nil,
                           imageIdKey: String? = nil) throws -> CHAIRReport {
        let captions = try loadCaptions(path: captionsPath, captionKey: captionKey, imageIdKey: imageIdKey)
        let gt = try CHAIRGroundTruth.load(path: gtPath)
        let report = CHAIREvaluator(groundTruth: gt).evaluate(captions: captions)
        // Scored against no ground truth, every mention would count as hallucinated.
        if report.unknownImages == report.n {
            throw HalluError("\(captionsPath): none of the \(report.n) captions' image ids is in \(gtPath) (ids such as "
                + "\(report.unknownImageExamples.prefix(3).joined(separator: ", "))); check --image-id-key and that both files are of the same images")
        }
        return report
    }

    /// Reads captions from a JSON list or JSONL file. Image ids may be integers or strings in any
    /// `ImageID` spelling.
    public static func loadCaptions(path: String, captionKey: String? = nil,
                                    imageIdKey: String? = nil) throws -> [CHAIRCaption] {
        let records = try EvalRecords.read(path)
        guard !records.isEmpty else { throw HalluError.file(path, "no caption records") }
        var out: [CHAIRCaption] = []
        out.reserveCapacity(records.count)
        for (line, record) in records {
            let ck = try pickKey(captionKey, defaults: defaultCaptionKeys, in: record, path: path, line: line, what: "caption")
            let ik = try pickKey(imageIdKey, defaults: defaultImageIdKeys, in: record, path: path, line: line, what: "image id")
            guard let text = record[ck] as? String else {
                throw HalluError.file(path, line: line, "\"\(ck)\" is not a string")
            }
            guard let id = record[ik].flatMap(ImageID.canonical) else {
                throw HalluError.file(path, line: line, "\"\(ik)\" is not an integer or string image id")
            }
            out.append(CHAIRCaption(imageId: id, text: text))
        }
        return out
    }

    static func pickKey(_ key: String?, defaults: [String], in record: [String: Any], path: String,
                        line: Int, what: String) throws -> String {
        if let key {
            guard record[key] != nil else { throw HalluError.missingKey(key, in: path, line: line) }
            return key
        }
        if let found = defaults.first(where: { record[$0] != nil }) { return found }
        throw HalluError.file(path, line: line, "no \(what) key (tried \(defaults.joined(separator: ", ")); "
            + "record has \(record.keys.sorted().joined(separator: ", ")))")
    }
}
