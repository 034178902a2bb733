import Foundation

/// A kind of training sample, by name. The built-in kinds are `sft` (conversations), `preference`
/// (chosen/rejected pairs), `contrastive` (captions with hallucinated versions) and `detection`
/// (responses with sentence-level hallucination labels); a plugin declares its own with
/// `DataKindSpec`. File formats fill a kind (`DataFormat`); methods list the kinds they train on.
public struct DataKind: Hashable, Codable, Sendable, CustomStringConvertible {
    /// The name (also the key of the kind's data stream in a trainer checkpoint).
    public let rawValue: String

    public init(_ name: String) { rawValue = name }

    /// Conversations for supervised fine-tuning (LLaVA format).
    public static let sft = DataKind("sft")
    /// Two answers to one question about one image, the first preferred.
    public static let preference = DataKind("preference")
    /// Captions with hallucinated counterparts.
    public static let contrastive = DataKind("contrastive")
    /// Responses with sentence-level hallucination labels (type and severity).
    public static let detection = DataKind("detection")
    /// The built-in kinds, in their usual order.
    public static let builtIn: [DataKind] = [.sft, .preference, .contrastive, .detection]

    public var description: String { rawValue }
    public init(from decoder: Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// A training sample of any kind: what the trainer needs to batch it.
public protocol Sample: Sendable {
    /// An id for error messages (a non-finite loss names the batch's samples).
    var id: String { get }
    /// A cheap size (bytes of its text), for length-grouped batches.
    var length: Int { get }
}

/// The samples of one kind: an array of one `Sample` type behind a type-erased face, so that
/// `TrainingData` and `Batch` can hold kinds the core does not know.
public protocol SampleList: Sendable {
    var count: Int { get }
    var sampleIds: [String] { get }
    var lengths: [Int] { get }
    /// The samples at `indices`, in that order.
    func selecting(_ indices: [Int]) -> any SampleList
    /// These samples followed by `other`'s, which must be of the same type.
    func appending(_ other: any SampleList) throws -> any SampleList
}

extension Array: SampleList where Element: Sample {
    public var sampleIds: [String] { map(\.id) }
    public var lengths: [Int] { map(\.length) }
    public func selecting(_ indices: [Int]) -> any SampleList { indices.map { self[$0] } }
    public func appending(_ other: any SampleList) throws -> any SampleList {
        guard let more = other as? [Element] else {
            throw HalluError("samples of type \(Element.self) cannot be joined with \(type(of: other))")
        }
        return self + more
    }
}

/// One turn of a LLaVA conversation.
public struct ConversationTurn: Equatable, Codable, Sendable {
    /// "human" or "gpt" in LLaVA files.
    public var from: String
    /// The text; a human turn may hold the `<image>` placeholder.
    public var value: String

    public init(from: String, value: String) { self.from = from; self.value = value }

    /// Whether the turn is the user's (LLaVA writes "human"; some files "user").
    public var isHuman: Bool { from == "human" || from == "user" }
}

/// A supervised conversation about one image.
public struct Conversation: Equatable, Sample {
    public var id: String
    /// Absolute path of the image, or nil for a text-only conversation.
    public var image: String?
    public var turns: [ConversationTurn]

    public init(id: String, image: String?, turns: [ConversationTurn]) { self.id = id; self.image = image; self.turns = turns }

    public var length: Int { turns.reduce(0) { $0 + $1.value.utf8.count } }
}

/// A preference pair: two answers to one question about one image.
public struct PreferencePair: Equatable, Sample {
    public var id: String
    /// Absolute image path, or nil for text-only pairs.
    public var image: String?
    /// The question without the `<image>` placeholder (see `prompt`).
    public var question: String
    public var chosen: String
    public var rejected: String
    /// Per-side scores a method may weight the implicit rewards with (severity-weighted DPO reads
    /// them); nil when the file has none.
    public var chosenScore: Double?
    public var rejectedScore: Double?
    /// The name of the data format the pair was read from ("" when made in code), so that a method
    /// can pick the pairs made for it.
    public var source: String

    public init(id: String, image: String?, question: String, chosen: String, rejected: String,
                chosenScore: Double? = nil, rejectedScore: Double? = nil, source: String = "") {
        self.id = id; self.image = image; self.question = question; self.chosen = chosen; self.rejected = rejected
        self.chosenScore = chosenScore; self.rejectedScore = rejectedScore; self.source = source
    }

    /// The human turn as the papers' code builds it: "<image>\n" + question.
    public var prompt: String { image == nil ? question : "<image>\n" + question }

    public var length: Int { prompt.utf8.count + max(chosen.utf8.count, rejected.utf8.count) }
}

/// A caption with hallucinated versions of it (for contrastive methods).
public struct ContrastiveExample: Equatable, Sample {
    public var id: String
    public var image: String?
    /// The instruction of the caption conversation, without `<image>`.
    public var prompt: String
    public var caption: String
    public var hallucinatedCaptions: [String]

    public init(id: String, image: String?, prompt: String, caption: String, hallucinatedCaptions: [String]) {
        self.id = id; self.image = image; self.prompt = prompt; self.caption = caption
        self.hallucinatedCaptions = hallucinatedCaptions
    }

    public var length: Int { prompt.utf8.count + caption.utf8.count }
}

/// One labelled sentence of a detection example.
public struct DetectionSentence: Equatable, Sendable {
    public var text: String
    public var hallucinated: Bool
    /// nil when the sentence is faithful.
    public var type: HallucinationType?
    /// 0 when faithful, else 1 (minor) to 3 (major).
    public var severity: Int
    public var reason: String

    public init(text: String, hallucinated: Bool, type: HallucinationType?, severity: Int, reason: String) {
        self.text = text; self.hallucinated = hallucinated; self.type = type; self.severity = severity; self.reason = reason
    }
}

/// A response with sentence-level hallucination labels (training data of hallucination detectors).
public struct DetectionExample: Equatable, Sample {
    public var id: String
    public var image: String?
    public var question: String
    public var response: String
    public var sentences: [DetectionSentence]

    public init(id: String, image: String?, question: String, response: String, sentences: [DetectionSentence]) {
        self.id = id; self.image = image; self.question = question; self.response = response; self.sentences = sentences
    }

    public var length: Int { question.utf8.count + response.utf8.count }
}

/// Finds the image a record names. Names are tried as given (absolute), then relative to the data
/// folder and its image folders; a missing image is an error naming the record, never a blank image.
/// Names must stay inside the data folder (`ContainedPath`): an absolute name or one that climbs out
/// with `..` is an error unless `allowOutside`.
public struct ImageResolver: Sendable {
    public let root: URL
    /// Folders searched in order: relative ones under `root` ("" is the root itself), absolute ones as they are.
    public let folders: [String]
    /// When false, names are resolved against `root` without checking that the file exists.
    public let check: Bool
    /// Whether names may point outside the data folder (`--allow-outside`).
    public let allowOutside: Bool

    public init(root: URL, folders: [String] = ["", "images", "images/train", "images/eval"], check: Bool = true,
                allowOutside: Bool = false) {
        self.root = root; self.folders = folders; self.check = check; self.allowOutside = allowOutside
    }

    /// The absolute path of the first existing candidate; `location` names the record in errors.
    public func resolve(_ candidates: [String], file: String, location: String) throws -> String {
        let what = "\(file): \(location): image"
        let base = root.path
        var found: String? = nil
        search: for name in candidates {
            // An absolute name is tried as it is; a relative one in each folder, and must stay in
            // the data folder (an absolute extra folder: in that folder).
            let places = name.hasPrefix("/") ? [root] : folders.map { f -> URL in
                f.isEmpty ? root : (f.hasPrefix("/") ? URL(fileURLWithPath: f) : root.appendingPathComponent(f))
            }
            for dir in places {
                let container = dir.path.hasPrefix(base) ? root : dir
                let p = try ContainedPath.resolve(name, from: dir.path, keptIn: container.path, allowOutside: allowOutside, what: what)
                if !check { found = p; break search }
                switch Self.kind(p) {
                case .missing: continue
                case .regular: found = p; break search
                case .other(let k): throw HalluError("\(what) \"\(name)\" (\(p)) \(k), not an image file")
                }
            }
        }
        if let found { return found }
        let looked = folders.map { $0.isEmpty ? base : ($0.hasPrefix("/") ? $0 : base + "/" + $0) }.joined(separator: ", ")
        throw HalluError("\(file): \(location): image \(candidates.map { "\"\($0)\"" }.joined(separator: " or ")) not found (looked in \(looked))")
    }

    /// Resolves one name.
    public func resolve(_ name: String, file: String, location: String) throws -> String {
        try resolve([name], file: file, location: location)
    }

    private enum Kind { case missing, regular, other(String) }

    /// What is at `path` (following links), without opening it.
    private static func kind(_ path: String) -> Kind {
        var st = stat()
        guard stat(path, &st) == 0 else { return .missing }
        if (st.st_mode & S_IFMT) == S_IFREG { return .regular }
        return .other(InputFile.kind(st.st_mode))
    }
}
