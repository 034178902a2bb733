import CoreRuntime
import Foundation

/// One training sample of the plugin's own kind: a faithful description of an image and objects
/// the image does not show, which the description must not name.
public struct AbsentObjectsSample: Sample, Equatable {
    public var id: String
    /// Absolute path of the image.
    public var image: String
    /// The instruction, without the `<image>` placeholder.
    public var prompt: String
    public var description: String
    /// COCO names of objects absent from the image (at least one).
    public var absent: [String]

    public init(id: String, image: String, prompt: String, description: String, absent: [String]) {
        self.id = id; self.image = image; self.prompt = prompt; self.description = description; self.absent = absent
    }

    public var length: Int { prompt.utf8.count + description.utf8.count }
}

/// What the loss reads for a micro-batch: the model inputs (labels on the description) and, per
/// sequence, the tokens the absent objects' names begin with.
public struct AbsentObjectsBatch {
    public var inputs: LlavaInputs
    public var negatives: [[Int]]
}

/// The `absent-objects` kind: its file, its line parser, its collation, and the file derived from
/// the scene world.
public enum AbsentObjects {
    public static let kind = DataKind("absent-objects")
    public static let file = "absent_objects.jsonl"

    /// The kind and how a micro-batch of it is collated.
    public static let kindSpec = DataKindSpec(kind, summary: "faithful descriptions with objects the image does not show",
                                              of: AbsentObjectsSample.self, collate: collate)

    /// `absent_objects.jsonl`: one JSON object per line,
    ///
    ///     {"id": "12", "image": "images/train/000012.png", "prompt": "Describe the image.",
    ///      "description": "There is a red cup ...", "absent": ["bowl", "sink"]}
    ///
    /// `DataRecord`'s accessors name the file, the line and the key in their errors; `fail` does the
    /// same for the checks of our own.
    public static let format = DataFormat.records("absent-objects", kind: kind, files: [file]) { record, folder -> AbsentObjectsSample? in
        let absent = try record.strings("absent")
        guard !absent.isEmpty else { throw record.fail("\"absent\" is empty: name at least one object the image does not show") }
        if let unknown = absent.first(where: { WorldCatalog.category(named: $0) == nil }) {
            throw record.fail("\"absent\": \"\(unknown)\" is not a COCO category name")
        }
        let image = try folder.images.resolve(try record.string("image"), file: record.file, location: record.location)
        return AbsentObjectsSample(id: try record.id("id"), image: image, prompt: try record.string("prompt"),
                                   description: try record.string("description"), absent: absent)
    }

    /// Collation: the description as the answer of a one-turn conversation (hallu's SFT inputs),
    /// and each absent name's first token as it appears inside a sentence (after a space).
    public static func collate(_ samples: [AbsentObjectsSample], _ context: TrainContext) throws -> AbsentObjectsBatch {
        let conversations = samples.map { s in
            Conversation(id: s.id, image: s.image, turns: [ConversationTurn(from: "human", value: "<image>\n" + s.prompt),
                                                          ConversationTurn(from: "gpt", value: s.description)])
        }
        let negatives = samples.map { s in
            s.absent.compactMap { context.codec.tokenizer.encode(" " + $0, addSpecialTokens: false).first }
        }
        return AbsentObjectsBatch(inputs: try context.sftInputs(conversations), negatives: negatives)
    }

    /// `absent_objects.jsonl` of a scene world: each training image's faithful description, with
    /// the objects its scene type usually holds that it does not show (up to three): the objects a
    /// model that leans on the scene prior names anyway.
    public static let worldExport = WorldExport(name: "object-ul", files: [file]) { world in
        let known = Set(world.config.resolvedCategories.map(\.name))
        let lines = world.train.compactMap { image -> OrderedJSON? in
            let shown = Set(image.scene.categories)
            let typical = WorldCatalog.sceneType(named: image.scene.sceneType)?.typical ?? []
            let absent = typical.filter { known.contains($0) && !shown.contains($0) }.prefix(3)
            guard !absent.isEmpty, !image.faithful.sentences.isEmpty else { return nil }
            return .obj(["id": .int(image.scene.id), "image": .string(image.imagePath), "prompt": .string(image.detailPrompt),
                         "description": .string(image.faithful.text), "absent": .strings(Array(absent))])
        }
        return [file: OrderedJSON.linesText(lines)]
    }
}
