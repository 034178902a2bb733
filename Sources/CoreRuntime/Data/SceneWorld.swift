import Foundation

/// One image of a generated world and everything generated for it: what the core writes (scenes,
/// conversations, evaluation files) and the hallucination material that world exports (plugins)
/// derive their papers' training files from.
public struct WorldImage {
    public internal(set) var scene: WorldScene
    /// Relative to the world folder, e.g. "images/train/000042.png".
    public internal(set) var imagePath: String
    public internal(set) var cellSize: Int
    // Training text (train split only).
    public internal(set) var detailPrompt = ""
    /// The SFT description (possibly overly detailed).
    public internal(set) var description = WorldDescription(sentences: [])
    public internal(set) var overDetailed = false
    public internal(set) var captionPrompt = ""
    public internal(set) var caption = ""
    public internal(set) var questions: [(q: String, a: String)] = []
    // Hallucination material (train split only).
    /// A faithful description built from the same clauses as `hallucinated`.
    public internal(set) var faithful = WorldDescription(sentences: [])
    /// Descriptions with hallucinations substituted into `faithful` (`hallucinated_per_image`, fewer
    /// only when substitutions run out).
    public internal(set) var hallucinated: [HallucinatedDescription] = []
    /// A yes/no question about a drawn or an absent object, answered by a simulated model that errs
    /// with `probe_wrong_share`.
    public internal(set) var probe: (object: String, present: Bool, answeredRightly: Bool) = ("", true, true)
    /// The short caption with one object renamed or one colour changed, and what was substituted.
    public internal(set) var hallucinatedCaption = ""
    public internal(set) var hallucinatedCaptionLabel = SentenceLabel(type: .object, severity: 0, reason: "")

    /// The image file's name without extension, e.g. "000042".
    public var name: String { ((imagePath as NSString).lastPathComponent as NSString).deletingPathExtension }
}

/// A generated world as world exports see it.
public struct GeneratedWorld {
    /// The resolved config (as written to world.json).
    public let config: WorldConfig
    public let writer: WorldWriter
    /// Every image, train first, then eval.
    public let images: [WorldImage]
    public var train: [WorldImage] { images.filter { $0.scene.split == .train } }
    public var eval: [WorldImage] { images.filter { $0.scene.split == .eval } }
}

/// A plugin's part of exporting a scene world: the training files it derives from the generated
/// images, in its paper's formats. The world generator itself writes only what every method shares
/// (scenes and ground truth, conversations, evaluation files); exports are run after it, each file
/// written atomically, and world.json last.
public struct WorldExport {
    /// A name for messages.
    public let name: String
    /// The files it writes, relative to the world folder.
    public let files: [String]
    /// The text of each of `files`.
    public let make: (_ world: GeneratedWorld) throws -> [String: String]

    public init(name: String, files: [String], make: @escaping (_ world: GeneratedWorld) throws -> [String: String]) {
        self.name = name; self.files = files; self.make = make
    }
}

/// The procedural scene world: generation, and export of the scenes, their ground truth, the
/// conversations and the evaluation files; world exports add their formats' training files. See
/// docs/DATA.md for the folder layout and every file's schema.
public enum SceneWorld {
    /// Names of the files `synth` writes (besides images/).
    public enum Files {
        public static let scenes = "scenes.jsonl"
        public static let llava = "llava_train.json"
        public static let chairPrompts = "chair_prompts.jsonl"
        public static let chairGT = "chair_gt_objects.json"
        public static func pope(_ s: POPEStrategy) -> String { "pope_\(s.rawValue).jsonl" }
        public static let shrFacts = "shr_facts.jsonl"
        /// Written last: its presence marks a complete export.
        public static let world = "world.json"
        public static let trainImages = "images/train"
        public static let evalImages = "images/eval"
    }

    /// What `synth` did.
    public struct SynthSummary: Codable, Sendable {
        public var outDir: String
        public var trainImages: Int
        public var evalImages: Int
        public var seconds: Double
        public var files: [String]
    }

    // Random streams: one per purpose and split, indexed by image number within the split.
    enum Stream: UInt64 { case scene = 1, render = 2, text = 3, pope = 4 }
    static func rng(_ config: WorldConfig, _ s: Stream, _ split: WorldSplit, _ index: Int) -> WorldRNG {
        WorldRNG(seed: config.seed, stream: s.rawValue << 8 | (split == .train ? 0 : 1), index: UInt64(index))
    }

