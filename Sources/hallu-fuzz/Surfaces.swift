import CoreRuntime
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How one consumption of a case ended.
enum Outcome: Equatable {
    case ok
    /// A `HalluError` with a message a user can act on.
    case clearError(String)
    /// Any other error, or a message with raw Foundation text or without the file's name.
    case unclearError(String)
    /// A subprocess died by a signal, or ran past its time.
    case signal(String)
    case hang(String)

    var label: String {
        switch self {
        case .ok: return "ok"
        case .clearError: return "error"
        case .unclearError: return "unclear"
        case .signal: return "signal"
        case .hang: return "hang"
        }
    }
    /// Worse outcomes rank higher.
    var rank: Int { ["ok": 0, "error": 1, "unclear": 2, "hang": 3, "signal": 4][label]! }
    var message: String {
        switch self {
        case .ok: return ""
        case .clearError(let m), .unclearError(let m), .signal(let m), .hang(let m): return m
        }
    }
}

/// An input surface: how to make a mutated case in a folder, and how hallu consumes it.
struct Surface {
    let name: String
    let weight: Int
    /// Writes the case's files into the (empty) folder.
    let make: (Seeds, inout FuzzRNG, URL) throws -> Void
    /// Reads the case as hallu would; each call's error is judged on its own.
    let consume: (Seeds, URL) -> [Outcome]
}

/// Raw Foundation wording that must never reach a user.
let rawFoundationText = ["NSCocoaErrorDomain", "Error Domain=", "The operation could not be completed", "You don’t have permission",
                         "You don't have permission", "NSPOSIXErrorDomain", "DecodingError", "dataCorrupted(", "keyNotFound("]

/// Runs `body` and judges how it ended: fine, a clear error naming one of `names` (a file, a key),
/// or an unclear one.
func judge(_ names: [String], _ body: () throws -> Void) -> Outcome {
    do {
        try body()
        return .ok
    } catch let e as HalluError {
        let m = e.message
        if let raw = rawFoundationText.first(where: { m.contains($0) }) { return .unclearError("raw Foundation text (\(raw)): \(m)") }
        if !names.isEmpty && !names.contains(where: { m.contains($0) }) { return .unclearError("names none of \(names): \(m)") }
        return .clearError(m)
    } catch {
        return .unclearError("not a HalluError (\(type(of: error))): \(error)")
    }
}

/// Writes `data` at `url`, or in its place (sometimes) something that is not a regular file: a
/// FIFO, a folder, or a link to a device; these must be refused, never read or waited on.
func place(_ data: Data, at url: URL, _ rng: inout FuzzRNG, special: Double = 0.03) throws {
    try Folders.create(url.deletingLastPathComponent())
    if rng.chance(special) {
        switch rng.int(3) {
        case 0: if mkfifo(url.path, 0o644) == 0 { return }
        case 1: try Folders.create(url); return
        default: if symlink("/dev/zero", url.path) == 0 { return }
        }
    }
    try data.write(to: url)
}

func mutatedJSON(_ seeds: Seeds, _ name: String, _ rng: inout FuzzRNG) -> Data {
    JSONMutator.mutate(text: seeds.docs[name] ?? Data("{}".utf8), &rng)
}

/// The surfaces, with their share of the cases.
enum Surfaces {
    static let all: [Surface] = [safetensors, index, config, tokenizer, preprocessor, adapter, png, jpeg, gzip, dataset,
                                 evalFiles, sweep, runConfig, metrics]

    static func named(_ n: String) -> Surface? { (all + [Flags.surface]).first { $0.name == n } }

    // MARK: checkpoints

    /// A safetensors file: its header's JSON mutated structurally, its length field or bytes changed.
    static let safetensors = Surface(name: "safetensors", weight: 12, make: { seeds, rng, dir in
        let base = rng.chance(0.5) ? seeds.docs["mixed.safetensors"]! : seeds.docs["model.safetensors"]!
        try place(SafeTensorsMutator.mutate(base, &rng), at: dir.appendingPathComponent("model.safetensors"), &rng)
    }, consume: { _, dir in
        let p = dir.appendingPathComponent("model.safetensors").path
        return [judge([p]) { _ = try SafeTensorsFile(path: p).arrays() }]
    })

