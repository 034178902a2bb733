import CoreRuntime
import Foundation

/// HA-DPO's training files and how its trainer reads them (`train_dpo.py`): `desc_data.json`
/// (image id -> chosen and rejected descriptions) and `pope_data.json` (yes/no answers, wrong ones
/// making pairs). Registered into the preference kind; the scene world gets both files from
/// `worldExport`.
public enum HADPOData {
    /// The format's name, and the `PreferencePair.source` of its pairs.
    public static let formatName = "ha_dpo"
    public static let descFile = "desc_data.json"
    public static let popeFile = "pope_data.json"

    /// HA-DPO's four description prompts (`train_dpo.py`), drawn with Python's `random`.
    public static let prompts = [
        "Describe this image in detail.",
        "Take a look at this image and describe what you notice.",
        "Please provide a detailed description of the picture.",
        "Could you describe the contents of this image for me?",
    ]

    /// The format: both files read together, as HA-DPO's training list (POPE pairs, then the
    /// description pairs twice). Records carry only an image id; its image comes from `scenes.jsonl`
    /// (a scene world) or Visual Genome's `image_data.json` when present, else `{id}.jpg` / `{id}.png`.
    public static let format = DataFormat(name: formatName, kind: .preference, files: [descFile, popeFile]) { present, folder in
        let lookup = try imageLookup(folder.root)
        return try pairs(desc: present.contains(descFile) ? folder.path(descFile) : nil,
                         pope: present.contains(popeFile) ? folder.path(popeFile) : nil, images: folder.images, image: lookup)
    }

    /// `desc_data.json` (image id -> {"chosen": [...], "rejected": [...]}), read as HA-DPO's "offline"
    /// sampling does: after `random.seed(seed)`, for each image id in file order, one chosen, one
    /// rejected and one of the four prompts via `random.choice`. `image(id)` lists the file names to
    /// try for an image id.
    public static func desc(_ path: String, images: ImageResolver, seed: UInt64 = 42,
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
            let question = rng.choice(prompts)
            let img = try images.resolve(image(id), file: path, location: loc)
            out.append(PreferencePair(id: id, image: img, question: question, chosen: chosen, rejected: rejected, source: formatName))
        }
        return out
    }

    /// `pope_data.json`: records with `correct == true` are skipped (only wrong answers make pairs);
    /// `chosen` is the right answer, `reject` the wrong one.
    public static func pope(_ path: String, images: ImageResolver,
                            image: (String) -> [String] = { ["\($0).jpg", "\($0).png"] }) throws -> [PreferencePair] {
        try DataRecord.readAll(path).compactMap { r in
            if try r.bool("correct") { return nil }
            let id = try r.id("image_id")
            let candidates = try r.optionalString("image").map { [$0] } ?? image(id)
            return PreferencePair(id: id, image: try images.resolve(candidates, file: path, location: r.location),
                                  question: DataReaders.stripImageToken(try r.string("question")), chosen: try r.string("chosen"),
                                  rejected: try r.string("reject"), source: formatName)
        }
    }

    /// HA-DPO's training list: POPE pairs, then the description pairs twice (as `train_dpo.py` builds it).
    public static func pairs(desc: String?, pope: String?, images: ImageResolver,
                             image: @escaping (String) -> [String] = { ["\($0).jpg", "\($0).png"] }) throws -> [PreferencePair] {
        let d = try desc.map { try self.desc($0, images: images, image: image) } ?? []
        let p = try pope.map { try self.pope($0, images: images, image: image) } ?? []
        return p + d + d
    }

    /// Maps an image id to candidate file names, from scenes.jsonl or VG's image_data.json.
    static func imageLookup(_ root: URL) throws -> (String) -> [String] {
        var map: [String: String] = [:]
        let scenes = root.appendingPathComponent(SceneWorld.Files.scenes).path
        let vg = root.appendingPathComponent("image_data.json").path
        if FileManager.default.fileExists(atPath: scenes) {
            for r in try DataRecord.readAll(scenes) { map[try r.id("id")] = try r.string("image") }
        } else if FileManager.default.fileExists(atPath: vg) {
            for r in try DataRecord.readAll(vg) {
                let url = try r.string("url")
                let parts = url.split(separator: "/")
                map[try r.id("image_id")] = parts.suffix(2).joined(separator: "/")
            }
        }
        return { id in map[id].map { [$0] } ?? ["\(id).jpg", "\(id).png"] }
    }

    /// Both files from a scene world: each training image's faithful description as the chosen one
    /// and its hallucinated descriptions as the rejected ones (images with none are left out), and
    /// its yes/no probe with the right and the wrong answer.
    public static let worldExport = WorldExport(name: "ha-dpo", files: [descFile, popeFile]) { world in
        let train = world.train
        let style = world.config.yesNoAnswers
        let desc = train.filter { !$0.hallucinated.isEmpty }.map { g -> (String, OrderedJSON) in
            (String(g.scene.id), .obj(["chosen": .strings([g.faithful.text]), "rejected": .strings(g.hallucinated.map(\.description.text))]))
        }
        let pope = train.map { g -> OrderedJSON in
            let o = g.probe.object
            let yes = WorldWriter.answer(o, yes: true, style: style), no = WorldWriter.answer(o, yes: false, style: style)
            // `answer` is the true label, `correct` whether the simulated model got it right.
            return .obj(["image_id": .int(g.scene.id), "image": .string(g.imagePath), "question": .string(WorldWriter.question(o)),
                         "chosen": .string(g.probe.present ? yes : no), "reject": .string(g.probe.present ? no : yes),
                         "answer": .string(g.probe.present ? "yes" : "no"), "correct": .bool(g.probe.answeredRightly)])
        }
        return [descFile: OrderedJSON.objectLinesText(desc), popeFile: OrderedJSON.listText(pope)]
    }
}
