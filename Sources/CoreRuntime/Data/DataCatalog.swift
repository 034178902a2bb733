import Foundation

/// The sample kinds and file formats hallu can read: the built-in kinds (`DataKind.builtIn`) and
/// LLaVA's conversation format, and whatever plugins register. Each registry has one
/// (`PluginRegistry.data`); `Dataset.load` reads a folder through it.
public final class DataCatalog {
    public private(set) var kinds: [DataKindSpec] = []
    public private(set) var formats: [DataFormat] = []

    /// LLaVA's conversation JSON: `[{"id", "image"?, "conversations": [{"from", "value"}]}]`.
    public static let llava = DataFormat.records("llava", kind: .sft, files: Dataset.sftFiles) { r, folder in
        try DataReaders.conversation(r, images: folder.images)
    }

    public init(builtIns: Bool = true) {
        guard builtIns else { return }
        kinds = [DataKindSpec(.sft, summary: "LLaVA conversations for supervised fine-tuning"),
                 DataKindSpec(.preference, summary: "two answers to one question about an image, the first preferred"),
                 DataKindSpec(.contrastive, summary: "captions with hallucinated versions of them"),
                 DataKindSpec(.detection, summary: "responses with sentence-level hallucination labels (type, severity)")]
        formats = [Self.llava]
    }

    /// A copy of another catalog.
    public init(copying other: DataCatalog) {
        kinds = other.kinds
        formats = other.formats
    }

    /// The spec of a kind, if registered.
    public func kind(_ kind: DataKind) -> DataKindSpec? { kinds.first { $0.kind == kind } }

    /// Adds a kind; its name must be new.
    public func register(_ spec: DataKindSpec, from library: String = "built-in") throws {
        guard kind(spec.kind) == nil else { throw HalluError.file(library, "declares the data kind \"\(spec.kind)\", which exists already") }
        kinds.append(spec)
    }

    /// Adds a format; its kind must be registered, and its name and file names must be new.
    public func register(_ format: DataFormat, from library: String = "built-in") throws {
        guard kind(format.kind) != nil else {
            throw HalluError.file(library, "format \"\(format.name)\" fills the data kind \"\(format.kind)\", which no one declares")
        }
        if formats.contains(where: { $0.name == format.name }) {
            throw HalluError.file(library, "declares the data format \"\(format.name)\", which exists already")
        }
        for file in format.files {
            if let other = formats.first(where: { $0.files.contains(file) }) {
                throw HalluError.file(library, "format \"\(format.name)\" reads \(file), which format \"\(other.name)\" reads already")
            }
        }
        formats.append(format)
    }

    /// Every file name a format recognises, by kind.
    public func files(of kind: DataKind) -> [String] { formats.filter { $0.kind == kind }.flatMap(\.files) }
}

/// Training data read from a folder: every recognised file of the requested kinds, through a
/// catalog's formats (see docs/DATA.md for the file names).
///
/// Image names resolve against the folder, then `images/`, `images/train/`, `images/eval/`, after any
/// extra image folders given.
public struct Dataset {
    public let root: URL
    public var data = TrainingData()
    /// The files read, by kind, in reading order (file names relative to `root`).
    public var files: [(kind: DataKind, file: String)] = []

    public static let sftFiles = ["llava_train.json", "detail_23k.json", "llava_instruct_150k.json", "llava_v1_5_mix665k.json"]

    public init(root: URL) { self.root = root }

    public var conversations: [Conversation] { data.conversations }
    public var preferences: [PreferencePair] { data.preferences }
    public var contrastive: [ContrastiveExample] { data.contrastive }
    public var detection: [DetectionExample] { data.detection }

    /// Loads the files of the requested kinds (nil: every kind of the catalog) that exist in `folder`.
    /// With `checkImages`, every image must exist (a missing one is an error naming the record).
    /// `imageFolders` are searched before the defaults (e.g. a COCO or Visual Genome image folder kept
    /// elsewhere). Image paths that are absolute or leave the folder are errors unless `allowOutside`.
    public static func load(_ folder: String, kinds: Set<DataKind>? = nil, checkImages: Bool = true,
                            imageFolders: [String] = [], allowOutside: Bool = false,
                            catalog: DataCatalog = DataCatalog()) throws -> Dataset {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw HalluError.file(folder, "data folder not found")
        }
        let root = URL(fileURLWithPath: folder).standardizedFileURL
        let extra = imageFolders.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        let images = ImageResolver(root: root, folders: extra + ["", "images", "images/train", "images/eval"], check: checkImages,
                                   allowOutside: allowOutside)
        let dir = DataFolder(root: root, images: images)
        var ds = Dataset(root: root)
        for format in catalog.formats where kinds?.contains(format.kind) ?? true {
            let present = format.files.filter(dir.has)
            guard !present.isEmpty else { continue }
            try ds.data.append(format.kind, format.read(present, dir))
            ds.files += present.map { (format.kind, $0) }
        }
        return ds
    }

    /// How many samples of a kind were loaded.
    public func count(_ kind: DataKind) -> Int { data.count(kind) }

    /// The preference pairs read by one format (`PreferencePair.source`).
    public func preferences(from format: String) -> [PreferencePair] { preferences.filter { $0.source == format } }
}
