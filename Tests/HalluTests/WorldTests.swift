import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

/// A small world shared by the tests that only read it (generated once per test process).
private let smallWorld: (dir: URL, config: WorldConfig) = {
    var c = WorldConfig()
    c.trainImages = 120
    c.evalImages = 80
    c.seed = 7
    let dir = TestPaths.tempDir("world")
    _ = try! SceneWorld.synth(config: c, outDir: dir)
    return (dir, c)
}()

/// CHAIR's caption parsing reduced to what the world's text needs (no plurals, no POS tags):
/// lower-case words, the double-word merge, then the synonym table of the real evaluator.
private struct MiniCHAIR {
    let synonyms: [String: String]
    let doubles: [String: String]

    init() throws {
        let v = try #require(try JSONFiles.readJSON(TestPaths.data("CHAIR-metric-standalone/chair_vocab.json")) as? [String: Any])
        synonyms = try #require(v["inverse_synonym_dict"] as? [String: String])
        doubles = try #require(v["double_word_dict"] as? [String: String])
    }

    func nodes(_ text: String) -> [String] {
        let words = text.lowercased().split { !$0.isLetter }.map(String.init)
        var merged: [String] = []
        var i = 0
        while i < words.count {
            if i + 1 < words.count, let d = doubles["\(words[i]) \(words[i + 1])"] { merged.append(d); i += 2 } else { merged.append(words[i]); i += 1 }
        }
        return merged.compactMap { synonyms[$0] }
    }
}

private func allFiles(_ dir: URL) throws -> [(String, Data)] { try filesBelow(dir) }

/// Digests of every file but world.json, pinned on the generator as it was before the papers'
/// training files moved to world exports: the files the world writes itself are byte for byte the
/// same. Format 5 first, down to format 1 (`WorldVariants`).
let coreFileDigests: [UInt64] = [0x3FCF_1122_410A_81FC, 0x9475_5C4D_DB2F_CF52, 0x3415_CC67_C5B8_3557,
                                 0x2B15_0EB9_3AB8_FA53, 0x2F13_4075_B8FD_883F]

@Test func sameSeedSameBytes() throws {
    let variants = WorldVariants.all
    var c = variants[0].config
    let a = TestPaths.tempDir("wa"), b = TestPaths.tempDir("wb"), d = TestPaths.tempDir("wd")
    try SceneWorld.synth(config: c, outDir: a)
    try SceneWorld.synth(config: c, outDir: b)
    let fa = try allFiles(a), fb = try allFiles(b)
    #expect(fa.count == 70 + 9)
    #expect(fa.map(\.0) == fb.map(\.0))
    #expect(zip(fa, fb).allSatisfy { $0.1 == $1.1 })
    // Pinned: any change to these bytes must come with a new format_version.
    print("scene world digest (seed 3, 40+30 images): \(String(digest(fa), radix: 16))")
    #expect(digest(fa) == 0xF236_F331_BD89_0A33)
    // Every format still gives the bytes it gave when it was the newest.
    for ((format, config), pinned) in zip(variants, coreFileDigests) {
        let dir = TestPaths.tempDir("wv\(format)")
        try SceneWorld.synth(config: config, outDir: dir)
        #expect(digest(try filesBelow(dir, excluding: ["world.json"])) == pinned, "format \(format)")
    }
    c.seed = 4
    try SceneWorld.synth(config: c, outDir: d)
    #expect(digest(try allFiles(d)) != digest(fa))
    // Re-exporting into a world folder replaces it; a foreign non-empty folder is refused.
    try SceneWorld.synth(config: c, outDir: a)
    #expect(digest(try allFiles(a)) == digest(try allFiles(d)))
    let foreign = TestPaths.tempDir("wf")
    try AtomicFile.write("x", to: foreign.appendingPathComponent("notes.txt"))
    #expect(throws: HalluError.self) { try SceneWorld.synth(config: c, outDir: foreign) }
}

