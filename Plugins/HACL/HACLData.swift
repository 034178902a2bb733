import CoreRuntime
import Foundation

/// HACL's caption data: records with an `image`, the caption (the gpt turn of `conversations`, else
/// `text`) and `"Hallucination caption"` (a string or a list), as in the released
/// `hallucination_caption.json`. Registered into the contrastive kind; the scene world gets
/// `hacl.json` from `worldExport`.
public enum HACLData {
    public static let files = ["hacl.json", "hallucination_caption.json", "hallcuination_caption.json"]
    /// The instruction when a record has no human turn.
    public static let defaultPrompt = "Give a brief description of the image."

    public static let format = DataFormat(name: "hacl", kind: .contrastive, files: files) { present, folder in
        var out: [ContrastiveExample] = []
        for f in present { out += try examples(folder.path(f), images: folder.images) }
        return out
    }

    /// The examples of one file; a record without `id` takes its position.
    public static func examples(_ path: String, images: ImageResolver) throws -> [ContrastiveExample] {
        try DataRecord.readAll(path).enumerated().map { i, r in
            var prompt = defaultPrompt
            var caption: String? = try r.optionalString("text")
            if r.has("conversations") {
                let turns = try r.objects("conversations").map { t in
                    ConversationTurn(from: try t.string("from"), value: try t.string("value"))
                }
                if let h = turns.first(where: \.isHuman) { prompt = DataReaders.stripImageToken(h.value) }
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

    /// `hacl.json` from a scene world: each training image's short caption with its hallucinated caption.
    public static let worldExport = WorldExport(name: "hacl", files: ["hacl.json"]) { world in
        let prompt = WorldWriter.captionPrompts[0]
        let records = world.train.map { g -> OrderedJSON in
            .obj(["id": .int(g.scene.id), "image": .string(g.imagePath), "text": .string(g.caption),
                  "dataset_name": .string("scene_world"), "task_type": .string("pretrain"),
                  "Hallucination caption": .string(g.hallucinatedCaption),
                  "hallucination_type": .string(g.hallucinatedCaptionLabel.type.rawValue),
                  "conversations": .array([WorldRecords.turn("human", prompt + "\n<image>"), WorldRecords.turn("gpt", g.caption)])])
        }
        return ["hacl.json": OrderedJSON.listText(records)]
    }
}
