import Foundation

/// File-level SHR inputs.
public enum SHREval {
    /// Reads model responses: either a JSON object `{"<image id>": "response", ...}` (the layout of Zhao et al.'s (2023) SHR code)
    /// or records (JSON list / JSONL) with an image-id key and a text key (defaults as for CHAIR).
    public static func loadResponses(path: String, textKey: String? = nil, imageIdKey: String? = nil) throws -> [(id: String, text: String)] {
        let data = try JSONFiles.readData(path)
        let firstByte = data.first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
        if firstByte == UInt8(ascii: "{"), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            return try object.keys.sorted().map { id in
                guard let text = object[id] as? String else {
                    throw HalluError.file(path, "response of image \"\(id)\" is not a string")
                }
                return (ImageID.canonical(string: id), text)
            }
        }
        return try CHAIREval.loadCaptions(path: path, captionKey: textKey, imageIdKey: imageIdKey).map { ($0.imageId, $0.text) }
    }

    /// Reads scene facts: a JSON object `{"<image id>": {"objects": [...], "relations": [...]}}`, or
    /// records with `image_id`, `objects` and `relations` (each object `{"category", "colour", "size"}`,
    /// each relation `{"subject", "relation", "object"}` with object indices).
    public static func loadSceneFacts(path: String) throws -> [String: SceneFacts] {
        let data = try JSONFiles.readData(path)
        let firstByte = data.first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
        var out: [String: SceneFacts] = [:]
        if firstByte == UInt8(ascii: "{"), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           object["objects"] == nil {
            for (id, value) in object {
                out[ImageID.canonical(string: id)] = try decodeFacts(value, path: path, line: nil, id: id)
            }
            return out
        }
        for (line, record) in try EvalRecords.read(path) {
            guard let idValue = record["image_id"], let id = ImageID.canonical(idValue) else {
                throw HalluError.missingKey("image_id", in: path, line: line)
            }
            out[id] = try decodeFacts(record, path: path, line: line, id: id)
        }
        return out
    }

    public static func decodeFacts(_ value: Any, path: String, line: Int?, id: String) throws -> SceneFacts {
        guard var dict = value as? [String: Any] else {
            throw HalluError.file(path, line: line, "scene facts of image \"\(id)\" are not an object")
        }
        dict.removeValue(forKey: "image_id")
        if dict["relations"] == nil { dict["relations"] = [] }
        // The scene world writes American "color" and relations as [subject, relation, object] triples.
        if let objects = dict["objects"] as? [[String: Any]] {
            dict["objects"] = objects.map { o -> [String: Any] in
                var o = o
                if o["colour"] == nil, let c = o["color"] { o["colour"] = c }
                o.removeValue(forKey: "color"); o.removeValue(forKey: "box")
                return o
            }
        }
        if let triples = dict["relations"] as? [[Any]] {
            dict["relations"] = try triples.map { t -> [String: Any] in
                guard t.count == 3 else { throw HalluError.file(path, line: line, "scene facts of image \"\(id)\": a relation triple must have 3 entries") }
                return ["subject": t[0], "relation": t[1], "object": t[2]]
            }
        }
        do {
            let data = try JSONSerialization.data(withJSONObject: dict)
            let facts = try JSONDecoder().decode(SceneFacts.self, from: data)
            try facts.validate(imageId: id)
            return facts
        } catch let e as HalluError {
            throw HalluError.file(path, line: line, e.message)
        } catch let DecodingError.keyNotFound(key, context) {
            let at = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            throw HalluError.file(path, line: line, "scene facts of image \"\(id)\": missing \"\(key.stringValue)\"" + (at.isEmpty ? "" : " in \(at)"))
        } catch {
            throw HalluError.file(path, line: line, "scene facts of image \"\(id)\" are malformed: \(error)")
        }
    }

    /// Scores responses against scene facts with the ground-truth judge. Images without facts are an error.
    public static func run(responsesPath: String, sceneFactsPath: String, judge: SentenceJudge? = nil,
                           textKey: String? = nil, imageIdKey: String? = nil) throws -> SHRReport {
        let responses = try loadResponses(path: responsesPath, textKey: textKey, imageIdKey: imageIdKey)
        let facts = try loadSceneFacts(path: sceneFactsPath)
        let images = try responses.map { r -> SHRImage in
            guard let scene = facts[r.id] else {
                throw HalluError.file(sceneFactsPath, "no scene facts for image \"\(r.id)\" of \(responsesPath)")
            }
            return SHRImage(id: r.id, response: r.text, scene: scene)
        }
        let report = try SHREvaluator(judge: judge ?? SceneGroundTruthJudge()).evaluate(images: images)
        if report.sentences == 0 && report.unjudged == 0 {
            throw HalluError.file(responsesPath, "the \(images.count) responses hold no sentence to judge (are they empty? check --caption-key)")
        }
        return report
    }
}
