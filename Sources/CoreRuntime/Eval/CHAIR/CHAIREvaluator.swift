import Foundation

/// A caption to score: the image it describes and the text.
public struct CHAIRCaption: Sendable {
    /// Image id in any spelling `ImageID` understands.
    public var imageId: String
    public var text: String

    public init(imageId: String, text: String) {
        self.imageId = imageId
        self.text = text
    }
}

/// Per-caption CHAIR detail.
public struct CHAIRCaptionResult: Codable, Equatable, Sendable {
    public var imageId: String
    public var caption: String
    /// Tokens after lemmatisation and double-word merging (their count is the caption's length).
    public var words: [String]
    /// Every object mention, in order.
    public var mentions: [CHAIRMention]
    /// Mentions whose node word is not in the image's ground truth.
    public var hallucinated: [CHAIRMention]
    /// The image's ground-truth node words (sorted).
    public var groundTruth: [String]
    /// Ground-truth node words the caption mentions (sorted).
    public var recalled: [String]
    /// False when the image id is not in the ground truth (then every mention is hallucinated).
    public var knownImage: Bool

    enum CodingKeys: String, CodingKey {
        case imageId = "image_id", caption, words, mentions, hallucinated
        case groundTruth = "gt_objects", recalled, knownImage = "known_image"
    }
}

/// CHAIR scores over a set of captions (fractions in [0, 1]). Encodes to the CLI contract
/// `{"CHAIRs", "CHAIRi", "recall", "len", "n", ...}`; per-caption detail is in `captions`, which is
/// not part of the encoding (write it with `CHAIRReport.detailsJSON`).
public struct CHAIRReport: Codable, Equatable, Sendable {
    /// Share of captions with at least one hallucinated mention.
    public var chairS: Double
    /// Hallucinated mentions / all mentions, over all captions.
    public var chairI: Double
    /// Ground-truth objects mentioned / ground-truth objects, summed over captions.
    public var recall: Double
    /// Mean tokens per caption as chair.py counts them (punctuation included, double words as one).
    public var len: Double
    /// Number of captions.
    public var n: Int
    public var mentions: Int
    public var hallucinatedMentions: Int
    public var hallucinatedCaptions: Int
    public var recalledObjects: Int
    public var groundTruthObjects: Int
    /// Captions whose image id is not in the ground truth.
    public var unknownImages: Int
    /// A few of those ids, to help find a key or id-format mismatch.
    public var unknownImageExamples: [String]
    /// Distinct images scored. CHAIR depends on the images: compare two results only when they scored
    /// the same set (same `imageIdsSHA256`).
    public var images: Int?
    /// SHA-256 of the distinct image ids (canonical form, e.g. "2239"), sorted byte-wise, each followed
    /// by a newline: `printf '%s\n' IDS | LC_ALL=C sort -u | sha256sum`.
    public var imageIdsSHA256: String?
    /// Words and sentences per caption (CHAIR grows with length).
    public var length: ResponseLength?
    /// Per-caption detail, in input order.
    public var captions: [CHAIRCaptionResult] = []

    enum CodingKeys: String, CodingKey {
        case chairS = "CHAIRs", chairI = "CHAIRi", recall, len, n, mentions
        case hallucinatedMentions = "hallucinated_mentions", hallucinatedCaptions = "hallucinated_captions"
        case recalledObjects = "recalled_objects", groundTruthObjects = "gt_objects"
        case unknownImages = "unknown_images", unknownImageExamples = "unknown_image_examples"
        case images, imageIdsSHA256 = "image_ids_sha256", length
    }

    /// The digest of a set of image ids as `imageIdsSHA256` defines it.
    public static func imageIdsDigest<S: Sequence>(_ ids: S) -> String where S.Element == String {
        let sorted = Set(ids).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return SHA256.hex(sorted.map { $0 + "\n" }.joined())
    }

    /// The per-caption detail as pretty JSON.
    public func detailsJSON() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(captions)
    }
}

/// Scores captions against ground-truth object sets with the CHAIR metrics of chair.py
/// (micro CHAIRi, CHAIRs, recall and length).
public final class CHAIREvaluator {
    public let groundTruth: CHAIRGroundTruth
    public let parser: CaptionParser

    public init(groundTruth: CHAIRGroundTruth, parser: CaptionParser = CaptionParser()) {
        self.groundTruth = groundTruth
        self.parser = parser
    }

    /// Scores one caption.
    public func score(_ caption: CHAIRCaption) -> CHAIRCaptionResult {
        let key = ImageID.canonical(string: caption.imageId)
        let gt = groundTruth.objects[key]
        let objects = gt ?? []
        let parse = parser.parse(caption.text)
        let hallucinated = parse.mentions.filter { !objects.contains($0.node) }
        let recalled = Set(parse.mentions.map(\.node)).intersection(objects)
        return CHAIRCaptionResult(imageId: key, caption: caption.text, words: parse.words,
                                  mentions: parse.mentions, hallucinated: hallucinated,
                                  groundTruth: objects.sorted(), recalled: recalled.sorted(),
                                  knownImage: gt != nil)
    }

    /// Scores every caption and aggregates (micro averages, as chair.py).
    public func evaluate(captions: [CHAIRCaption]) -> CHAIRReport {
        var report = CHAIRReport(chairS: 0, chairI: 0, recall: 0, len: 0, n: captions.count, mentions: 0,
                                 hallucinatedMentions: 0, hallucinatedCaptions: 0, recalledObjects: 0,
                                 groundTruthObjects: 0, unknownImages: 0, unknownImageExamples: [])
        var tokens = 0
        for caption in captions {
            let r = score(caption)
            report.mentions += r.mentions.count
            report.hallucinatedMentions += r.hallucinated.count
            if !r.hallucinated.isEmpty { report.hallucinatedCaptions += 1 }
            report.recalledObjects += r.recalled.count
            report.groundTruthObjects += r.groundTruth.count
            tokens += r.words.count
            if !r.knownImage {
                report.unknownImages += 1
                if report.unknownImageExamples.count < 10 { report.unknownImageExamples.append(r.imageId) }
            }
            report.captions.append(r)
        }
        func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
        report.chairS = ratio(report.hallucinatedCaptions, report.n)
        report.chairI = ratio(report.hallucinatedMentions, report.mentions)
        report.recall = ratio(report.recalledObjects, report.groundTruthObjects)
        report.len = ratio(tokens, report.n)
        let ids = report.captions.map(\.imageId)
        report.images = Set(ids).count
        report.imageIdsSHA256 = CHAIRReport.imageIdsDigest(ids)
        report.length = ResponseLength.of(captions.map(\.text), punkt: parser.punkt)
        return report
    }
}