    /// A sharded checkpoint: the index mutated, or a shard.
    static let index = Surface(name: "index", weight: 6, make: { seeds, rng, dir in
        let names = seeds.docs.keys.filter { $0.hasPrefix("shards/") }.sorted()
        let target = rng.chance(0.6) ? "shards/model.safetensors.index.json" : rng.pick(names)
        for n in names {
            let url = dir.appendingPathComponent(String(n.dropFirst("shards/".count)))
            if n == target {
                let data = n.hasSuffix(".json") ? JSONMutator.mutate(text: seeds.docs[n]!, &rng) : SafeTensorsMutator.mutate(seeds.docs[n]!, &rng)
                try place(data, at: url, &rng, special: 0.1)
            } else {
                try seeds.docs[n]!.write(to: url)
            }
        }
    }, consume: { _, dir in
        let p = dir.appendingPathComponent(SafeTensorsIndex.fileName).path
        return [judge([dir.path]) { _ = try SafeTensorsIndex(path: p).arrays() }]
    })

    /// A checkpoint folder whose config.json is mutated; loaded, and when it loads, asked to generate.
    static let config = Surface(name: "config", weight: 10, make: { seeds, rng, dir in
        for n in ["model.safetensors", "tokenizer.json", "preprocessor_config.json", HalluCheckpointInfo.fileName] {
            try seeds.docs[n]!.write(to: dir.appendingPathComponent(n))
        }
        try place(mutatedJSON(seeds, "config.json", &rng), at: dir.appendingPathComponent("config.json"), &rng)
    }, consume: { seeds, dir in
        [judge([dir.path, "config.json"]) { try Generate.once(checkpoint: dir, seeds: seeds) }]
    })

    /// A checkpoint folder whose tokenizer.json is mutated.
    static let tokenizer = Surface(name: "tokenizer", weight: 10, make: { seeds, rng, dir in
        for n in ["model.safetensors", "config.json", "preprocessor_config.json", HalluCheckpointInfo.fileName] {
            try seeds.docs[n]!.write(to: dir.appendingPathComponent(n))
        }
        try place(mutatedJSON(seeds, "tokenizer.json", &rng), at: dir.appendingPathComponent("tokenizer.json"), &rng)
    }, consume: { seeds, dir in
        let p = dir.appendingPathComponent("tokenizer.json").path
        return [judge([p]) {
            let tok = try Tokenizer.load(p)
            let ids = tok.encode("A red chair <image> next to a dog. Ünïcødé \u{1F600} \t\n")
            _ = tok.decode(ids + [-1, 1 << 40, tok.vocabSize])
        }, judge([dir.path, "config.json"]) { try Generate.once(checkpoint: dir, seeds: seeds) }]
    })

    /// A checkpoint folder whose preprocessor_config.json is mutated.
    static let preprocessor = Surface(name: "preprocessor", weight: 4, make: { seeds, rng, dir in
        for n in ["model.safetensors", "config.json", "tokenizer.json", HalluCheckpointInfo.fileName] {
            try seeds.docs[n]!.write(to: dir.appendingPathComponent(n))
        }
        try place(mutatedJSON(seeds, "preprocessor_config.json", &rng), at: dir.appendingPathComponent("preprocessor_config.json"), &rng)
    }, consume: { seeds, dir in
        [judge([dir.path, "config.json", "preprocessor_config.json"]) { try Generate.once(checkpoint: dir, seeds: seeds) }]
    })