/// A world export that keeps what the generator hands it, as a plugin's would.
private func capturingExport(_ seen: Box<GeneratedWorld?>) -> WorldExport {
    WorldExport(name: "capture", files: ["capture.txt"]) { world in
        seen.value = world
        return ["capture.txt": "\(world.train.count)\n"]
    }
}

final class Box<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

@Test func worldExportsGetEveryImageAndTheirFilesComeBeforeWorldJSON() throws {
    let (_, base) = smallWorld
    var c = base
    c.trainImages = 30
    c.evalImages = 10
    let seen = Box<GeneratedWorld?>(nil)
    let dir = TestPaths.tempDir("wexport")
    try SceneWorld.synth(config: c, outDir: dir, exports: [capturingExport(seen)])
    let world = try #require(seen.value)
    #expect(world.train.count == 30 && world.eval.count == 10 && world.config == c.resolved)
    #expect(try String(contentsOf: dir.appendingPathComponent("capture.txt"), encoding: .utf8) == "30\n")
    #expect(SceneWorld.isComplete(dir, config: c, exports: [capturingExport(seen)]))
    #expect(!SceneWorld.isComplete(dir, config: c, exports: [WorldExport(name: "x", files: ["x.txt"]) { _ in [:] }]))
    // The hallucination material: substitutions only, so that length alone cannot separate the texts.
    let chair = try MiniCHAIR()
    for g in world.train {
        #expect(g.hallucinated.count == c.hallucinatedPerImage)
        for h in g.hallucinated {
            #expect(chair.nodes(g.faithful.text).count == chair.nodes(h.description.text).count, "\(g.faithful.text) / \(h.description.text)")
            #expect(h.description.text != g.faithful.text && !h.injected.isEmpty)
        }
        #expect(chair.nodes(g.caption).count == chair.nodes(g.hallucinatedCaption).count)
        #expect(g.caption != g.hallucinatedCaption)
        #expect(g.probe.present == g.scene.categories.contains(g.probe.object))
    }
    // An export that leaves out a file it declares is an error naming it.
    let broken = WorldExport(name: "broken", files: ["a.txt"]) { _ in [:] }
    #expect(message { try SceneWorld.synth(config: c, outDir: TestPaths.tempDir("wbroken"), exports: [broken]) }.contains("a.txt"))
}

@Test func everyExportedFileReadsBack() throws {
    let (dir, c) = smallWorld
    let ds = try Dataset.load(dir.path)
    let yesNo = c.yesNoQuestionsPerImage
    #expect(ds.conversations.count == c.trainImages * (2 + yesNo))
    #expect(ds.files.map(\.file) == ["llava_train.json"])
    #expect(ds.conversations.compactMap(\.image).allSatisfy { FileManager.default.fileExists(atPath: $0) && $0.contains("/images/train/") })
    // Evaluation files.
    let prompts = try DataReaders.chairPrompts(dir.appendingPathComponent("chair_prompts.jsonl").path)
    let gt = try DataReaders.chairGroundTruth(dir.appendingPathComponent("chair_gt_objects.json").path)
    #expect(prompts.count == c.evalImages && gt.count == c.evalImages)
    #expect(Set(prompts.map(\.imageId)) == Set(gt.keys))
    #expect(prompts.allSatisfy { FileManager.default.fileExists(atPath: dir.appendingPathComponent($0.image).path) })
    for s in POPEStrategy.allCases {
        let qs = try DataReaders.popeQuestions(dir.appendingPathComponent("pope_\(s.rawValue).jsonl").path)
        #expect(!qs.isEmpty && qs.count % 6 == 0)
    }
    let shr = try DataRecord.readAll(dir.appendingPathComponent("shr_facts.jsonl").path)
    #expect(shr.count == c.evalImages && shr.allSatisfy { !((try? $0.strings("facts")) ?? []).isEmpty })
    // world.json reproduces the config.
    let back = try WorldConfig.load(dir.appendingPathComponent("world.json").path)
    #expect(back == c.resolved)
    // Stats and the sample sheet work on the export.
    let stats = try WorldStats.compute(folder: dir.path)
    #expect(stats.trainImages == c.trainImages && stats.evalImages == c.evalImages)
    #expect(stats.samples["sft"] == ds.conversations.count)
    let sheet = try SampleSheet.render(folder: dir.path, count: 8)
    #expect(sheet.width > 0 && sheet.height > 0)
}

