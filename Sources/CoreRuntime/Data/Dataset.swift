import Foundation

/// Training data read from a folder: every recognised file is loaded into the sample kinds.
///
/// Recognised file names (see docs/DATA.md):
/// - sft: `llava_train.json`, `detail_23k.json`, `llava_instruct_150k.json`, `llava_v1_5_mix665k.json`
/// - preference: `hsa_dpo_preference.jsonl`, `hsa_dpo_preference_llava1dot5.jsonl` (HSA-DPO);
///   `desc_data.json` and/or `pope_data.json` (HA-DPO, read as HA-DPO's loader does)
/// - contrastive: `hacl.json`, `hallucination_caption.json`, `hallcuination_caption.json`
/// - detection: `hsa_dpo_detection.jsonl`
///
/// Image names resolve against the folder, then `images/`, `images/train/`, `images/eval/`. HA-DPO
/// records carry only an image id: its image comes from `scenes.jsonl` (a scene world) or Visual
/// Genome's `image_data.json` when present, else `{id}.jpg` / `{id}.png`.
public struct Dataset {
    public let root: URL
    public var conversations: [Conversation] = []
    public var preferences: [PreferencePair] = []
    public var contrastive: [ContrastiveExample] = []
    public var detection: [DetectionExample] = []
    /// The files read, by kind, in reading order (file names relative to `root`).
    public var files: [(kind: DataKind, file: String)] = []

    public static let sftFiles = ["llava_train.json", "detail_23k.json", "llava_instruct_150k.json", "llava_v1_5_mix665k.json"]
    public static let hsadpoFiles = ["hsa_dpo_preference.jsonl", "hsa_dpo_preference_llava1dot5.jsonl"]
    public static let hadpoDescFile = "desc_data.json"
    public static let hadpoPopeFile = "pope_data.json"
    public static let contrastiveFiles = ["hacl.json", "hallucination_caption.json", "hallcuination_caption.json"]
    public static let detectionFiles = ["hsa_dpo_detection.jsonl"]

    public init(root: URL) { self.root = root }

    /// Loads the files of the requested kinds that exist in `folder`. With `checkImages`, every
    /// image must exist (a missing one is an error naming the record). `imageFolders` are searched
    /// before the defaults (e.g. a COCO or Visual Genome image folder kept elsewhere).
    public static func load(_ folder: String, kinds: Set<DataKind> = Set(DataKind.allCases), checkImages: Bool = true,
                            imageFolders: [String] = [], allowOutside: Bool = false) throws -> Dataset {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw HalluError.file(folder, "data folder not found")
        }
        let root = URL(fileURLWithPath: folder).standardizedFileURL
        let extra = imageFolders.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        let images = ImageResolver(root: root, folders: extra + ["", "images", "images/train", "images/eval"], check: checkImages,
                                   allowOutside: allowOutside)
        var ds = Dataset(root: root)
        func existing(_ names: [String]) -> [String] {
            names.filter { FileManager.default.fileExists(atPath: root.appendingPathComponent($0).path) }
        }
        func path(_ name: String) -> String { root.appendingPathComponent(name).path }
        if kinds.contains(.sft) {
            for f in existing(sftFiles) {
                ds.conversations += try DataReaders.llava(path(f), images: images)
                ds.files.append((.sft, f))
            }
        }
        if kinds.contains(.preference) {
            for f in existing(hsadpoFiles) {
                ds.preferences += try DataReaders.hsadpoPreference(path(f), images: images)
                ds.files.append((.preference, f))
            }
            let desc = existing([hadpoDescFile]).first, pope = existing([hadpoPopeFile]).first
            if desc != nil || pope != nil {
                let lookup = try imageLookup(root)
                ds.preferences += try DataReaders.hadpo(desc: desc.map(path), pope: pope.map(path), images: images, image: lookup)
                ds.files += [desc, pope].compactMap { $0 }.map { (.preference, $0) }
            }
        }
        if kinds.contains(.contrastive) {
            for f in existing(contrastiveFiles) {
                ds.contrastive += try DataReaders.hacl(path(f), images: images)
                ds.files.append((.contrastive, f))
            }
        }
        if kinds.contains(.detection) {
            for f in existing(detectionFiles) {
                ds.detection += try DataReaders.detection(path(f), images: images)
                ds.files.append((.detection, f))
            }
        }
        return ds
    }

    /// How many samples of a kind were loaded.
    public func count(_ kind: DataKind) -> Int {
        switch kind {
        case .sft: return conversations.count
        case .preference: return preferences.count
        case .contrastive: return contrastive.count
        case .detection: return detection.count
        }
    }

    /// The preference pairs of one format.
    public func preferences(_ format: PreferenceFormat) -> [PreferencePair] { preferences.filter { $0.format == format } }

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
}
