import CoreRuntime
import Foundation

/// HSA-DPO's data files: preference pairs with severity scores (`hsa_dpo_preference.jsonl`, the
/// released data's schema) and hallu's sentence-labelled responses for the detector
/// (`hsa_dpo_detection.jsonl`, schema in docs/DATA.md). Registered into the preference and
/// detection kinds; the scene world gets both files from `worldExport`.
public enum HSADPOData {
    /// The preference format's name, and the `PreferencePair.source` of its pairs.
    public static let preferenceFormatName = "hsa_dpo"
    public static let preferenceFiles = ["hsa_dpo_preference.jsonl", "hsa_dpo_preference_llava1dot5.jsonl"]
    public static let detectionFile = "hsa_dpo_detection.jsonl"

    /// `id`, `question`, `chosen`, `rejected`, optional `chosen_score` and `rejected_score` (absent:
    /// nil, which HSA-DPO treats as 1), optional `image` (else `{id}.jpg`, as HSA-DPO's loader builds
    /// it, or `{id}.png`).
    public static let preferenceFormat = DataFormat.records(preferenceFormatName, kind: .preference, files: preferenceFiles) { r, folder in
        try preference(r, images: folder.images)
    }

    /// Sentence-labelled responses: `id`, `image`, `question`, `response`, and `sentences` of
    /// `{text, hallucinated, type, severity, reason}`.
    public static let detectionFormat = DataFormat.records("hsa_dpo_detection", kind: .detection, files: [detectionFile]) { r, folder in
        try detection(r, images: folder.images)
    }

    static func preference(_ r: DataRecord, images: ImageResolver) throws -> PreferencePair {
        let id = try r.id("id")
        let image = try images.resolve(try r.optionalString("image").map { [$0] } ?? ["\(id).jpg", "\(id).png"],
                                       file: r.file, location: r.location)
        return PreferencePair(id: id, image: image, question: DataReaders.stripImageToken(try r.string("question")),
                              chosen: try r.string("chosen"), rejected: try r.string("rejected"),
                              chosenScore: try r.optionalNumber("chosen_score"),
                              rejectedScore: try r.optionalNumber("rejected_score"), source: preferenceFormatName)
    }

    /// The pairs of one preference file.
    public static func preferences(_ path: String, images: ImageResolver) throws -> [PreferencePair] {
        try DataRecord.readAll(path).map { try preference($0, images: images) }
    }

    static func detection(_ r: DataRecord, images: ImageResolver) throws -> DetectionExample {
        let sentences = try r.objects("sentences").map { sr -> DetectionSentence in
            let hallucinated = try sr.bool("hallucinated")
            let typeName = try sr.optionalString("type")
            let type = try typeName.map { name -> HallucinationType in
                guard let t = HallucinationType(rawValue: name) else { throw sr.fail("unknown hallucination type \"\(name)\"") }
                return t
            }
            let severity = try sr.int("severity")
            guard hallucinated == (type != nil) else { throw sr.fail("\"type\" must be set exactly when \"hallucinated\" is true") }
            guard hallucinated ? (1...3).contains(severity) : severity == 0 else {
                throw sr.fail("\"severity\" must be 1-3 for a hallucinated sentence and 0 otherwise, got \(severity)")
            }
            return DetectionSentence(text: try sr.string("text"), hallucinated: hallucinated, type: type,
                                     severity: severity, reason: try sr.optionalString("reason") ?? "")
        }
        return DetectionExample(id: try r.id("id"), image: try images.resolve(try r.string("image"), file: r.file, location: r.location),
                                question: DataReaders.stripImageToken(try r.string("question")), response: try r.string("response"),
                                sentences: sentences)
    }

    /// The labelled responses of one detection file.
    public static func detections(_ path: String, images: ImageResolver) throws -> [DetectionExample] {
        try DataRecord.readAll(path).map { try detection($0, images: images) }
    }

    /// One pair's record (also what the detect-then-rewrite pipeline writes).
    static func record(_ p: PreferencePair, image: String? = nil) -> OrderedJSON {
        var kv: [(String, OrderedJSON)] = [("id", Int(p.id).map { .int($0) } ?? .string(p.id)), ("image", .string(image ?? p.image ?? "")),
                                           ("question", .string(p.question)), ("chosen", .string(p.chosen)), ("rejected", .string(p.rejected))]
        if let c = p.chosenScore { kv.append(("chosen_score", .number(c))) }
        if let r = p.rejectedScore { kv.append(("rejected_score", .number(r))) }
        return .object(kv)
    }

    /// One labelled sentence's record.
    static func record(_ s: DetectionSentence) -> OrderedJSON {
        .obj(["text": .string(s.text), "hallucinated": .bool(s.hallucinated),
              "type": s.type.map { .string($0.rawValue) } ?? .null, "severity": .int(s.severity), "reason": .string(s.reason)])
    }

    /// Both files from a scene world. Preference: one pair per training image, the faithful
    /// description against the first hallucinated one, `rejected_score` from its substitutions'
    /// severities. Detection: the first hallucinated description, and the overly detailed training
    /// description when there is one, with the world's sentence labels.
    public static let worldExport = WorldExport(name: "hsa-dpo", files: [preferenceFiles[0], detectionFile]) { world in
        let train = world.train
        // Pairs need a rejected text; only degenerate configs can fail to make one.
        let pairs = train.filter { !$0.hallucinated.isEmpty }.map { g -> OrderedJSON in
            let r = g.hallucinated[0]
            return .obj(["id": .int(g.scene.id), "image": .string(g.imagePath), "question": .string(g.detailPrompt),
                         "chosen": .string(g.faithful.text), "rejected": .string(r.description.text),
                         "chosen_score": .number(1), "rejected_score": .number(r.score)])
        }
        let detection = train.flatMap { g -> [OrderedJSON] in
            func rec(_ id: String, _ d: WorldDescription) -> OrderedJSON {
                let labels = d.sentences.map { s -> DetectionSentence in
                    guard let l = s.labels.first else { return .correct(s.text) }
                    return DetectionSentence(text: s.text, hallucinated: true, type: l.type, severity: l.severity, reason: l.reason)
                }
                return .obj(["id": .string(id), "image": .string(g.imagePath), "question": .string(g.detailPrompt),
                             "response": .string(d.text), "sentences": .array(labels.map(record))])
            }
            var out: [OrderedJSON] = []
            if let r = g.hallucinated.first { out.append(rec("\(g.name)-rejected", r.description)) }
            if !g.description.undrawnMentions.isEmpty { out.append(rec("\(g.name)-overdetailed", g.description)) }
            return out
        }
        return [preferenceFiles[0]: OrderedJSON.linesText(pairs), detectionFile: OrderedJSON.linesText(detection)]
    }
}