@Test func popeFilesFollowPOPERules() throws {
    let (dir, c) = smallWorld
    var objectsByImage: [String: [String]] = [:]
    var order: [String] = []
    var freq: [String: Int] = [:]
    var co: [String: [String: Int]] = [:]
    var coOrder: [String: [String]] = [:]
    for r in try DataRecord.readAll(dir.appendingPathComponent("scenes.jsonl").path) where (try? r.string("split")) == "eval" {
        let objs = try r.objects("objects").map { try $0.string("category") }
        guard objs.count >= c.popeSampleNum else { continue }
        objectsByImage[try r.string("image")] = objs
        for o in objs {
            if freq[o] == nil { order.append(o) }
            freq[o, default: 0] += 1
            for p in objs where p != o {
                if co[o, default: [:]][p] == nil { coOrder[o, default: []].append(p) }
                co[o, default: [:]][p, default: 0] += 1
            }
        }
    }
    let popular = order.enumerated().sorted { (freq[$0.element]!, -$0.offset) > (freq[$1.element]!, -$1.offset) }.map(\.element)
    for s in POPEStrategy.allCases {
        let qs = try DataReaders.popeQuestions(dir.appendingPathComponent("pope_\(s.rawValue).jsonl").path)
        #expect(qs.count == objectsByImage.count * 6)
        #expect(qs.map(\.questionId) == Array(1...qs.count))
        var i = 0
        while i < qs.count {
            let block = Array(qs[i..<(i + 6)])
            let objs = try #require(objectsByImage[block[0].image])
            #expect(block.allSatisfy { $0.image == block[0].image })
            #expect(block.map(\.label) == ["yes", "no", "yes", "no", "yes", "no"])
            #expect(block.enumerated().filter { $0.offset % 2 == 0 }.map(\.element.object) == Array(objs.prefix(3)))
            var asked: [String] = []
            for k in 0..<3 {
                let pos = block[2 * k].object, neg = block[2 * k + 1].object
                asked.append(pos)
                #expect(!objs.contains(neg) && !asked.contains(neg), "negative \(neg) is in the image or repeated")
                #expect(order.contains(neg), "negatives come from objects seen in the eval images")
                let free = { (o: String) in !objs.contains(o) && !asked.contains(o) }
                switch s {
                case .random: break
                case .popular: #expect(neg == popular.first(where: free))
                case .adversarial:
                    let ranked = (coOrder[pos] ?? []).enumerated().sorted {
                        (co[pos]![$0.element]!, -$0.offset) > (co[pos]![$1.element]!, -$1.offset)
                    }.map(\.element)
                    if let want = ranked.first(where: free) { #expect(neg == want) }
                }
                asked.append(neg)
            }
            i += 6
        }
        // "an" before vowels, as POPE writes it.
        for q in qs {
            let article = "aeiou".contains(q.object.first!) ? "an" : "a"
            #expect(q.text == "Is there \(article) \(q.object) in the image?")
        }
    }
}

@Test func textMentionsAreExactlyWhatCHAIRFinds() throws {
    let (dir, _) = smallWorld
    let chair = try MiniCHAIR()
    for r in try DataRecord.readAll(dir.appendingPathComponent("scenes.jsonl").path) {
        let objs = try r.objects("objects").map { try $0.string("category") }
        let undrawn = try r.strings("undrawn_mentions")
        let found = chair.nodes(try r.string("description"))
        // Each object named once in its own sentence, then once more by the next sentence's relation.
        let description = try r.string("description")
        #expect(found.count == objs.count + max(0, objs.count - 1) + undrawn.count, "\(description)")
        #expect(Set(found) == Set(objs + undrawn))
        #expect(Set(undrawn).isDisjoint(with: objs))
    }
    let ds = try Dataset.load(dir.path, kinds: [.sft])
    // Yes/no answers follow the POPE-style templates and CHAIR finds the object in them.
    for conv in ds.conversations where conv.id.contains("yesno") {
        let q = conv.turns[0].value, a = conv.turns[1].value
        let object = try #require(DataReaders.popeObject(DataReaders.stripImageToken(q)))
        #expect(a == WorldWriter.answer(object, yes: true, style: "object_first") || a == WorldWriter.answer(object, yes: false, style: "object_first"))
        #expect(chair.nodes(a) == [try #require(WorldCatalog.category(named: object)).name])
    }
}

@Test func catalogueWordsAreCHAIRWords() throws {
    let chair = try MiniCHAIR()
    #expect(WorldCatalog.categories.count == 80)
    #expect(Set(WorldCatalog.categories.map(\.name)).count == 80)
    for c in WorldCatalog.categories {
        #expect(chair.nodes(c.name) == [c.name], "COCO name \(c.name)")
        for s in c.synonyms { #expect(chair.nodes(s) == [c.name], "synonym \(s) of \(c.name)") }
    }
    // Template words, colours and scene names must never count as objects.
    let fixed = WorldCatalog.colors.map(\.name) + WorldCatalog.sceneTypes.map(\.name) + WorldWriter.detailPrompts
        + ["There is a large", "at the top left right bottom middle on in", "to the left of right of above below next to also",
           "The image shows", "with and", "Yes, there is no in the image.", "A An appears does not appear"]
    for t in fixed { #expect(chair.nodes(t).isEmpty, "\(t)") }
    // Default world: 24 categories, 8 scene types with 3 to 5 typical objects each of their own,
    // then the ubiquitous ones.
    var own = WorldConfig()
    own.ubiquitous = []
    let plain = try WorldModel(config: own), w = try WorldModel(config: WorldConfig())
    #expect(w.categories.count == 24 && w.sceneTypes.count == 8)
    #expect(plain.typical.allSatisfy { (3...5).contains($0.count) }, "\(plain.typical.map(\.count))")
    #expect(zip(plain.typical, w.typical).allSatisfy { p, t in Set(t) == Set(p + WorldConfig().ubiquitous) })
    #expect(Set(w.typical.flatMap { $0 }) == Set(w.categories.map(\.name)), "every category is typical somewhere")
}

@Test func glyphsAreFarApart() throws {
    let g = try GlyphSet(minHamming: WorldConfig().glyphMinHamming)
    #expect(g.glyphs.count == 80)
    #expect(g.minDistance >= 24)
    var symmetric = true
    for glyph in g.glyphs {
        for y in 0..<8 { for x in 0..<4 where glyph[y * 8 + x] != glyph[y * 8 + 7 - x] { symmetric = false } }
    }
    #expect(symmetric)
    #expect(throws: HalluError.self) { _ = try GlyphSet(minHamming: 40) }
}

@Test func priorsAndOverDescriptionFollowTheConfig() throws {
    let c = WorldConfig()
    let w = try WorldModel(config: c)
    let writer = WorldWriter(world: w)
    var typical = 0, total = 0
    var byCount: [Int: (Int, Int)] = [:]
    var sizes: [Int: Int] = [:]
    var large = 0
    for i in 0..<4000 {
        var r = WorldRNG(seed: 11, stream: 1, index: UInt64(i))
        let s = w.sampleScene(id: i, split: .train, rng: &r)
        sizes[s.objects.count, default: 0] += 1
        let t = w.typical[w.sceneIndex(s.sceneType)!]
        typical += s.objects.filter { t.contains($0.category) }.count
        total += s.objects.count
        large += s.objects.filter(\.large).count
        #expect(Set(s.categories).count == s.objects.count)
        var cells = Set<Int>()
        for o in s.objects { for y in o.row..<(o.row + o.span) { for x in o.col..<(o.col + o.span) { #expect(cells.insert(y * 4 + x).inserted) } } }
        var tr = WorldRNG(seed: 11, stream: 3, index: UInt64(i))
        let over = writer.isOverDetailed(s, rng: &tr)
        var e = byCount[s.objects.count] ?? (0, 0)
        e.0 += over ? 1 : 0; e.1 += 1
        byCount[s.objects.count] = e
    }
    #expect(Set(sizes.keys) == [2, 3, 4, 5])
    #expect(Double(typical) / Double(total) > 0.7)
    #expect(abs(Double(large) / Double(total) - c.largeObjectShare) < 0.03)
    for (n, e) in byCount {
        let want = c.overDescriptionShare[n - c.minObjects]
        #expect(abs(Double(e.0) / Double(e.1) - want) < 0.05, "objects \(n): \(Double(e.0) / Double(e.1)) vs \(want)")
    }
}

/// Share of the training "no" questions whose object is typical of the image's scene.
private func typicalShareOfNegatives(_ mode: String) throws -> Double {
    var c = WorldConfig()
    c.trainImages = 300
    c.evalImages = 10
    c.seed = 5
    c.yesNoNegatives = mode
    // Without ubiquitous categories, which are typical of every scene.
    c.ubiquitous = []
    c.ubiquitousWeight = 0
    let dir = TestPaths.tempDir("wneg-\(mode)")
    try SceneWorld.synth(config: c, outDir: dir)
    let world = try WorldModel(config: c)
    var sceneOf: [String: String] = [:]
    for line in try String(contentsOf: dir.appendingPathComponent("scenes.jsonl"), encoding: .utf8).split(separator: "\n") {
        let r = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        sceneOf[try #require(r["image"] as? String)] = try #require(r["scene"] as? String)
    }
    let ds = try Dataset.load(dir.path, kinds: [.sft])
    var typical = 0, total = 0
    for conv in ds.conversations where conv.id.contains("yesno") && POPEScorer.isNo(conv.turns[1].value) {
        let object = try #require(DataReaders.popeObject(DataReaders.stripImageToken(conv.turns[0].value)))
        let image = "images/" + (try #require(conv.image?.components(separatedBy: "/images/").last))
        let scene = try #require(sceneOf[image])
        typical += world.typical[try #require(world.sceneIndex(scene))].contains(object) ? 1 : 0
        total += 1
    }
    #expect(total == 300 * c.yesNoQuestionsPerImage / 2)
    return Double(typical) / Double(total)
}

@Test func yesNoNegativesFollowTheConfig() throws {
    // Uniform: about 1.5 of some 20 absent categories are typical; scene prior: most of the mass.
    let uniform = try typicalShareOfNegatives("uniform"), prior = try typicalShareOfNegatives("scene_prior")
    #expect(uniform < 0.2, "\(uniform)")
    #expect(prior > 0.45, "\(prior)")
    // Format 1 worlds had no choice and drew from the scene prior; their world.json reads back so.
    let v1 = try WorldConfig.decode(Data(#"{"format_version": 1}"#.utf8))
    #expect(v1.yesNoNegatives == "scene_prior" && WorldConfig().yesNoNegatives == "uniform")
    #expect(try WorldConfig.decode(Data(v1.resolved.json().pretty().utf8)) == v1.resolved)
    #expect(!v1.json().pretty().contains("yes_no_negatives"))
    do {
        _ = try WorldConfig.decode(Data(#"{"yes_no_negatives": "random"}"#.utf8), path: "w.json")
        Issue.record("an unknown mode was accepted")
    } catch let e as HalluError {
        #expect(e.message.contains("yes_no_negatives") && e.message.contains("w.json"))
    }
}

@Test func yesNoAnswersFollowTheConfigAndReadRightToPOPE() throws {
    for style in WorldConfig.yesNoAnswerStyles {
        for word in ["cup", "umbrella", "dining table"] {
            let yes = WorldWriter.answer(word, yes: true, style: style), no = WorldWriter.answer(word, yes: false, style: style)
            #expect(!POPEScorer.isNo(yes) && POPEScorer.isNo(no), "\(style): \(yes) / \(no)")
        }
    }
    #expect(WorldWriter.answer("umbrella", yes: true, style: "object_first") == "An umbrella appears in the image.")
    #expect(WorldWriter.answer("cup", yes: false, style: "object_first") == "A cup does not appear in the image.")
    #expect(WorldWriter.answer("cup", yes: false, style: "sentence") == "No, there is no cup in the image.")
    // Worlds before format 3 worded answers as sentences; their world.json reads back so.
    let v2 = try WorldConfig.decode(Data(#"{"format_version": 2}"#.utf8))
    #expect(v2.yesNoAnswers == "sentence" && WorldConfig().yesNoAnswers == "object_first")
    #expect(!v2.json().pretty().contains("yes_no_answers"))
    #expect(try WorldConfig.decode(Data(v2.resolved.json().pretty().utf8)) == v2.resolved)
    do {
        _ = try WorldConfig.decode(Data(#"{"yes_no_answers": "short"}"#.utf8), path: "w.json")
        Issue.record("an unknown answer style was accepted")
    } catch let e as HalluError {
        #expect(e.message.contains("yes_no_answers") && e.message.contains("w.json"))
    }
}

@Test func ubiquitousCategoriesAreCommonInEveryScene() throws {
    var c = WorldConfig()
    c.formatVersion = 4
    c.ubiquitous = ["person", "chair"]
    c.ubiquitousWeight = 4
    var plain = c
    plain.ubiquitous = []
    plain.ubiquitousWeight = 0
    let w = try WorldModel(config: c), p = try WorldModel(config: plain)
    let person = try #require(w.categories.firstIndex { $0.name == "person" })
    let chair = try #require(w.categories.firstIndex { $0.name == "chair" })
    for s in w.sceneTypes.indices {
        // Typical everywhere, and the weight adds to the scene's own (rank 1 decays like typical ranks).
        #expect(w.typical[s].contains("person") && w.typical[s].contains("chair"))
        #expect(abs(w.priors[s][person] - p.priors[s][person] - 4) < 1e-12)
        #expect(abs(w.priors[s][chair] - p.priors[s][chair] - 4 / (1 + c.typicalRankDecay)) < 1e-12)
    }
    func share(_ m: WorldModel, _ name: String) -> Double {
        var hits = 0
        for i in 0..<3000 {
            var r = WorldRNG(seed: 2, stream: 1, index: UInt64(i))
            hits += m.sampleScene(id: i, split: .train, rng: &r).categories.contains(name) ? 1 : 0
        }
        return Double(hits) / 3000
    }
    let (with, without) = (share(w, "person"), share(p, "person"))
    #expect(with > 0.4 && without < 0.3, "person in \(with) of images with, \(without) without")
    // An overly detailed kitchen description can add a person, whom the kitchen alone never suggests.
    let kitchen = try #require(w.sceneIndex("kitchen"))
    #expect(!p.typical[kitchen].contains("person"))
    let writer = WorldWriter(world: w)
    var extras = Set<String>()
    for i in 0..<400 {
        var r = WorldRNG(seed: 2, stream: 1, index: UInt64(i))
        let scene = w.sampleScene(id: i, split: .train, rng: &r)
        guard scene.sceneType == "kitchen" else { continue }
        var t = WorldRNG(seed: 2, stream: 3, index: UInt64(i))
        extras.formUnion(writer.extraCategories(scene, rng: &t))
    }
    #expect(extras.contains("person"))
    // The keys round-trip through world.json; older formats refuse them; names are checked.
    #expect(try WorldConfig.decode(Data(c.resolved.json().pretty().utf8)) == c.resolved)
    #expect(!WorldConfig().json().pretty().contains("ubiquitous") || WorldConfig().formatVersion >= 4)
    func msg(_ json: String) -> String {
        do { _ = try WorldConfig.decode(Data(json.utf8), path: "w.json") } catch let e as HalluError { return e.message } catch { return "\(error)" }
        return ""
    }
    #expect(msg(#"{"format_version": 3, "ubiquitous": ["person"]}"#).contains("format_version 4"))
    #expect(msg(#"{"format_version": 4, "ubiquitous": ["unicorn"]}"#).contains("unicorn"))
    #expect(msg(#"{"format_version": 4, "ubiquitous_weight": -1}"#).contains("ubiquitous_weight"))
    // Format 5 makes COCO's most frequent categories ubiquitous by default; format 4 had none.
    let v4 = try WorldConfig.decode(Data(#"{"format_version": 4}"#.utf8))
    #expect(v4.ubiquitous.isEmpty && v4.ubiquitousWeight == 0)
    #expect(WorldConfig().formatVersion == 5 && WorldConfig().ubiquitous == ["person", "chair", "car", "cup"])
    #expect(WorldConfig().ubiquitousWeight == 0.5)
}

@Test func tinyObjectsShowTheirColourButNotTheirGlyph() throws {
    var c = WorldConfig()
    c.formatVersion = 4
    c.tinyObjectShare = 0.3
    c.noiseSigma = 0
    c.textureAmplitude = 0
    let w = try WorldModel(config: c)
    let renderer = WorldRenderer(world: w)
    var tiny = 0, notLarge = 0
    for i in 0..<2000 {
        var r = WorldRNG(seed: 9, stream: 1, index: UInt64(i))
        let s = w.sampleScene(id: i, split: .train, rng: &r)
        #expect(!s.objects.contains { $0.tiny && $0.large })
        tiny += s.objects.filter(\.tiny).count
        notLarge += s.objects.filter { !$0.large }.count
        guard i < 50 else { continue }
        var nr = WorldRNG(seed: 9, stream: 2, index: UInt64(i))
        let img = renderer.render(s, rng: &nr)
        for o in s.objects where o.tiny {
            // The middle half of the cell is the colour, the rest is background: no glyph.
            let color = try #require(w.palette[o.color])
            let x0 = o.col * c.cellSize, y0 = o.row * c.cellSize
            for dy in 0..<c.cellSize { for dx in 0..<c.cellSize {
                let inner = (2..<6).contains(dx) && (2..<6).contains(dy)
                #expect((img[x0 + dx, y0 + dy] == color) == inner)
            } }
        }
    }
    #expect(abs(Double(tiny) / Double(notLarge) - 0.3) < 0.03)
    // scenes.jsonl says "tiny"; format 3 has no tiny objects and refuses the key.
    c.trainImages = 30
    c.evalImages = 10
    let dir = TestPaths.tempDir("wtiny")
    try SceneWorld.synth(config: c, outDir: dir)
    #expect(try String(contentsOf: dir.appendingPathComponent("scenes.jsonl"), encoding: .utf8).contains("\"size\": \"tiny\""))
    var old = WorldConfig()
    old.formatVersion = 3
    old.tinyObjectShare = 0.1
    #expect(throws: HalluError.self) { try old.validate() }
    #expect(try WorldConfig.decode(Data(#"{"format_version": 3}"#.utf8)).tinyObjectShare == 0)
}

@Test func relationsAndPositionsAreGeometric() throws {
    let a = WorldObject(category: "cup", color: "red", large: false, row: 0, col: 0)
    let b = WorldObject(category: "bowl", color: "blue", large: false, row: 0, col: 1)
    let big = WorldObject(category: "dog", color: "blue", large: true, row: 2, col: 1)
    #expect(a.relation(to: b) == .leftOf && b.relation(to: a) == .rightOf)
    #expect(a.touches(b) && !a.touches(big))
    #expect(b.relation(to: big) == .above && big.relation(to: b) == .below)
    #expect(big.box(cellSize: 8) == [8, 16, 16, 16])
    let w = WorldWriter(world: try WorldModel(config: WorldConfig()))
    #expect(w.position(a) == "at the top left")
    #expect(w.position(big) == "at the bottom")
    #expect(w.position(WorldObject(category: "cat", color: "red", large: true, row: 1, col: 1)) == "in the middle")
    #expect(SpatialRelation.leftOf.opposite == .rightOf && SpatialRelation.above.opposite == .below)
    #expect(HallucinatedDescription.score(severities: [1]) == 0.3333)
    #expect(HallucinatedDescription.score(severities: [2]) == 0.6667)
    #expect(HallucinatedDescription.score(severities: [3, 1]) == 1.0)
}

@Test func worldConfigDecodingNamesBadKeys() throws {
    let ok = try WorldConfig.decode(Data(#"{"seed": 5, "train_images": 10}"#.utf8))
    #expect(ok.seed == 5 && ok.trainImages == 10 && ok.evalImages == 500)
    func msg(_ json: String) -> String {
        do { _ = try WorldConfig.decode(Data(json.utf8), path: "w.json") } catch let e as HalluError { return e.message } catch { return "\(error)" }
        return ""
    }
    #expect(msg(#"{"seeed": 5}"#).contains("\"seeed\""))
    #expect(msg(#"{"train_images": "many"}"#).contains("train_images"))
    #expect(msg(#"{"image_size": 30}"#).contains("image_size"))
    #expect(msg(#"{"categories": ["cup", "unicorn"]}"#).contains("unicorn"))
    #expect(msg(#"{"colors": ["orange"]}"#).contains("orange"))
    #expect(msg(#"{"over_description_share": [0.5]}"#).contains("over_description_share"))
    #expect(msg("{oops").contains("w.json"))
    var c = WorldConfig()
    try c.set("image_size", "48")
    try c.set("scene_types", #"["kitchen", "farm"]"#)
    #expect(c.imageSize == 48 && c.resolvedSceneTypes.map(\.name) == ["kitchen", "farm"])
    #expect(throws: HalluError.self) { try c.set("nope", "1") }
    // The resolved config survives a round trip through world.json's text.
    let text = WorldConfig().resolved.json().pretty()
    #expect(try WorldConfig.decode(Data(text.utf8)) == WorldConfig().resolved)
}

@Test func largerImagesAndOtherCategorySets() throws {
    var c = WorldConfig()
    c.imageSize = 48
    c.numCategories = 48
    c.trainImages = 12
    c.evalImages = 12
    let dir = TestPaths.tempDir("w48")
    try SceneWorld.synth(config: c, outDir: dir)
    let img = try ImageFile.load(dir.appendingPathComponent("images/train/000000.png").path)
    #expect(img.width == 48 && img.height == 48)
    #expect(try Dataset.load(dir.path).conversations.count == 12 * 6)
}

/// The default world, timed (set HALLU_WORLD_TIMING=1; meant for `swift test -c release`).
@Test(.enabled(if: ProcessInfo.processInfo.environment["HALLU_WORLD_TIMING"] != nil))
func defaultWorldTiming() throws {
    func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }
    let dir = TestPaths.tempDir("default-world")
    let cpu0 = cpuSeconds()
    let summary = try SceneWorld.synth(config: WorldConfig(), outDir: dir)
    print("default world: \(summary.trainImages) train + \(summary.evalImages) eval images in \(summary.seconds) s wall, \(cpuSeconds() - cpu0) s CPU, at \(dir.path)")
    let t0 = Date()
    let stats = try WorldStats.compute(folder: dir.path)
    print("stats in \(Date().timeIntervalSince(t0)) s\n" + stats.text())
    let t1 = Date()
    let ds = try Dataset.load(dir.path)
    print("Dataset.load in \(Date().timeIntervalSince(t1)) s: " + DataKind.builtIn.map { "\($0.rawValue) \(ds.count($0))" }.joined(separator: ", "))
    try SampleSheet.save(folder: dir.path, count: 16, to: dir.appendingPathComponent("sheet.png"))
    #expect(summary.seconds < 30)
}
