import Foundation

/// The JSON record of every exported file, one function per file (schemas in docs/DATA.md).
public enum WorldRecords {
    /// A scene's objects: category, colour, size and box.
    public static func objects(_ scene: WorldScene, cellSize: Int) -> OrderedJSON {
        .array(scene.objects.map { o in
            .obj(["category": .string(o.category), "color": .string(o.color), "size": .string(o.sizeName),
                  "box": .array(o.box(cellSize: cellSize).map { .int($0) })])
        })
    }

    /// A scene's relations as [subject, relation, object].
    public static func relations(_ scene: WorldScene) -> OrderedJSON {
        .array(scene.relations.map { .array([.int($0.subject), .string($0.relation.rawValue), .int($0.object)]) })
    }

    /// scenes.jsonl: the ground truth of every image.
    static func scene(_ g: WorldImage) -> OrderedJSON {
        .obj(["id": .int(g.scene.id), "split": .string(g.scene.split.rawValue), "image": .string(g.imagePath),
                     "scene": .string(g.scene.sceneType), "objects": objects(g.scene, cellSize: g.cellSize),
                     "relations": relations(g.scene), "description": .string(g.description.text),
                     "over_detailed": .bool(g.overDetailed), "undrawn_mentions": .strings(g.description.undrawnMentions)])
    }

    /// One turn of a LLaVA conversation record.
    public static func turn(_ from: String, _ value: String) -> OrderedJSON { .obj(["from": .string(from), "value": .string(value)]) }

    /// llava_train.json: a detailed description, a short caption and yes/no questions per image.
    static func conversations(_ g: WorldImage) -> [OrderedJSON] {
        let name = g.name
        func conv(_ id: String, _ q: String, _ a: String) -> OrderedJSON {
            .obj(["id": .string(id), "image": .string(g.imagePath),
                  "conversations": .array([turn("human", "<image>\n" + q), turn("gpt", a)])])
        }
        var out = [conv("\(name)-detail", g.detailPrompt, g.description.text)]
        if !g.caption.isEmpty { out.append(conv("\(name)-caption", g.captionPrompt, g.caption)) }
        for (i, qa) in g.questions.enumerated() { out.append(conv("\(name)-yesno\(i)", qa.q, qa.a)) }
        return out
    }

    /// chair_prompts.jsonl: the CHAIR generation prompts (less-is-more's chair-500.jsonl shape).
    static func chairPrompt(_ i: Int, _ g: WorldImage) -> OrderedJSON {
        .obj(["question_id": .int(i), "image": .string(g.imagePath), "image_id": .int(g.scene.id),
              "text": .string(WorldWriter.detailPrompts[0]), "category": .string("detail")])
    }

    /// chair_gt_objects.json entry: image id -> sorted CHAIR node words.
    static func chairGT(_ g: WorldImage) -> (String, OrderedJSON) {
        (String(g.scene.id), .strings(Array(Set(g.scene.categories)).sorted()))
    }

    /// pope_*.jsonl: POPE's question record.
    static func pope(_ q: POPEQuestionRecord) -> OrderedJSON {
        .obj(["question_id": .int(q.questionId), "image": .string(q.image), "text": .string(q.text), "label": .string(q.label)])
    }

    /// shr_facts.jsonl: the facts SHR's judge compares sentences with.
    static func shr(_ g: WorldImage, writer: WorldWriter) -> OrderedJSON {
        .obj(["image_id": .int(g.scene.id), "image": .string(g.imagePath), "scene": .string(g.scene.sceneType),
              "facts": .strings(writer.facts(g.scene)), "objects": objects(g.scene, cellSize: writer.world.config.cellSize),
              "relations": relations(g.scene)])
    }

}
