import CoreRuntime
import Foundation

/// The valid inputs every case starts from, made once per process: a tiny scene world, a micro
/// checkpoint (config, weights, tokenizer, preprocessor, adapter) and one document of every other
/// kind a user hands to hallu.
final class Seeds {
    let root: URL
    let world: URL
    let checkpoint: URL
    let config: LlavaConfig
    /// Base documents by name (the files a case mutates).
    var docs: [String: Data] = [:]
    /// PNG files to mutate (made here and, when found, the repository's test images).
    var pngs: [Data] = []
    var jpegs: [Data] = []
    /// The plugins beside the binary: their data formats and the training files they export into a
    /// world (the world generator writes only what every method shares).
    let registry = PluginRegistry()
    /// The training files the world holds in every format hallu reads (conversations and the plugins' formats).
    private(set) var trainingFiles: [String] = [SceneWorld.Files.llava]

    init(root: URL, fixtures: URL?) throws {
        self.root = root
        try Folders.create(root)
        try registry.discover()
        trainingFiles += registry.worldExports.flatMap(\.files)
        // A scene world of 4 training and 2 eval images.
        var wc = WorldConfig()
        wc.seed = 5
        wc.trainImages = 4
        wc.evalImages = 2
        world = root.appendingPathComponent("world")
        if !FileManager.default.fileExists(atPath: world.appendingPathComponent(SceneWorld.Files.world).path) {
            try SceneWorld.synth(config: wc, outDir: world, exports: registry.worldExports)
        }
        for name in trainingFiles + [SceneWorld.Files.scenes, SceneWorld.Files.chairPrompts, SceneWorld.Files.chairGT,
                                     SceneWorld.Files.shrFacts, "pope_random.jsonl"] {
            let u = world.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: u.path) { docs[name] = try InputFile.read(u.path) }
        }