    /// A PEFT adapter folder, its config or its weights mutated.
    static let adapter = Surface(name: "adapter", weight: 5, make: { seeds, rng, dir in
        let cfg = "adapter/" + LoRAAdapter.configFileName, weights = "adapter/" + LoRAAdapter.weightsFileName
        let mutateConfig = rng.chance(0.6)
        try place(mutateConfig ? mutatedJSON(seeds, cfg, &rng) : seeds.docs[cfg]!, at: dir.appendingPathComponent(LoRAAdapter.configFileName), &rng)
        try place(mutateConfig ? seeds.docs[weights]! : SafeTensorsMutator.mutate(seeds.docs[weights]!, &rng),
                  at: dir.appendingPathComponent(LoRAAdapter.weightsFileName), &rng)
    }, consume: { seeds, dir in
        [judge([dir.path]) {
            let adapter = try LoRAAdapter.load(from: dir)
            try adapter.validate(againstBase: seeds.config.expectedWeightShapes, file: dir.path)
            try LlavaModel(seeds.config).loadAdapter(adapter, file: dir.path)
        }]
    })

    // MARK: images

    static let png = Surface(name: "png", weight: 12, make: { seeds, rng, dir in
        try place(PNGMutator.mutate(rng.pick(seeds.pngs), &rng), at: dir.appendingPathComponent("image.png"), &rng)
    }, consume: { _, dir in [Images.consume(dir, "image.png")] })

    static let jpeg = Surface(name: "jpeg", weight: 6, make: { seeds, rng, dir in
        guard let base = seeds.jpegs.first else { return try place(PNGMutator.mutate(rng.pick(seeds.pngs), &rng), at: dir.appendingPathComponent("image.jpg"), &rng) }
        try place(JPEGMutator.mutate(base, &rng), at: dir.appendingPathComponent("image.jpg"), &rng)
    }, consume: { _, dir in [Images.consume(dir, "image.jpg")] })

    // MARK: data and evaluation files

    /// A compressed ground-truth file (.gz), its compressed bytes mutated.
    static let gzip = Surface(name: "gzip", weight: 4, make: { seeds, rng, dir in
        var b = [UInt8](seeds.docs["gt.json.gz"]!)
        if rng.chance(0.2) { b = try Zlib.compress([UInt8](JSONMutator.mutate(text: seeds.docs["gt.json"]!, &rng))) } else { ByteMutator.mutate(&b, &rng) }
        try place(Data(b), at: dir.appendingPathComponent("gt.json.gz"), &rng)
    }, consume: { _, dir in
        let p = dir.appendingPathComponent("gt.json.gz").path
        return [judge([p]) { _ = try CHAIRGroundTruth.load(path: p) }]
    })

    /// A data folder in every format hallu reads, one file mutated.
    static let dataset = Surface(name: "dataset", weight: 12, make: { seeds, rng, dir in
        let files = seeds.trainingFiles.filter { seeds.docs[$0] != nil }
        let target = rng.pick(files)
        try seeds.docs[SceneWorld.Files.scenes]?.write(to: dir.appendingPathComponent(SceneWorld.Files.scenes))
        guard symlink(seeds.world.appendingPathComponent("images").path, dir.appendingPathComponent("images").path) == 0 else {
            throw HalluError("could not link the world's images")
        }
        try place(JSONLinesMutator.mutate(seeds.docs[target]!, &rng), at: dir.appendingPathComponent(target), &rng)
    }, consume: { seeds, dir in
        [judge([dir.path]) { _ = try Dataset.load(dir.path, catalog: seeds.registry.data) }]
    })

    /// CHAIR, POPE and SHR input files, one mutated; all three evaluations run.
    static let evalFiles = Surface(name: "evalfiles", weight: 8, make: { seeds, rng, dir in
        let files = ["captions.jsonl", "gt.json", "questions.jsonl", "answers.jsonl", "responses.jsonl", SceneWorld.Files.shrFacts]
        let target = rng.pick(files)
        for f in files {
            let url = dir.appendingPathComponent(f)
            if f == target { try place(JSONLinesMutator.mutate(seeds.docs[f]!, &rng), at: url, &rng) } else { try seeds.docs[f]!.write(to: url) }
        }
    }, consume: { _, dir in
        func p(_ n: String) -> String { dir.appendingPathComponent(n).path }
        return [judge([dir.path]) { _ = try CHAIREval.run(captionsPath: p("captions.jsonl"), gtPath: p("gt.json")) },
                judge([dir.path]) { _ = try POPEEval.run(questionsPath: p("questions.jsonl"), answersPath: p("answers.jsonl")) },
                judge([dir.path]) { _ = try SHREval.run(responsesPath: p("responses.jsonl"), sceneFactsPath: p(SceneWorld.Files.shrFacts)) }]
    })

