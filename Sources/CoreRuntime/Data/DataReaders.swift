import Foundation

/// Readers of the core's data formats: LLaVA conversations and the evaluation files (POPE questions,
/// CHAIR prompts, captions and ground truth). Each one validates as it reads and throws a
/// `HalluError` naming the file, the line or item, and the key. Papers' training formats are read by
/// their plugins (`DataFormat`).
public enum DataReaders {
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

    /// One LLaVA conversation record: `{"id", "image"?, "conversations": [{"from", "value"}]}`.
    public static func conversation(_ r: DataRecord, images: ImageResolver) throws -> Conversation {
        let turns = try r.objects("conversations").map { t in
            ConversationTurn(from: try t.string("from"), value: try t.string("value"))
        }
        guard !turns.isEmpty else { throw r.fail("\"conversations\" is empty") }
        let image = try r.optionalString("image").map { try images.resolve($0, file: r.file, location: r.location) }
        return Conversation(id: try r.id("id"), image: image, turns: turns)
    }

    /// LLaVA conversation JSON (a list of `{"id", "image"?, "conversations": [{"from", "value"}]}`).
    public static func llava(_ path: String, images: ImageResolver) throws -> [Conversation] {
        try DataRecord.readAll(path).map { try conversation($0, images: images) }
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