        // A micro checkpoint with a tokenizer trained on the world's text.
        let data = try Dataset.load(world.path, kinds: [.sft, .preference, .contrastive], catalog: registry.data)
        let tok = DefaultAssets.trainTokenizer(data, vocabSize: 120)
        guard let image = tok.id(of: "<image>") else { throw HalluError("the fuzz tokenizer lacks <image>") }
        let text = LlavaTextConfig(hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1, numAttentionHeads: 2,
                                   numKeyValueHeads: 1, maxPositionEmbeddings: 512, vocabSize: tok.vocabSize,
                                   bosTokenId: tok.bosId, eosTokenIds: tok.eosId.map { [$0] } ?? [], padTokenId: tok.padId)
        let vision = LlavaVisionConfig(hiddenSize: 8, intermediateSize: 16, numHiddenLayers: 2, numAttentionHeads: 2,
                                       imageSize: 16, patchSize: 8)
        config = LlavaConfig(text: text, vision: vision, imageTokenIndex: image, visionFeatureLayer: -2)
        checkpoint = root.appendingPathComponent("checkpoint")
        let model = LlavaModel(config, seed: 3)
        let tokFile = root.appendingPathComponent("tokenizer.json")
        try tok.save(tokFile.path)
        try model.save(to: checkpoint, tokenizerJSON: try InputFile.read(tokFile.path), preprocessor: .square(16))
        try CheckpointJSON.write(HalluCheckpointInfo(), to: checkpoint.appendingPathComponent(HalluCheckpointInfo.fileName))
        for name in ["config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json", HalluCheckpointInfo.fileName] {
            docs[name] = try InputFile.read(checkpoint.appendingPathComponent(name).path)
        }
        // Sharded weights and an adapter.
        let shards = root.appendingPathComponent("shards")
        try SafeTensorsIndex.write(model.weightArrays(), to: shards, maxShardBytes: 4000)
        for f in try FileManager.default.contentsOfDirectory(atPath: shards.path) {
            docs["shards/" + f] = try InputFile.read(shards.appendingPathComponent(f).path)
        }
        model.applyLoRA(targets: ["q_proj", "v_proj"], rank: 2, alpha: 4, dropout: 0, scope: "model.language_model", seed: 1)
        let adapter = try model.adapter(targets: ["q_proj", "v_proj"]).map { a -> LoRAAdapter in
            var a = a
            for k in a.modules.keys { a.modules[k]!.b.values = a.modules[k]!.b.values.indices.map { Float($0 % 7) * 0.01 } }
            return a
        }
        let adapterDir = root.appendingPathComponent("adapter")
        try adapter?.save(to: adapterDir)
        for f in [LoRAAdapter.configFileName, LoRAAdapter.weightsFileName] {
            docs["adapter/" + f] = try InputFile.read(adapterDir.appendingPathComponent(f).path)
        }
        // A safetensors file of several dtypes.
        docs["mixed.safetensors"] = try SafeTensors.encode(
            ["a": HostArray(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]), "b": HostArray(shape: [4], values: [0.5, -1, 2, 8]),
             "c": HostArray(shape: [1, 2, 2], values: [9, 8, 7, 6]), "e": HostArray(shape: [0], values: [])],
            metadata: ["format": "pt"], dtypes: ["b": .F16, "c": .BF16])

        // Evaluation files: captions and answers for the world's eval images.
        docs["captions.jsonl"] = Data(#"{"image_id": 1, "caption": "A red chair next to a dog on a couch."}"#.utf8 + [0x0A]
            + Data(#"{"image_id": 2, "caption": "A cup. A person is sitting."}"#.utf8) + [0x0A])
        docs["gt.json"] = Data(#"{"1": ["chair", "dog"], "2": ["cup", "person"], "3": []}"#.utf8)
        docs["questions.jsonl"] = Data((1...4).map { #"{"question_id": \#($0), "image": "a.png", "text": "Is there a dog in the image?", "label": "\#($0 % 2 == 0 ? "yes" : "no")"}"# }.joined(separator: "\n").utf8)
        docs["answers.jsonl"] = Data((1...4).map { #"{"question_id": \#($0), "answer": "\#($0 % 3 == 0 ? "No, there is not." : "Yes.")"}"# }.joined(separator: "\n").utf8)
        if let facts = docs[SceneWorld.Files.shrFacts], let first = try OrderedJSON.parseLines(facts).first?.value,
           case .object(let kv) = first, let id = kv.first(where: { $0.0 == "id" || $0.0 == "image_id" })?.1 {
            let idText = JSONMutator.text(id)
            docs["responses.jsonl"] = Data(#"{"image_id": \#(idText), "text": "There is a red chair. A dog sits on it."}"#.utf8)
        }
        docs["gt.json.gz"] = Data(try Zlib.compress([UInt8](docs["gt.json"]!)))
        docs["sweep.json"] = Data(#"{"name": "s", "base": {"preset": "tiny", "steps": 2, "lr": 0.001, "batch_size": 4}, "grid": {"method": ["sft"], "lr": [0.001, 0.0001]}, "list": [{"method": "sft", "weight.sft": 0.5}], "seeds": [0, 1]}"#.utf8)
        var rc = RunConfig()
        rc.steps = 3; rc.name = "run1"; rc.runsDir = "runs"; rc.evalImages = 2
        docs["run.json"] = try CheckpointJSON.encode(rc)
        docs["metrics.jsonl"] = Data((1...6).map { #"{"loss": \#(Double($0) / 10), "step": \#($0)}"# }.joined(separator: "\n").utf8 + [0x0A])

        // Images.
        var img = RGBImage(width: 7, height: 5)
        for y in 0..<5 { for x in 0..<7 { img[x, y] = RGB(UInt8(x * 30), UInt8(y * 40), UInt8((x + y) * 9)) } }
        pngs = [try PNGCodec.encode(img), try PNGCodec.encode(img, compression: .deflate(level: 6))]
        if let fixtures {
            let dir = fixtures.appendingPathComponent("data/images")
            for name in ["rgb.png", "filters.png", "gray.png", "rgba.png", "palette.png", "gray16.png"] {
                if let d = try? InputFile.read(dir.appendingPathComponent(name).path) { pngs.append(d) }
            }
            if let d = try? InputFile.read(dir.appendingPathComponent("photo.jpg").path) { jpegs.append(d) }
        }
    }
}
