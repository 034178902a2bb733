import CoreRuntime
import Foundation

/// The ground truth of a scene-world export (`scenes.jsonl`), keyed by absolute image path: what the
/// ground-truth detector judges against and what the rewriter corrects from.
public struct SceneTruth: Sendable {
    /// One image of the export.
    public struct Entry: Sendable {
        public var id: Int
        public var split: String
        /// Absolute image path.
        public var image: String
        public var sceneType: String
        public var facts: SceneFacts
    }

    /// Every image, in file order.
    public let entries: [Entry]
    private let byImage: [String: Int]

    public init(entries: [Entry]) {
        self.entries = entries
        var index: [String: Int] = [:]
        for (i, e) in entries.enumerated() { index[SceneTruth.key(e.image)] = i }
        byImage = index
    }

    /// The lookup key of an image path (absolute, standardised).
    static func key(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }

    /// The ground truth of an image, if the export has it.
    public func facts(image: String) -> SceneFacts? { entry(image: image)?.facts }

    /// The entry of an image, if the export has it.
    public func entry(image: String) -> Entry? { byImage[SceneTruth.key(image)].map { entries[$0] } }

    /// Training images in file order.
    public var trainImages: [Entry] { entries.filter { $0.split == "train" } }

    /// Reads `scenes.jsonl` of a data folder; images resolve against the folder (and must exist).
    /// Errors name the file, the line and the key.
    public static func load(folder: URL) throws -> SceneTruth {
        let path = folder.appendingPathComponent(SceneWorld.Files.scenes).path
        let resolver = ImageResolver(root: URL(fileURLWithPath: folder.path))
        var entries: [Entry] = []
        for (line, record) in try JSONFiles.readJSONLines(path) {
            guard let id = record["id"] as? Int else { throw HalluError.missingKey("id", in: path, line: line) }
            guard let image = record["image"] as? String else { throw HalluError.missingKey("image", in: path, line: line) }
            guard let split = record["split"] as? String else { throw HalluError.missingKey("split", in: path, line: line) }
            guard let scene = record["scene"] as? String else { throw HalluError.missingKey("scene", in: path, line: line) }
            let facts = try SHREval.decodeFacts(record, path: path, line: line, id: String(id))
            let resolved = try resolver.resolve(image, file: path, location: "line \(line)")
            entries.append(Entry(id: id, split: split, image: resolved, sceneType: scene, facts: facts))
        }
        return SceneTruth(entries: entries)
    }

    /// Whether a data folder has a `scenes.jsonl`.
    public static func exists(in folder: URL) -> Bool {
        FileManager.default.fileExists(atPath: folder.appendingPathComponent(SceneWorld.Files.scenes).path)
    }
}