    /// Generates the world described by `config` and writes it to `outDir` (created if needed), with
    /// the files of `exports`. An existing folder must be empty or hold a previous world (world.json),
    /// whose images are replaced.
    @discardableResult
    public static func synth(config: WorldConfig, outDir: URL, exports: [WorldExport] = []) throws -> SynthSummary {
        let start = Date()
        try config.validate()
        let fm = FileManager.default
        try prepare(outDir, exports: exports)
        let world = try WorldModel(config: config)
        let total = config.trainImages + config.evalImages
        let digits = max(6, String(total - 1).count)
        var results = [WorldImage?](repeating: nil, count: total)
        let lock = NSLock()
        var firstError: Error?
        for dir in [Files.trainImages, Files.evalImages] {
            try fm.createDirectory(at: outDir.appendingPathComponent(dir), withIntermediateDirectories: true)
        }
        let chunk = 64
        results.withUnsafeMutableBufferPointer { buf in
            DispatchQueue.concurrentPerform(iterations: (total + chunk - 1) / chunk) { c in
                for i in (c * chunk)..<min(total, (c + 1) * chunk) {
                    do {
                        let (g, png) = try generate(world: world, index: i, digits: digits)
                        try writeReplacing(png, to: outDir.path + "/" + g.imagePath)
                        buf[i] = g
                    } catch {
                        lock.lock(); if firstError == nil { firstError = error }; lock.unlock()
                        return
                    }
                }
            }
        }
        if let firstError { throw firstError }
        let images = results.compactMap { $0 }
        let train = images.filter { $0.scene.split == .train }
        let eval = images.filter { $0.scene.split == .eval }
        var written: [String] = []
        func put(_ name: String, _ text: String) throws {
            try AtomicFile.write(text, to: outDir.appendingPathComponent(name))
            written.append(name)
        }
        try put(Files.scenes, OrderedJSON.linesText(images.map(WorldRecords.scene)))
        try put(Files.llava, OrderedJSON.listText(train.flatMap(WorldRecords.conversations)))
        try put(Files.chairPrompts, OrderedJSON.linesText(eval.enumerated().map { WorldRecords.chairPrompt($0.offset, $0.element) }))
        try put(Files.chairGT, OrderedJSON.objectLinesText(eval.map(WorldRecords.chairGT)))
        let builder = POPEBuilder(images: eval.map { ($0.imagePath, $0.scene.categories) }, sampleNum: config.popeSampleNum)
        for (k, strategy) in POPEStrategy.allCases.enumerated() {
            var r = rng(config, .pope, .eval, k)
            try put(Files.pope(strategy), OrderedJSON.linesText(try builder.build(strategy, rng: &r).map(WorldRecords.pope)))
        }
        let writer = WorldWriter(world: world)
        try put(Files.shrFacts, OrderedJSON.linesText(eval.map { WorldRecords.shr($0, writer: writer) }))
        let generated = GeneratedWorld(config: config.resolved, writer: writer, images: images)
        for export in exports {
            let texts = try export.make(generated)
            for file in export.files {
                guard let text = texts[file] else { throw HalluError("world export \(export.name) made no \(file)") }
                try put(file, text)
            }
        }
        try put(Files.world, config.resolved.json().pretty() + "\n")
        return SynthSummary(outDir: outDir.path, trainImages: train.count, evalImages: eval.count,
                            seconds: Date().timeIntervalSince(start), files: written)
    }

