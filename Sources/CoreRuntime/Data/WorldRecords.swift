import Foundation

/// The JSON record of every exported file, one function per file (schemas in docs/DATA.md).
enum WorldRecords {
    static func imageName(_ g: GeneratedImage) -> String {
        ((g.imagePath as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    static func objects(_ scene: WorldScene, cellSize: Int) -> OrderedJSON {
        .array(scene.objects.map { o in
            .obj(["category": .string(o.category), "color": .string(o.color), "size": .string(o.sizeName),
                  "box": .array(o.box(cellSize: cellSize).map { .int($0) })])
        })
    }

    static func relations(_ scene: WorldScene) -> OrderedJSON {
        .array(scene.relations.map { .array([.int($0.subject), .string($0.relation.rawValue), .int($0.object)]) })
    }

    /// scenes.jsonl: the ground truth of every image.
    static func scene(_ g: GeneratedImage) -> OrderedJSON {
        .obj(["id": .int(g.scene.id), "split": .string(g.scene.split.rawValue), "image": .string(g.imagePath),
                     "scene": .string(g.scene.sceneType), "objects": objects(g.scene, cellSize: g.cellSize),
                     "relations": relations(g.scene), "description": .string(g.description.text),
                     "over_detailed": .bool(g.overDetailed), "undrawn_mentions": .strings(g.description.undrawnMentions)])
    }

    static func turn(_ from: String, _ value: String) -> OrderedJSON { .obj(["from": .string(from), "value": .string(value)]) }

    /// llava_train.json: a detailed description, a short caption and yes/no questions per image.
    static func conversations(_ g: GeneratedImage) -> [OrderedJSON] {
        let name = imageName(g)
        func conv(_ id: String, _ q: String, _ a: String) -> OrderedJSON {
            .obj(["id": .string(id), "image": .string(g.imagePath),
                  "conversations": .array([turn("human", "<image>\n" + q), turn("gpt", a)])])
        }
        var out = [conv("\(name)-detail", g.detailPrompt, g.description.text)]
        if !g.caption.isEmpty { out.append(conv("\(name)-caption", g.captionPrompt, g.caption)) }
        for (i, qa) in g.questions.enumerated() { out.append(conv("\(name)-yesno\(i)", qa.q, qa.a)) }
        return out
    }

    /// hsa_dpo_preference.jsonl: one faithful-vs-hallucinated pair per image.
    static func preference(_ g: GeneratedImage) -> OrderedJSON {
        let r = g.rejected[0]
        return .obj(["id": .int(g.scene.id), "image": .string(g.imagePath), "question": .string(g.detailPrompt),
                     "chosen": .string(g.chosen.text), "rejected": .string(r.description.text),
                     "chosen_score": .number(1), "rejected_score": .number(r.score)])
    }

    static func sentenceLabels(_ d: WorldDescription) -> OrderedJSON {
        .array(d.sentences.map { s in
            let l = s.labels.first
            return .obj(["text": .string(s.text), "hallucinated": .bool(l != nil),
                         "type": l.map { .string($0.type.rawValue) } ?? .null, "severity": .int(l?.severity ?? 0),
                         "reason": .string(l?.reason ?? "")])
        })
    }

    /// hsa_dpo_detection.jsonl: sentence-labelled responses (the rejected description, and the
    /// overly detailed training description when there is one).
    static func detection(_ g: GeneratedImage) -> [OrderedJSON] {
        let name = imageName(g)
        var out: [OrderedJSON] = []
        func rec(_ id: String, _ d: WorldDescription) -> OrderedJSON {
            .obj(["id": .string(id), "image": .string(g.imagePath), "question": .string(g.detailPrompt),
                  "response": .string(d.text), "sentences": sentenceLabels(d)])
        }
        if let r = g.rejected.first { out.append(rec("\(name)-rejected", r.description)) }
        if !g.description.undrawnMentions.isEmpty { out.append(rec("\(name)-overdetailed", g.description)) }
        return out
    }

    /// desc_data.json entry: image id -> chosen and rejected descriptions.
    static func descData(_ g: GeneratedImage) -> (String, OrderedJSON) {
        (String(g.scene.id), .obj(["chosen": .strings([g.chosen.text]), "rejected": .strings(g.rejected.map(\.description.text))]))
    }

    /// pope_data.json: a yes/no question with its correct ("chosen") and wrong ("reject") answer;
    /// `answer` is the true label and `correct` whether the simulated model got it right.
    static func popeData(_ g: GeneratedImage, style: String) -> OrderedJSON {
        let o = g.popePair.object
        let yes = WorldWriter.answer(o, yes: true, style: style), no = WorldWriter.answer(o, yes: false, style: style)
        return .obj(["image_id": .int(g.scene.id), "image": .string(g.imagePath), "question": .string(WorldWriter.question(o)),
                     "chosen": .string(g.popePair.yes ? yes : no), "reject": .string(g.popePair.yes ? no : yes),
                     "answer": .string(g.popePair.yes ? "yes" : "no"), "correct": .bool(g.popePair.correct)])
    }

    /// hacl.json: HACL's caption record with a hallucinated caption.
    static func hacl(_ g: GeneratedImage) -> OrderedJSON {
        let prompt = WorldWriter.captionPrompts[0]
        return .obj(["id": .int(g.scene.id), "image": .string(g.imagePath), "text": .string(g.caption),
                     "dataset_name": .string("scene_world"), "task_type": .string("pretrain"),
                     "Hallucination caption": .string(g.haclCaption),
                     "hallucination_type": .string(g.haclLabel.type.rawValue),
                     "conversations": .array([turn("human", prompt + "\n<image>"), turn("gpt", g.caption)])])
    }

    /// chair_prompts.jsonl: the CHAIR generation prompts (less-is-more's chair-500.jsonl shape).
    static func chairPrompt(_ i: Int, _ g: GeneratedImage) -> OrderedJSON {
        .obj(["question_id": .int(i), "image": .string(g.imagePath), "image_id": .int(g.scene.id),
              "text": .string(WorldWriter.detailPrompts[0]), "category": .string("detail")])
    }

    /// chair_gt_objects.json entry: image id -> sorted CHAIR node words.
    static func chairGT(_ g: GeneratedImage) -> (String, OrderedJSON) {
        (String(g.scene.id), .strings(Array(Set(g.scene.categories)).sorted()))
    }

    /// pope_*.jsonl: POPE's question record.
    static func pope(_ q: POPEQuestionRecord) -> OrderedJSON {
        .obj(["question_id": .int(q.questionId), "image": .string(q.image), "text": .string(q.text), "label": .string(q.label)])
    }

    /// shr_facts.jsonl: the facts SHR's judge compares sentences with.
    static func shr(_ g: GeneratedImage, writer: WorldWriter) -> OrderedJSON {
        .obj(["image_id": .int(g.scene.id), "image": .string(g.imagePath), "scene": .string(g.scene.sceneType),
              "facts": .strings(writer.facts(g.scene)), "objects": objects(g.scene, cellSize: writer.world.config.cellSize),
              "relations": relations(g.scene)])
    }

    /// A JSON object written one key per line.
    static func objectText(_ entries: [(String, OrderedJSON)]) -> String {
        if entries.isEmpty { return "{}\n" }
        return "{\n" + entries.map { OrderedJSON.object([$0]).text().dropFirst().dropLast() }.joined(separator: ",\n") + "\n}\n"
    }
}
