import Foundation

/// Readers for every data format hallu trains or evaluates on. Each one validates as it reads and
/// throws a `HalluError` naming the file, the line or item, and the key.
public enum DataReaders {
    /// HA-DPO's four description prompts (`train_dpo.py`), drawn with Python's `random`.
    public static let hadpoPrompts = [
        "Describe this image in detail.",
        "Take a look at this image and describe what you notice.",
        "Please provide a detailed description of the picture.",
        "Could you describe the contents of this image for me?",
    ]

    /// Strips LLaVA's `<image>` placeholder and the newline beside it.
    public static func stripImageToken(_ s: String) -> String {
        if !containsImageToken(s) {
            // The common case; trimming by hand is much cheaper than Foundation's on Linux.
            let u = Array(s.utf8)
            func space(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }
            var a = 0, b = u.count
            while a < b && space(u[a]) { a += 1 }
            while b > a && space(u[b - 1]) { b -= 1 }
            return a == 0 && b == u.count ? s : String(decoding: u[a..<b], as: UTF8.self)
        }
        var t = s.replacingOccurrences(of: "<image>\n", with: "").replacingOccurrences(of: "\n<image>", with: "")
        t = t.replacingOccurrences(of: "<image>", with: "")
        return t.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func containsImageToken(_ s: String) -> Bool {
        let token = Array("<image>".utf8)
        let u = Array(s.utf8)
        guard u.count >= token.count else { return false }
        for i in 0...(u.count - token.count) where u[i] == 0x3C && Array(u[i..<(i + token.count)]) == token { return true }
        return false
    }

    // MARK: SFT

    /// LLaVA conversation JSON (a list of `{"id", "image"?, "conversations": [{"from", "value"}]}`).
    public static func llava(_ path: String, images: ImageResolver) throws -> [Conversation] {
        try DataRecord.readAll(path).map { r in
            let turns = try r.objects("conversations").map { t in
                ConversationTurn(from: try t.string("from"), value: try t.string("value"))
            }
            guard !turns.isEmpty else { throw r.fail("\"conversations\" is empty") }
            let image = try r.optionalString("image").map { try images.resolve($0, file: path, location: r.location) }
            return Conversation(id: try r.id("id"), image: image, turns: turns)
        }
    }

    // MARK: preference

    /// HSA-DPO preference JSONL: `id`, `question`, `chosen`, `rejected`, optional `chosen_score`,
    /// `rejected_score` (absent -> nil, which HSA-DPO treats as 1), optional `image` (else `{id}.jpg`,
    /// as HSA-DPO's loader builds it, or `{id}.png`).
    public static func hsadpoPreference(_ path: String, images: ImageResolver) throws -> [PreferencePair] {
        try DataRecord.readAll(path).map { r in
            let id = try r.id("id")
            let image = try images.resolve(try r.optionalString("image").map { [$0] } ?? ["\(id).jpg", "\(id).png"],
                                           file: path, location: r.location)
            return PreferencePair(id: id, image: image, question: stripImageToken(try r.string("question")),
                                  chosen: try r.string("chosen"), rejected: try r.string("rejected"),
                                  chosenScore: try r.optionalNumber("chosen_score"),
                                  rejectedScore: try r.optionalNumber("rejected_score"), format: .hsadpo)
        }
    }

    /// HA-DPO `desc_data.json` (image id -> {"chosen": [...], "rejected": [...]}), read as HA-DPO's
    /// "offline" sampling does: after `random.seed(seed)`, for each image id in file order, one
    /// chosen, one rejected and one of the four prompts via `random.choice`. `image(id)` lists the
    /// file names to try for an image id.
    public static func hadpoDesc(_ path: String, images: ImageResolver, seed: UInt64 = 42,
                                 image: (String) -> [String] = { ["\($0).jpg", "\($0).png"] }) throws -> [PreferencePair] {
        guard case .object(let entries) = try OrderedJSON.read(path) else {
            throw HalluError.file(path, "desc_data must be a JSON object keyed by image id")
        }
        var rng = PythonRandom(seed: seed)
        var out: [PreferencePair] = []
        for (id, value) in entries {
            let loc = "key \"\(id)\""
            func list(_ k: String) throws -> [String] {
                guard let v = value[k] else { throw HalluError("\(path): \(loc): missing required key \"\(k)\"") }
                guard case .array(let items) = v, !items.isEmpty else {
                    throw HalluError("\(path): \(loc): \"\(k)\" must be a non-empty list of strings")
                }
                return try items.map {
                    guard case .string(let s) = $0 else { throw HalluError("\(path): \(loc): \"\(k)\" must hold strings") }
                    return s
                }
            }
            guard Int(id) != nil else { throw HalluError("\(path): \(loc): image ids must be integers (HA-DPO does int(image_id))") }
            let chosen = rng.choice(try list("chosen"))
            let rejected = rng.choice(try list("rejected"))
            let question = rng.choice(hadpoPrompts)
            let img = try images.resolve(image(id), file: path, location: loc)
            out.append(PreferencePair(id: id, image: img, question: question, chosen: chosen, rejected: rejected, format: .hadpo))
        }
        return out
    }

    /// HA-DPO `pope_data.json`: records with `correct == true` are skipped (only wrong answers make
    /// pairs); `chosen` is the right answer, `reject` the wrong one.
    public static func hadpoPope(_ path: String, images: ImageResolver,
                                 image: (String) -> [String] = { ["\($0).jpg", "\($0).png"] }) throws -> [PreferencePair] {
        try DataRecord.readAll(path).compactMap { r in
            if try r.bool("correct") { return nil }
            let id = try r.id("image_id")
            let candidates = try r.optionalString("image").map { [$0] } ?? image(id)
            return PreferencePair(id: id, image: try images.resolve(candidates, file: path, location: r.location),
                                  question: stripImageToken(try r.string("question")), chosen: try r.string("chosen"),
                                  rejected: try r.string("reject"), format: .hadpo)
        }
    }

    /// HA-DPO's training list: POPE pairs, then the description pairs twice (as `train_dpo.py` builds it).
    public static func hadpo(desc: String?, pope: String?, images: ImageResolver,
                             image: @escaping (String) -> [String] = { ["\($0).jpg", "\($0).png"] }) throws -> [PreferencePair] {
        let d = try desc.map { try hadpoDesc($0, images: images, image: image) } ?? []
        let p = try pope.map { try hadpoPope($0, images: images, image: image) } ?? []
        return p + d + d
    }

    // MARK: contrastive

    /// HACL caption records: `image`, the caption (the gpt turn of `conversations`, else `text`),
    /// and `"Hallucination caption"` (a string or a list).
    public static func hacl(_ path: String, images: ImageResolver) throws -> [ContrastiveExample] {
        try DataRecord.readAll(path).enumerated().map { i, r in
            var prompt = "Give a brief description of the image."
            var caption: String? = try r.optionalString("text")
            if r.has("conversations") {
                let turns = try r.objects("conversations").map { t in
                    ConversationTurn(from: try t.string("from"), value: try t.string("value"))
                }
                if let h = turns.first(where: \.isHuman) { prompt = stripImageToken(h.value) }
                if let g = turns.first(where: { !$0.isHuman }) { caption = g.value }
            }
            guard let caption else { throw r.fail("missing required key \"text\" (or a gpt turn in \"conversations\")") }
            let hallucinated = try r.strings("Hallucination caption")
            guard !hallucinated.isEmpty else { throw r.fail("\"Hallucination caption\" is empty") }
            let id = r.has("id") ? try r.id("id") : String(i)
            return ContrastiveExample(id: id, image: try images.resolve(try r.string("image"), file: path, location: r.location),
                                      prompt: prompt, caption: caption, hallucinatedCaptions: hallucinated)
        }
    }

    // MARK: detection

    /// hallu's HSA-DPO detection JSONL (schema in docs/DATA.md).
    public static func detection(_ path: String, images: ImageResolver) throws -> [DetectionExample] {
        try DataRecord.readAll(path).map { r in
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
            return DetectionExample(id: try r.id("id"), image: try images.resolve(try r.string("image"), file: path, location: r.location),
                                    question: stripImageToken(try r.string("question")), response: try r.string("response"),
                                    sentences: sentences)
        }
    }

    // MARK: evaluation files

    /// POPE question files (JSON Lines despite POPE's `.json` names): `question_id`, `image`, `text`,
    /// `label`. The object is parsed back out of "Is there a/an X in the image?" when possible.
    public static func popeQuestions(_ path: String) throws -> [POPEQuestionRecord] {
        try DataRecord.readAll(path).map { r in
            let text = try r.string("text")
            let label = try r.string("label").lowercased()
            guard label == "yes" || label == "no" else { throw r.fail("\"label\" must be \"yes\" or \"no\", got \"\(label)\"") }
            return POPEQuestionRecord(questionId: try r.int("question_id"), image: try r.string("image"), text: text,
                                      label: label, object: popeObject(text) ?? "")
        }
    }

    /// The object of a POPE question, or nil when the text is not POPE's template.
    public static func popeObject(_ text: String) -> String? {
        for prefix in ["Is there an ", "Is there a "] where text.hasPrefix(prefix) && text.hasSuffix(" in the image?") {
            return String(text.dropFirst(prefix.count).dropLast(" in the image?".count))
        }
        return nil
    }

    /// A caption to score with CHAIR.
    public struct CaptionRecord: Equatable, Sendable {
        public var imageId: Int
        public var caption: String
    }

    /// The integer COCO id of an image key: an int, or a name such as "COCO_val2014_000000002239.jpg",
    /// "000000002239.jpg" or "images/eval/006000.png".
    public static func imageId(_ value: OrderedJSON) -> Int? {
        switch value {
        case .int(let i): return i
        case .string(let s): return imageId(s)
        default: return nil
        }
    }

    /// The integer id in an image name.
    public static func imageId(_ s: String) -> Int? {
        var t = (s as NSString).lastPathComponent
        t = (t as NSString).deletingPathExtension
        if let r = t.range(of: "_", options: .backwards) { t = String(t[r.upperBound...]) }
        return Int(t)
    }

    /// Captions for CHAIR: a JSON list or JSON Lines of objects, with the caption under `captionKey`
    /// and the image id under `imageIdKey` (chair.py's `--caption_key` and `--image_id_key`).
    public static func chairCaptions(_ path: String, captionKey: String = "text", imageIdKey: String = "image_id") throws -> [CaptionRecord] {
        try DataRecord.readAll(path).map { r in
            guard let raw = r.present(imageIdKey) else { throw r.fail("missing required key \"\(imageIdKey)\"") }
            guard let id = imageId(raw) else { throw r.fail("\"\(imageIdKey)\" is not an image id: \(raw.text())") }
            return CaptionRecord(imageId: id, caption: try r.string(captionKey))
        }
    }

    /// A CHAIR prompt (less-is-more's chair-500.jsonl, or the scene world's chair_prompts.jsonl).
    public struct CHAIRPrompt: Equatable, Sendable {
        public var questionId: Int
        public var image: String
        public var imageId: Int
        public var text: String
    }

    /// CHAIR prompt files: `question_id`, `image`, `text`.
    public static func chairPrompts(_ path: String) throws -> [CHAIRPrompt] {
        try DataRecord.readAll(path).map { r in
            let image = try r.string("image")
            guard let id = r.present("image_id").flatMap(imageId) ?? imageId(image) else { throw r.fail("cannot read an image id from \"\(image)\"") }
            return CHAIRPrompt(questionId: try r.int("question_id"), image: image, imageId: id, text: try r.string("text"))
        }
    }

    /// CHAIR ground truth `{"<image id>": [node words]}`.
    public static func chairGroundTruth(_ path: String) throws -> [Int: [String]] {
        guard case .object(let entries) = try OrderedJSON.read(path) else {
            throw HalluError.file(path, "expected a JSON object keyed by image id")
        }
        var out: [Int: [String]] = [:]
        for (k, v) in entries {
            guard let id = Int(k) else { throw HalluError.file(path, "key \"\(k)\" is not an integer image id") }
            let r = DataRecord(file: path, location: "key \"\(k)\"", fields: [("words", v)])
            out[id] = try r.strings("words")
        }
        return out
    }
}
