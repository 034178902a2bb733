import Foundation

/// The objects present in each image, as CHAIR node words (COCO category names), keyed by canonical
/// image id (see `ImageID`).
public struct CHAIRGroundTruth: Sendable {
    /// Canonical image id -> node words present.
    public var objects: [String: Set<String>]

    /// Object sets keyed by image id in any `ImageID` spelling (ids that meet are merged).
    public init(objects: [String: Set<String>]) {
        var out: [String: Set<String>] = [:]
        out.reserveCapacity(objects.count)
        for (id, words) in objects { out[ImageID.canonical(string: id), default: []].formUnion(words) }
        self.objects = out
    }

    private init(canonical objects: [String: Set<String>]) { self.objects = objects }

    /// Reads `{"<image id>": ["node word", ...], ...}` (plain or `.gz`), the layout of
    /// `chair_imid_to_objects.json.gz` and of `write(to:)`.
    public static func load(path: String) throws -> CHAIRGroundTruth {
        let json = try JSONFiles.readJSON(path)
        guard let dict = json as? [String: Any] else {
            throw HalluError.file(path, "expected a JSON object mapping image ids to lists of object words")
        }
        var objects: [String: Set<String>] = [:]
        objects.reserveCapacity(dict.count)
        for (id, value) in dict {
            guard let list = value as? [String] else {
                throw HalluError.file(path, "value of image \"\(id)\" is not a list of object words (strings)")
            }
            let key = ImageID.canonical(string: id)
            if objects[key] == nil { objects[key] = Set(list) } else { objects[key]!.formUnion(list) }
        }
        return CHAIRGroundTruth(canonical: objects)
    }

    /// Builds the ground truth from COCO annotation files as chair.py does: every instance's category
    /// (mapped to its node word) plus every object word found in the reference captions by the CHAIR
    /// caption parser. chair.py uses train2014 and val2014 of both kinds; pass all four files.
    public static func fromCOCO(instancesFiles: [String], captionsFiles: [String],
                                parser: CaptionParser = CaptionParser()) throws -> CHAIRGroundTruth {
        guard !instancesFiles.isEmpty, !captionsFiles.isEmpty else {
            throw HalluError("CHAIR ground truth needs both COCO instances and captions files")
        }
        var objects: [String: Set<String>] = [:]
        for path in instancesFiles {
            let root = try cocoRoot(path)
            guard let categories = root["categories"] as? [[String: Any]] else { throw HalluError.missingKey("categories", in: path) }
            var nodeOfCategory: [Int: String] = [:]
            for (i, cat) in categories.enumerated() {
                guard let id = (cat["id"] as? NSNumber)?.intValue, let name = cat["name"] as? String else {
                    throw HalluError.file(path, "categories[\(i)] needs an integer \"id\" and a string \"name\"")
                }
                guard let node = parser.vocabulary.nodeWord[name] else {
                    throw HalluError.file(path, "category \"\(name)\" is not a CHAIR vocabulary word")
                }
                nodeOfCategory[id] = node
            }
            guard let annotations = root["annotations"] as? [[String: Any]] else { throw HalluError.missingKey("annotations", in: path) }
            for (i, ann) in annotations.enumerated() {
                guard let imageValue = ann["image_id"], let image = ImageID.canonical(imageValue) else {
                    throw HalluError.file(path, "annotations[\(i)] has no usable \"image_id\"")
                }
                guard let cat = (ann["category_id"] as? NSNumber)?.intValue, let node = nodeOfCategory[cat] else {
                    throw HalluError.file(path, "annotations[\(i)] has an unknown \"category_id\"")
                }
                objects[image, default: []].insert(node)
            }
        }
        for path in captionsFiles {
            let root = try cocoRoot(path)
            guard let annotations = root["annotations"] as? [[String: Any]] else { throw HalluError.missingKey("annotations", in: path) }
            for (i, ann) in annotations.enumerated() {
                guard let imageValue = ann["image_id"], let image = ImageID.canonical(imageValue) else {
                    throw HalluError.file(path, "annotations[\(i)] has no usable \"image_id\"")
                }
                guard let caption = ann["caption"] as? String else {
                    throw HalluError.file(path, "annotations[\(i)] has no string \"caption\"")
                }
                objects[image, default: []].formUnion(parser.parse(caption).mentions.map(\.node))
            }
        }
        return CHAIRGroundTruth(canonical: objects)
    }

    /// `fromCOCO` on the four files chair.py reads from an annotations folder
    /// (`instances_{train,val}2014.json`, `captions_{train,val}2014.json`); missing files are an error.
    public static func fromCOCO(annotationsDirectory dir: String) throws -> CHAIRGroundTruth {
        func file(_ kind: String, _ split: String) throws -> String {
            let path = URL(fileURLWithPath: dir).appendingPathComponent("\(kind)_\(split)2014.json").path
            guard FileManager.default.fileExists(atPath: path) else {
                throw HalluError.file(path, "missing: CHAIR needs COCO 2014 \(kind) annotations for \(split)")
            }
            return path
        }
        return try fromCOCO(instancesFiles: [file("instances", "train"), file("instances", "val")],
                            captionsFiles: [file("captions", "train"), file("captions", "val")])
    }

    /// Writes the compact `{"<id>": [sorted node words]}` layout (gzip is not written; plain JSON).
    public func write(to path: String) throws {
        var out: [String: [String]] = [:]
        for (id, words) in objects { out[id] = words.sorted() }
        try AtomicFile.writeJSON(out, to: URL(fileURLWithPath: path), pretty: false)
    }

    private static func cocoRoot(_ path: String) throws -> [String: Any] {
        guard let root = try JSONFiles.readJSON(path) as? [String: Any] else {
            throw HalluError.file(path, "expected a COCO annotation JSON object")
        }
        return root
    }
}
