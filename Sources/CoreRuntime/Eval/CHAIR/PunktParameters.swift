import Foundation

/// A trained Punkt model (NLTK's `PunktParameters`): what the unsupervised training learned about a
/// language's abbreviations, collocations, sentence starters and capitalisation.
public struct PunktParameters: Sendable {
    /// Word types (lower case, without the final period) that are abbreviations, e.g. "dr", "e.g".
    public var abbreviations: Set<String>
    /// Type pairs (word before a period, word after it) that do not end a sentence, e.g. ("##number##", "business").
    public var collocations: Set<Collocation>
    /// Types that often start a sentence after an abbreviation, e.g. "however".
    public var sentenceStarters: Set<String>
    /// Type -> the orthographic contexts it was seen in (the `Ortho` flags).
    public var orthographicContext: [String: Int]

    public struct Collocation: Hashable, Sendable {
        public var first: String
        public var second: String
        public init(_ first: String, _ second: String) {
            self.first = first
            self.second = second
        }
    }

    /// Orthographic context flags: position in the sentence (beginning, middle, unknown) x case.
    public enum Ortho {
        public static let begUpper = 1 << 1, midUpper = 1 << 2, unkUpper = 1 << 3
        public static let begLower = 1 << 4, midLower = 1 << 5, unkLower = 1 << 6
        public static let upper = begUpper | midUpper | unkUpper
        public static let lower = begLower | midLower | unkLower
    }

    /// Empty parameters: an untrained Punkt.
    public init(abbreviations: Set<String> = [], collocations: Set<Collocation> = [], sentenceStarters: Set<String> = [],
                orthographicContext: [String: Int] = [:]) {
        self.abbreviations = abbreviations
        self.collocations = collocations
        self.sentenceStarters = sentenceStarters
        self.orthographicContext = orthographicContext
    }

    /// The English parameters NLTK ships (embedded in the library; see data/SOURCES.md).
    public static var english: PunktParameters { NLTKEnglish.punkt }

    /// Reads the JSON form `{"abbrev_types", "collocations", "sent_starters", "ortho_context"}`.
    init(json: OrderedJSON) throws {
        func strings(_ key: String) throws -> [String] {
            guard case .array(let items)? = json[key] else { throw HalluError("Punkt parameters: \"\(key)\" is not a list") }
            return try items.map {
                guard case .string(let s) = $0 else { throw HalluError("Punkt parameters: \"\(key)\" holds a non-string") }
                return s
            }
        }
        abbreviations = Set(try strings("abbrev_types"))
        sentenceStarters = Set(try strings("sent_starters"))
        guard case .array(let pairs)? = json["collocations"] else { throw HalluError("Punkt parameters: \"collocations\" is not a list") }
        collocations = Set(try pairs.map {
            guard case .array(let p) = $0, p.count == 2, case .string(let a) = p[0], case .string(let b) = p[1] else {
                throw HalluError("Punkt parameters: a collocation is not a pair of strings")
            }
            return Collocation(a, b)
        })
        guard case .object(let ortho)? = json["ortho_context"] else { throw HalluError("Punkt parameters: \"ortho_context\" is not an object") }
        var context: [String: Int] = [:]
        context.reserveCapacity(ortho.count)
        for (type, flags) in ortho {
            guard case .int(let f) = flags else { throw HalluError("Punkt parameters: flags of \"\(type)\" are not an integer") }
            context[type] = f
        }
        orthographicContext = context
    }
}

/// NLTK's English models, decoded once from the copies embedded in the library.
enum NLTKEnglish {
    static let tagger: PerceptronTagger = load("averaged_perceptron_tagger", NLTKModelData.averagedPerceptronTagger,
                                               PerceptronTagger.init(json:))
    static let punkt: PunktParameters = load("punkt_english", NLTKModelData.punktEnglish, PunktParameters.init(json:))

    /// The gzip bytes of an embedded model.
    static func gzipBytes(_ base64: String) -> [UInt8] {
        [UInt8](Data(base64Encoded: base64, options: .ignoreUnknownCharacters) ?? Data())
    }

    /// The embedded data is part of the build and checked by the tests, so a failure here is a broken
    /// build, not bad input.
    private static func load<T>(_ name: String, _ base64: String, _ make: (OrderedJSON) throws -> T) -> T {
        do {
            let json = try EmbeddedGzip.decompress(gzipBytes(base64))
            return try make(try OrderedJSON.parse(Data(json), path: name))
        } catch {
            preconditionFailure("the embedded NLTK model \(name) is damaged (\(error)); rebuild with scripts/eval_embed_nltk.py")
        }
    }
}