    /// Writes a file through a temporary name and a rename, like `AtomicFile`, but without an fsync
    /// per file: thousands of small images would otherwise wait on the disk thousands of times.
    /// world.json, written last through `AtomicFile`, is what marks an export complete.
    static func writeReplacing(_ data: Data, to path: String) throws {
        let tmp = path + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw HalluError.file(path, "cannot create file (errno \(errno))") }
        let ok = data.withUnsafeBytes { buf -> Bool in
            var off = 0
            while off < buf.count {
                let n = write(fd, buf.baseAddress! + off, buf.count - off)
                if n <= 0 { return false }
                off += n
            }
            return true
        }
        let closed = close(fd) == 0
        guard ok, closed, rename(tmp, path) == 0 else {
            unlink(tmp)
            throw HalluError.file(path, "could not write file (errno \(errno))")
        }
    }

    /// Returns `outDir` holding the world of `config`: reused when its world.json matches the config
    /// (a complete earlier export), generated otherwise. This is how the embedded default data is
    /// made once and cached.
    @discardableResult
    public static func cached(config: WorldConfig, outDir: URL, exports: [WorldExport] = []) throws -> URL {
        if isComplete(outDir, config: config, exports: exports) { return outDir }
        try synth(config: config, outDir: outDir, exports: exports)
        return outDir
    }

    /// Whether `outDir` holds the world of `config` (its world.json) with every file of `exports`.
    public static func isComplete(_ outDir: URL, config: WorldConfig, exports: [WorldExport]) -> Bool {
        let world = outDir.appendingPathComponent(Files.world).path
        guard FileManager.default.fileExists(atPath: world), let existing = try? WorldConfig.load(world), existing == config.resolved else {
            return false
        }
        return exports.flatMap(\.files).allSatisfy { FileManager.default.fileExists(atPath: outDir.appendingPathComponent($0).path) }
    }

    /// Refuses to write into a folder that holds something other than a scene world, and clears
    /// the images of a previous world so none are left over from a larger one.
    static func prepare(_ outDir: URL, exports: [WorldExport]) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: outDir.path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw HalluError.file(outDir.path, "exists and is not a folder") }
            let contents = try fm.contentsOfDirectory(atPath: outDir.path).filter { !$0.hasPrefix(".") }
            // Only our own names (possibly from an interrupted export) may be replaced.
            let ours = Set<String>([Files.scenes, Files.llava, Files.chairPrompts, Files.chairGT, Files.shrFacts, Files.world, "images"]
                                   + POPEStrategy.allCases.map(Files.pope) + exports.flatMap(\.files))
            if !contents.isEmpty {
                guard contents.contains(Files.world) || contents.allSatisfy(ours.contains) else {
                    throw HalluError.file(outDir.path, "folder is not empty and holds no scene world (\(Files.world)); choose an empty or new folder")
                }
                try? fm.removeItem(at: outDir.appendingPathComponent(Files.world))
                for dir in [Files.trainImages, Files.evalImages] {
                    try? fm.removeItem(at: outDir.appendingPathComponent(dir))
                }
            }
        }
        try fm.createDirectory(at: outDir, withIntermediateDirectories: true)
    }

    /// Generates image `index` (train images first, then eval) and its PNG bytes.
    static func generate(world: WorldModel, index: Int, digits: Int) throws -> (WorldImage, Data) {
        let c = world.config
        let split: WorldSplit = index < c.trainImages ? .train : .eval
        let local = split == .train ? index : index - c.trainImages
        var sceneRNG = rng(c, .scene, split, local)
        let scene = world.sampleScene(id: index, split: split, rng: &sceneRNG)
        var renderRNG = rng(c, .render, split, local)
        let image = WorldRenderer(world: world).render(scene, rng: &renderRNG)
        let png = try PNGCodec.encode(image, compression: .stored)
        let name = String(repeating: "0", count: max(0, digits - String(index).count)) + String(index)
        let path = (split == .train ? Files.trainImages : Files.evalImages) + "/\(name).png"
        var g = WorldImage(scene: scene, imagePath: path, cellSize: c.cellSize)
        var r = rng(c, .text, split, local)
        let writer = WorldWriter(world: world)
        if split == .eval {
            g.description = writer.description(scene, overDetailed: false, rng: &r)
            return (g, png)
        }
        let hallucinator = WorldHallucinator(writer: writer)
        // SFT description (possibly overly detailed).
        g.detailPrompt = r.pick(WorldWriter.detailPrompts)
        g.overDetailed = writer.isOverDetailed(scene, rng: &r)
        g.description = writer.description(scene, overDetailed: g.overDetailed, rng: &r)
        // Short caption.
        let words = writer.objectWords(scene, rng: &r)
        g.captionPrompt = r.pick(WorldWriter.captionPrompts)
        g.caption = writer.caption(scene, objects: scene.objects.enumerated().map { ($1.color, $1.large, words[$0] ?? $1.category) })
        // Yes/no questions: half about drawn objects, half about absent ones (see
        // `WorldConfig.yesNoNegatives` for why uniform is the default).
        let nYes = (c.yesNoQuestionsPerImage + 1) / 2, nNo = c.yesNoQuestionsPerImage / 2
        let s = world.sceneIndex(scene.sceneType) ?? 0
        var qs: [(String, String)] = []
        var present = Array(scene.objects.indices)
        r.shuffle(&present)
        for i in present.prefix(nYes) {
            let w = writer.word(scene.objects[i].category, rng: &r)
            qs.append((WorldWriter.question(w), WorldWriter.answer(w, yes: true, style: c.yesNoAnswers)))
        }
        let absentWeights = c.yesNoNegatives == "scene_prior" ? world.weights(scene: s, excluding: scene.categories)
            : world.categories.map { scene.categories.contains($0.name) ? 0.0 : 1.0 }
        for k in r.weightedSample(absentWeights, count: nNo) {
            let w = writer.word(world.categories[k].name, rng: &r)
            qs.append((WorldWriter.question(w), WorldWriter.answer(w, yes: false, style: c.yesNoAnswers)))
        }
        r.shuffle(&qs)
        g.questions = qs.map { (q: $0.0, a: $0.1) }
        // The faithful and the hallucinated descriptions share one set of clauses, so they differ only
        // where something was substituted.
        let clauses = writer.clauses(scene, rng: &r)
        let pairWords = writer.objectWords(scene, rng: &r)
        g.faithful = WorldDescription(sentences: [writer.intro(scene)] + writer.sentences(clauses, words: pairWords))
        var seen: Set<String> = [g.faithful.text]
        for _ in 0..<(c.hallucinatedPerImage * 4) where g.hallucinated.count < c.hallucinatedPerImage {
            let h = hallucinator.rejected(scene, clauses: clauses, words: pairWords, rng: &r)
            if seen.insert(h.description.text).inserted { g.hallucinated.append(h) }
        }
        // The yes/no probe: a drawn or an absent (scene-typical) object, answered wrongly with
        // `probe_wrong_share`.
        let askPresent = r.chance(0.5)
        let obj = askPresent ? scene.objects[r.below(scene.objects.count)].category
                             : world.categories[r.weightedIndex(world.weights(scene: s, excluding: scene.categories))].name
        g.probe = (obj, askPresent, !r.chance(c.probeWrongShare))
        // The hallucinated caption.
        let (hcap, hlabel) = hallucinator.hallucinatedCaption(scene, words: words, rng: &r)
        g.hallucinatedCaption = hcap
        g.hallucinatedCaptionLabel = hlabel
        return (g, png)
    }
}