    // MARK: settings

    static let sweep = Surface(name: "sweep", weight: 6, make: { seeds, rng, dir in
        try place(mutatedJSON(seeds, "sweep.json", &rng), at: dir.appendingPathComponent("sweep.json"), &rng)
    }, consume: { _, dir in
        let p = dir.appendingPathComponent("sweep.json").path
        return [judge([p]) {
            let plan = try SweepPlan.expand(try SweepSpec.load(p), path: p, workingDirectory: dir)
            for cell in plan.cells.prefix(64) {
                do { try cell.config.validate() } catch let e as HalluError { throw HalluError.file(p, "cell \(cell.id): \(e.message)") }
            }
        }]
    })

    static let runConfig = Surface(name: "runconfig", weight: 5, make: { seeds, rng, dir in
        try place(mutatedJSON(seeds, "run.json", &rng), at: dir.appendingPathComponent("run.json"), &rng)
    }, consume: { _, dir in
        let p = dir.appendingPathComponent("run.json").path
        // As `hallu run --config`: the file's own errors name it; the checks between settings name the key.
        return [judge([p, "weight.", "--name", "method"]) {
            var c = try RunConfig.load(p)
            c.runsDir = dir.appendingPathComponent(c.runsDir).path
            try c.validate()
            _ = try RunPipeline.folder(for: c)
        }]
    })

    /// A run's metrics.jsonl, cut back as a resume does.
    static let metrics = Surface(name: "metrics", weight: 3, make: { seeds, rng, dir in
        var b = [UInt8](seeds.docs["metrics.jsonl"]!)
        if rng.chance(0.5) { b = [UInt8](JSONLinesMutator.mutate(Data(b), &rng)) } else { ByteMutator.mutate(&b, &rng) }
        try place(Data(b), at: dir.appendingPathComponent("metrics.jsonl"), &rng)
    }, consume: { _, dir in
        let url = dir.appendingPathComponent("metrics.jsonl")
        return [judge([url.path]) { try MetricsLog.cut(url, throughStep: 3) }]
    })
}

/// JSON Lines and JSON documents: one line (or the whole document) mutated structurally.
enum JSONLinesMutator {
    static func mutate(_ data: Data, _ rng: inout FuzzRNG) -> Data {
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: false).map { Data($0) }
        let nonEmpty = lines.indices.filter { !lines[$0].isEmpty }
        if nonEmpty.count > 1 && rng.chance(0.7) {
            let i = rng.pick(nonEmpty)
            lines[i] = JSONMutator.mutate(text: lines[i], &rng)
            if rng.chance(0.1) { lines.insert(lines[i], at: i) }
            return Data(lines.joined(separator: [0x0A]))
        }
        return JSONMutator.mutate(text: data, &rng)
    }
}

/// Loading an image as hallu does for a model: decode, pad to a square, process to 16x16.
enum Images {
    static func consume(_ dir: URL, _ name: String) -> Outcome {
        let p = dir.appendingPathComponent(name).path
        return judge([p]) {
            _ = try ImagePipeline.loader(size: 16, processor: nil, root: dir)(name)
        }
    }
}

/// Loading a checkpoint folder and generating two tokens with it, as `hallu generate` does.
enum Generate {
    static func once(checkpoint dir: URL, seeds: Seeds) throws {
        let (model, codec, images) = try RunPipeline.loadModel(dir, dataDir: seeds.world)
        model.train(false)
        var cfg = GenerationConfig()
        cfg.maxNewTokens = 2
        cfg.eosTokenId = codec.eosId
        let image = try FileManager.default.contentsOfDirectory(atPath: seeds.world.appendingPathComponent("images/eval").path).sorted()[0]
        let inputs = LlavaInputs(ids: [codec.prompt("Describe the image.")], pixels: try images.batch(["images/eval/" + image]))
        let ids = try Generator(model: model).generate(inputs, cfg)[0]
        _ = codec.tokenizer.decode(ids)
    }
}
