import Foundation

/// Everything that shapes a scene world. All defaults live here; JSON keys are snake_case as in
/// Hugging Face configs. The defaults are the settings measured to train in about five minutes on
/// two cores and still hallucinate the way LLaVA does (see docs/DATA.md).
public struct WorldConfig: Codable, Equatable, Sendable {
    /// Version of the generator's output format; bumped when the same config would give other bytes.
    public var formatVersion = 5
    /// Seed of every random choice. Same seed and config: same bytes on any machine.
    public var seed: UInt64 = 0
    /// Image side in pixels (32, 48 or 64; any multiple of `cell_size` from 3 cells up works).
    public var imageSize = 32
    /// Side of one grid cell, which is also the glyph size and the intended vision patch size.
    public var cellSize = 8
    /// How many categories, taken from the front of `WorldCatalog.categories`; ignored when
    /// `categories` is given.
    public var numCategories = 24
    /// Explicit COCO category names (overrides `num_categories`).
    public var categories: [String]? = nil
    /// How many scene types, taken from the front of `WorldCatalog.sceneTypes`.
    public var numSceneTypes = 8
    /// Explicit scene type names (overrides `num_scene_types`).
    public var sceneTypes: [String]? = nil
    /// Objects per image, drawn uniformly in this range, distinct categories.
    public var minObjects = 2
    public var maxObjects = 5
    /// Colour names objects may have (see `WorldCatalog.colors`).
    public var colors = ["red", "green", "blue", "yellow", "purple", "white"]
    /// Share of objects drawn large (a 2x2 block of cells, glyph doubled).
    public var largeObjectShare = 0.15
    /// Share of the objects that are not drawn large drawn "tiny": a solid block of their colour,
    /// half a cell wide, in the middle of their cell, with no glyph. The image shows that something
    /// of that colour is there but not what it is, as a small or distant object in a photo does; a
    /// model that names it guesses from the scene. Format 4 on; earlier formats have none.
    public var tinyObjectShare = 0.12
    /// Standard deviation of the pixel noise, as a fraction of the 0-255 range.
    public var noiseSigma = 0.05
    /// Strength of the scene texture, in 0-255 levels either side of the background.
    public var textureAmplitude = 10
    /// Scene prior: a typical object of rank r (0 = most typical) has weight
    /// `typical_weight / (1 + typical_rank_decay * r)`, every other object `other_weight`.
    public var typicalWeight = 6.0
    public var typicalRankDecay = 0.25
    public var otherWeight = 0.25
    /// Categories common in every scene type, most common first (COCO's "person", "chair", "car"):
    /// the category of rank r adds `ubiquitous_weight / (1 + typical_rank_decay * r)` to its weight
    /// in every scene and counts as typical everywhere (it may be an overly detailed description's
    /// extra mention in any scene). They are what POPE's popular split asks about. Format 4 on;
    /// the default list and weight are format 5's (format 4's defaults are none and 0).
    public var ubiquitous: [String] = ["person", "chair", "car", "cup"]
    public var ubiquitousWeight = 0.5
    /// Chance that a training description is "overly detailed", by object count from `min_objects`
    /// to `max_objects`. It falls with the count so that the model can see when to expect it.
    public var overDescriptionShare = [0.8, 0.6, 0.4, 0.2]
    /// How many undrawn, scene-typical objects an overly detailed description adds.
    public var extraMentionsMin = 1
    public var extraMentionsMax = 2
    /// Chance of saying "next to" instead of "to the left/right of" for side-by-side objects.
    public var nextToShare = 0.3
    /// Chance of naming an object by a CHAIR synonym ("sofa") instead of its COCO name.
    public var synonymShare = 0.0
    /// Yes/no questions per training image (half about drawn objects, half about absent ones).
    public var yesNoQuestionsPerImage = 4
    /// How the absent objects of training yes/no questions are drawn: "uniform" (any absent
    /// category, as in POPE's random split; the scene prior then answers most questions, and the
    /// model leans on it the way LLaVA leans on co-occurrence) or "scene_prior" (from the scene's
    /// prior, so every absent object is plausible and only glyph identity separates the answers).
    /// Format 1 worlds used "scene_prior".
    public var yesNoNegatives = "uniform"
    /// The accepted values of `yes_no_negatives`.
    public static let yesNoNegativeModes = ["uniform", "scene_prior"]
    /// How yes/no answers are worded: "object_first" ("A cup appears in the image." / "A cup does
    /// not appear in the image.": the word that decides comes right after the object's name, so a
    /// small model decides where it reads the object) or "sentence" ("Yes, there is a cup in the
    /// image." / "No, there is no cup in the image.": the decision comes first, several tokens after
    /// the object's name, and a model trained from scratch answers from the scene prior; see
    /// docs/RESULTS.md). Both read the same to POPE's scorer. Worlds before format 3 used "sentence".
    public var yesNoAnswers = "object_first"
    /// The accepted values of `yes_no_answers`.
    public static let yesNoAnswerStyles = ["object_first", "sentence"]
    /// Whether each training image also gets a one-sentence caption conversation.
    public var shortCaptions = true
    /// Relative rates of the hallucination types substituted into rejected descriptions.
    public var objectHallucinationRate = 0.5
    public var attributeHallucinationRate = 0.3
    public var relationHallucinationRate = 0.2
    /// Hallucinations substituted into each rejected description.
    public var hallucinationsMin = 1
    public var hallucinationsMax = 2
    /// Hallucinated descriptions per training image (`WorldImage.hallucinated`).
    public var hallucinatedPerImage = 2
    /// Share of the simulated answers to each training image's yes/no probe that are wrong
    /// (`WorldImage.probe`).
    public var probeWrongShare = 0.5
    /// Number of training and held-out images.
    public var trainImages = 6000
    public var evalImages = 500
    /// POPE: positives (and negatives) per image; images with fewer objects are left out.
    public var popeSampleNum = 3
    /// Minimum number of differing pixels between the glyphs of any two categories.
    public var glyphMinHamming = 24

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case formatVersion = "format_version", seed, imageSize = "image_size", cellSize = "cell_size"
        case numCategories = "num_categories", categories, numSceneTypes = "num_scene_types", sceneTypes = "scene_types"
        case minObjects = "min_objects", maxObjects = "max_objects", colors
        case largeObjectShare = "large_object_share", tinyObjectShare = "tiny_object_share", noiseSigma = "noise_sigma", textureAmplitude = "texture_amplitude"
        case typicalWeight = "typical_weight", typicalRankDecay = "typical_rank_decay", otherWeight = "other_weight"
        case ubiquitous, ubiquitousWeight = "ubiquitous_weight"
        case overDescriptionShare = "over_description_share"
        case extraMentionsMin = "extra_mentions_min", extraMentionsMax = "extra_mentions_max"
        case nextToShare = "next_to_share", synonymShare = "synonym_share"
        case yesNoQuestionsPerImage = "yes_no_questions_per_image", yesNoNegatives = "yes_no_negatives"
        case yesNoAnswers = "yes_no_answers", shortCaptions = "short_captions"
        case objectHallucinationRate = "object_hallucination_rate"
        case attributeHallucinationRate = "attribute_hallucination_rate"
        case relationHallucinationRate = "relation_hallucination_rate"
        case hallucinationsMin = "hallucinations_min", hallucinationsMax = "hallucinations_max"
        case hallucinatedPerImage = "hallucinated_per_image", probeWrongShare = "probe_wrong_share"
        case trainImages = "train_images", evalImages = "eval_images", popeSampleNum = "pope_sample_num"
        case glyphMinHamming = "glyph_min_hamming"
    }

    /// Missing keys keep their defaults, so a config file only needs the keys it changes.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = WorldConfig()
        func v<T: Decodable>(_ k: CodingKeys, _ def: T) throws -> T { try c.decodeIfPresent(T.self, forKey: k) ?? def }
        formatVersion = try v(.formatVersion, d.formatVersion)
        seed = try v(.seed, d.seed)
        imageSize = try v(.imageSize, d.imageSize)
        cellSize = try v(.cellSize, d.cellSize)
        numCategories = try v(.numCategories, d.numCategories)
        categories = try c.decodeIfPresent([String].self, forKey: .categories)
        numSceneTypes = try v(.numSceneTypes, d.numSceneTypes)
        sceneTypes = try c.decodeIfPresent([String].self, forKey: .sceneTypes)
        minObjects = try v(.minObjects, d.minObjects)
        maxObjects = try v(.maxObjects, d.maxObjects)
        colors = try v(.colors, d.colors)
        largeObjectShare = try v(.largeObjectShare, d.largeObjectShare)
        tinyObjectShare = try v(.tinyObjectShare, formatVersion < 4 ? 0 : d.tinyObjectShare)
        noiseSigma = try v(.noiseSigma, d.noiseSigma)
        textureAmplitude = try v(.textureAmplitude, d.textureAmplitude)
        typicalWeight = try v(.typicalWeight, d.typicalWeight)
        typicalRankDecay = try v(.typicalRankDecay, d.typicalRankDecay)
        otherWeight = try v(.otherWeight, d.otherWeight)
        ubiquitous = try v(.ubiquitous, formatVersion < 5 ? [] : d.ubiquitous)
        ubiquitousWeight = try v(.ubiquitousWeight, formatVersion < 5 ? 0 : d.ubiquitousWeight)
        overDescriptionShare = try v(.overDescriptionShare, d.overDescriptionShare)
        extraMentionsMin = try v(.extraMentionsMin, d.extraMentionsMin)
        extraMentionsMax = try v(.extraMentionsMax, d.extraMentionsMax)
        nextToShare = try v(.nextToShare, d.nextToShare)
        synonymShare = try v(.synonymShare, d.synonymShare)
        yesNoQuestionsPerImage = try v(.yesNoQuestionsPerImage, d.yesNoQuestionsPerImage)
        // A format 1 world.json has no such key and was generated with scene-prior negatives.
        yesNoNegatives = try v(.yesNoNegatives, formatVersion == 1 ? "scene_prior" : d.yesNoNegatives)
        yesNoAnswers = try v(.yesNoAnswers, formatVersion < 3 ? "sentence" : d.yesNoAnswers)
        shortCaptions = try v(.shortCaptions, d.shortCaptions)
        objectHallucinationRate = try v(.objectHallucinationRate, d.objectHallucinationRate)
        attributeHallucinationRate = try v(.attributeHallucinationRate, d.attributeHallucinationRate)
        relationHallucinationRate = try v(.relationHallucinationRate, d.relationHallucinationRate)
        hallucinationsMin = try v(.hallucinationsMin, d.hallucinationsMin)
        hallucinationsMax = try v(.hallucinationsMax, d.hallucinationsMax)
        hallucinatedPerImage = try v(.hallucinatedPerImage, d.hallucinatedPerImage)
        probeWrongShare = try v(.probeWrongShare, d.probeWrongShare)
        trainImages = try v(.trainImages, d.trainImages)
        evalImages = try v(.evalImages, d.evalImages)
        popeSampleNum = try v(.popeSampleNum, d.popeSampleNum)
        glyphMinHamming = try v(.glyphMinHamming, d.glyphMinHamming)
    }

    /// Parses a JSON config; unknown keys and wrong types are errors that name the key.
    public static func decode(_ data: Data, path: String = "<config>") throws -> WorldConfig {
        let any: Any
        do { any = try JSONSerialization.jsonObject(with: data) } catch {
            throw HalluError.file(path, "malformed JSON: \(JSONFiles.describe(error))")
        }
        guard let dict = any as? [String: Any] else { throw HalluError.file(path, "a world config must be a JSON object") }
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let bad = dict.keys.sorted().first(where: { !known.contains($0) }) {
            throw HalluError.file(path, "unknown world config key \"\(bad)\" (known: \(known.sorted().joined(separator: ", ")))")
        }
        let config: WorldConfig
        do { config = try JSONDecoder().decode(WorldConfig.self, from: data) } catch let e as DecodingError {
            throw HalluError.file(path, describe(e))
        }
        try config.validate(path: path)
        return config
    }

    /// Reads a config file.
    public static func load(_ path: String) throws -> WorldConfig {
        try decode(try JSONFiles.readData(path), path: path)
    }

    /// Sets one key from text (`--set key=value` on the command line): the value is read as JSON
    /// when it parses as JSON, else as a string.
    public mutating func set(_ key: String, _ value: String) throws {
        guard CodingKeys(rawValue: key) != nil else {
            throw HalluError("unknown world config key \"\(key)\" (known: \(CodingKeys.allCases.map(\.rawValue).sorted().joined(separator: ", ")))")
        }
        let encoded = try JSONEncoder().encode(self)
        guard var dict = try JSONSerialization.jsonObject(with: encoded) as? [String: Any] else {
            throw HalluError("could not re-encode the world config")
        }
        if let parsed = try? JSONSerialization.jsonObject(with: Data(value.utf8), options: [.fragmentsAllowed]) {
            dict[key] = parsed
        } else {
            dict[key] = value
        }
        let data = try JSONSerialization.data(withJSONObject: dict)
        self = try Self.decode(data, path: "--set \(key)")
    }

    /// Checks ranges and names, naming the offending key.
    public func validate(path: String = "<config>") throws {
        func fail(_ key: CodingKeys, _ msg: String) -> HalluError { HalluError.file(path, "\"\(key.rawValue)\": \(msg)") }
        guard seed <= UInt64(Int.max) else { throw fail(.seed, "must be below 2^63") }
        guard (1...5).contains(formatVersion) else {
            throw fail(.formatVersion, "this build reads and writes formats 1 to 5, got \(formatVersion)")
        }
        guard cellSize >= 4 else { throw fail(.cellSize, "must be at least 4") }
        guard imageSize % cellSize == 0, imageSize / cellSize >= 3 else {
            throw fail(.imageSize, "must be a multiple of cell_size (\(cellSize)) with at least 3 cells, got \(imageSize)")
        }
        guard imageSize <= 1024 else { throw fail(.imageSize, "at most 1024") }
        if let cats = categories {
            guard cats.count >= 2 else { throw fail(.categories, "needs at least 2 categories") }
            if let bad = cats.first(where: { WorldCatalog.category(named: $0) == nil }) {
                throw fail(.categories, "\"\(bad)\" is not a COCO category")
            }
            guard Set(cats).count == cats.count else { throw fail(.categories, "has duplicates") }
        } else {
            guard (2...WorldCatalog.categories.count).contains(numCategories) else {
                throw fail(.numCategories, "must be 2...\(WorldCatalog.categories.count)")
            }
        }
        if let scenes = sceneTypes {
            guard !scenes.isEmpty else { throw fail(.sceneTypes, "needs at least 1 scene type") }
            if let bad = scenes.first(where: { WorldCatalog.sceneType(named: $0) == nil }) {
                throw fail(.sceneTypes, "\"\(bad)\" is not a scene type (known: \(WorldCatalog.sceneTypes.map(\.name).joined(separator: ", ")))")
            }
            guard Set(scenes).count == scenes.count else { throw fail(.sceneTypes, "has duplicates") }
        } else {
            guard (1...WorldCatalog.sceneTypes.count).contains(numSceneTypes) else {
                throw fail(.numSceneTypes, "must be 1...\(WorldCatalog.sceneTypes.count)")
            }
        }
        let nCats = categories?.count ?? numCategories
        let cells = (imageSize / cellSize) * (imageSize / cellSize)
        guard minObjects >= 1, minObjects <= maxObjects else { throw fail(.minObjects, "need 1 <= min_objects <= max_objects") }
        guard maxObjects <= min(nCats - 1, cells / 2) else {
            throw fail(.maxObjects, "at most \(min(nCats - 1, cells / 2)) for \(nCats) categories and \(cells) cells")
        }
        guard !colors.isEmpty, Set(colors).count == colors.count else { throw fail(.colors, "needs distinct colour names") }
        if let bad = colors.first(where: { name in !WorldCatalog.colors.contains { $0.name == name } }) {
            throw fail(.colors, "unknown colour \"\(bad)\" (known: \(WorldCatalog.colors.map(\.name).joined(separator: ", ")))")
        }
        for (k, p) in [(CodingKeys.largeObjectShare, largeObjectShare), (.tinyObjectShare, tinyObjectShare), (.nextToShare, nextToShare),
                       (.synonymShare, synonymShare), (.probeWrongShare, probeWrongShare)] {
            guard p >= 0, p <= 1 else { throw fail(k, "must be in [0, 1], got \(p)") }
        }
        guard noiseSigma >= 0, noiseSigma <= 1 else { throw fail(.noiseSigma, "must be in [0, 1]") }
        guard (0...100).contains(textureAmplitude) else { throw fail(.textureAmplitude, "must be 0...100") }
        guard typicalWeight >= 0, otherWeight >= 0, typicalRankDecay >= 0, typicalWeight + otherWeight > 0 else {
            throw fail(.typicalWeight, "scene prior weights must be non-negative and not all zero")
        }
        guard ubiquitousWeight >= 0 else { throw fail(.ubiquitousWeight, "must be non-negative") }
        guard formatVersion >= 4 || (ubiquitous.isEmpty && ubiquitousWeight == 0) else {
            throw fail(.ubiquitous, "needs format_version 4 or later")
        }
        guard formatVersion >= 4 || tinyObjectShare == 0 else { throw fail(.tinyObjectShare, "needs format_version 4 or later") }
        guard Set(ubiquitous).count == ubiquitous.count else { throw fail(.ubiquitous, "has duplicates") }
        let names = Set(resolvedCategories.map(\.name))
        if let bad = ubiquitous.first(where: { !names.contains($0) }) {
            throw fail(.ubiquitous, "\"\(bad)\" is not one of the world's categories")
        }
        guard overDescriptionShare.count == maxObjects - minObjects + 1 else {
            throw fail(.overDescriptionShare, "needs one share per object count \(minObjects)...\(maxObjects) (\(maxObjects - minObjects + 1) values), got \(overDescriptionShare.count)")
        }
        guard overDescriptionShare.allSatisfy({ $0 >= 0 && $0 <= 1 }) else { throw fail(.overDescriptionShare, "shares must be in [0, 1]") }
        guard extraMentionsMin >= 1, extraMentionsMin <= extraMentionsMax else {
            throw fail(.extraMentionsMin, "need 1 <= extra_mentions_min <= extra_mentions_max")
        }
        guard yesNoQuestionsPerImage >= 0 else { throw fail(.yesNoQuestionsPerImage, "must be >= 0") }
        guard Self.yesNoNegativeModes.contains(yesNoNegatives) else {
            throw fail(.yesNoNegatives, "must be one of \(Self.yesNoNegativeModes.joined(separator: ", ")), got \"\(yesNoNegatives)\"")
        }
        guard Self.yesNoAnswerStyles.contains(yesNoAnswers) else {
            throw fail(.yesNoAnswers, "must be one of \(Self.yesNoAnswerStyles.joined(separator: ", ")), got \"\(yesNoAnswers)\"")
        }
        let rates = [objectHallucinationRate, attributeHallucinationRate, relationHallucinationRate]
        guard rates.allSatisfy({ $0 >= 0 }), rates.reduce(0, +) > 0 else {
            throw fail(.objectHallucinationRate, "hallucination rates must be non-negative and not all zero")
        }
        guard hallucinationsMin >= 1, hallucinationsMin <= hallucinationsMax, hallucinationsMax <= 3 else {
            throw fail(.hallucinationsMin, "need 1 <= hallucinations_min <= hallucinations_max <= 3")
        }
        guard hallucinatedPerImage >= 1 else { throw fail(.hallucinatedPerImage, "must be >= 1") }
        guard trainImages >= 1, evalImages >= 1, trainImages + evalImages <= 10_000_000 else {
            throw fail(.trainImages, "need at least 1 train and 1 eval image (and at most 10 million in all)")
        }
        guard popeSampleNum >= 1, popeSampleNum <= maxObjects else { throw fail(.popeSampleNum, "must be 1...max_objects") }
        guard (0...40).contains(glyphMinHamming) else { throw fail(.glyphMinHamming, "must be 0...40") }
    }

    /// The category set in use.
    public var resolvedCategories: [ObjectCategory] {
        (categories ?? WorldCatalog.categories.prefix(numCategories).map(\.name)).compactMap(WorldCatalog.category(named:))
    }

    /// The scene types in use.
    public var resolvedSceneTypes: [SceneType] {
        (sceneTypes ?? WorldCatalog.sceneTypes.prefix(numSceneTypes).map(\.name)).compactMap(WorldCatalog.sceneType(named:))
    }

    /// The config with categories and scene types spelled out, as written to world.json.
    public var resolved: WorldConfig {
        var c = self
        c.categories = resolvedCategories.map(\.name)
        c.sceneTypes = resolvedSceneTypes.map(\.name)
        return c
    }

    /// Deterministic JSON (keys in declaration order, fixed number format).
    public func json() -> OrderedJSON {
        func n(_ d: Double) -> OrderedJSON { .number(d) }
        var kv: [(String, OrderedJSON)] = [
            ("format_version", .int(formatVersion)), ("seed", .int(Int(truncatingIfNeeded: seed))),
            ("image_size", .int(imageSize)), ("cell_size", .int(cellSize)), ("num_categories", .int(numCategories)),
        ]
        kv.append(("categories", categories.map(OrderedJSON.strings) ?? .null))
        kv += [("num_scene_types", .int(numSceneTypes)), ("scene_types", sceneTypes.map(OrderedJSON.strings) ?? .null),
               ("min_objects", .int(minObjects)), ("max_objects", .int(maxObjects)), ("colors", .strings(colors)),
               ("large_object_share", n(largeObjectShare))]
        if formatVersion >= 4 { kv.append(("tiny_object_share", n(tinyObjectShare))) }
        kv += [("noise_sigma", n(noiseSigma)),
               ("texture_amplitude", .int(textureAmplitude)), ("typical_weight", n(typicalWeight)),
               ("typical_rank_decay", n(typicalRankDecay)), ("other_weight", n(otherWeight))]
        if formatVersion >= 4 { kv += [("ubiquitous", .strings(ubiquitous)), ("ubiquitous_weight", n(ubiquitousWeight))] }
        kv += [("over_description_share", .array(overDescriptionShare.map(n))),
               ("extra_mentions_min", .int(extraMentionsMin)), ("extra_mentions_max", .int(extraMentionsMax)),
               ("next_to_share", n(nextToShare)), ("synonym_share", n(synonymShare)),
               ("yes_no_questions_per_image", .int(yesNoQuestionsPerImage))]
        // Older formats had no choice here; their world.json keeps its exact bytes.
        if formatVersion >= 2 { kv.append(("yes_no_negatives", .string(yesNoNegatives))) }
        if formatVersion >= 3 { kv.append(("yes_no_answers", .string(yesNoAnswers))) }
        kv += [("short_captions", .bool(shortCaptions)),
               ("object_hallucination_rate", n(objectHallucinationRate)),
               ("attribute_hallucination_rate", n(attributeHallucinationRate)),
               ("relation_hallucination_rate", n(relationHallucinationRate)),
               ("hallucinations_min", .int(hallucinationsMin)), ("hallucinations_max", .int(hallucinationsMax)),
               ("hallucinated_per_image", .int(hallucinatedPerImage)), ("probe_wrong_share", n(probeWrongShare)),
               ("train_images", .int(trainImages)), ("eval_images", .int(evalImages)),
               ("pope_sample_num", .int(popeSampleNum)), ("glyph_min_hamming", .int(glyphMinHamming))]
        return .object(kv)
    }

    private static func describe(_ e: DecodingError) -> String {
        func keyPath(_ ctx: DecodingError.Context) -> String { ctx.codingPath.map(\.stringValue).joined(separator: ".") }
        switch e {
        case .typeMismatch(let t, let ctx): return "\"\(keyPath(ctx))\": expected \(t)"
        case .valueNotFound(let t, let ctx): return "\"\(keyPath(ctx))\": expected \(t), found null"
        case .keyNotFound(let k, _): return "missing required key \"\(k.stringValue)\""
        case .dataCorrupted(let ctx): return "\"\(keyPath(ctx))\": \(ctx.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}
