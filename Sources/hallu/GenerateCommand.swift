import CoreRuntime
import Foundation

/// `hallu generate`: one answer of a checkpoint to a prompt about an image.
struct GenerateCommand: Command {
    let name = "generate"
    let summary = "describe an image with a checkpoint"
    let usage = "hallu generate --model DIR [--adapter DIR] --image FILE --prompt TEXT [--max-new-tokens N] "
        + "[--num-beams K] [--length-penalty X] [--temperature T --top-p P --top-k K --seed S] [--decode NAME [--set NAME.KEY=VALUE ...]] [--half-products MODE] [--json]"
    let flags = [
        Flag(name: "model", value: "DIR", help: "checkpoint folder (config, weights, tokenizer.json)"),
        Flag(name: "adapter", value: "DIR", help: "LoRA adapter folder to apply"),
        Flag(name: "image", value: "FILE", help: "image file (PNG or JPEG)"),
        Flag(name: "prompt", value: "TEXT", help: "the question; the image goes in front of it"),
        Flag(name: "max-new-tokens", value: "N", help: "longest answer in tokens", defaultText: "64"),
        Flag(name: "num-beams", value: "K", help: "beam width; 1 is greedy or sampling", defaultText: "1"),
        Flag(name: "length-penalty", value: "X", help: "beam scores are divided by length^X", defaultText: "1"),
        Flag(name: "temperature", value: "T", help: "0 is greedy; above 0 samples", defaultText: "0"),
        Flag(name: "top-p", value: "P", help: "nucleus sampling mass", defaultText: "1"),
        Flag(name: "top-k", value: "K", help: "sample among the K most likely tokens; 0 is all", defaultText: "0"),
        Flag(name: "seed", value: "S", help: "sampling seed", defaultText: "0"),
        Flag(name: "json", value: nil, help: "print {\"prompt_ids\", \"ids\", \"text\"}"),
        Flag(name: "allow-nonfinite-weights", value: nil, help: "load a checkpoint holding NaN or infinite weights (with a warning)"),
        HalfProductsFlag.flag,
    ] + DecodeFlags.flags

    /// Decoding settings from the flags, checked for ranges and for combinations that would be ignored.
    static func generationConfig(_ args: Arguments) throws -> GenerationConfig {
        var cfg = GenerationConfig()
        cfg.maxNewTokens = try args.int("max-new-tokens", atLeast: 0, limit: Limits.newTokens) ?? cfg.maxNewTokens
        cfg.numBeams = try args.int("num-beams", atLeast: 1, limit: Limits.beams) ?? cfg.numBeams
        if let x = try args.double("length-penalty") {
            guard x.isFinite else { throw HalluError("--length-penalty: must be a finite number") }
            cfg.lengthPenalty = Float(x)
        }
        if let t = try args.double("temperature") {
            guard t >= 0, t.isFinite else { throw HalluError("--temperature: must be 0 or more, got \(t)") }
            cfg.temperature = Float(t)
        }
        if let p = try args.double("top-p") {
            guard p > 0, p <= 1 else { throw HalluError("--top-p: must be in (0, 1], got \(p)") }
            cfg.topP = Float(p)
        }
        cfg.topK = try args.int("top-k", atLeast: 0) ?? cfg.topK
        if let seed = try args.seed("seed") { cfg.seed = seed }
        let sampling = ["top-p", "top-k", "seed"].filter { args.string($0) != nil }
        if cfg.numBeams > 1, cfg.temperature > 0 || !sampling.isEmpty {
            throw HalluError("--num-beams \(cfg.numBeams) is beam search, which does not sample; drop --temperature/--top-p/--top-k/--seed or use --num-beams 1")
        }
        if cfg.temperature == 0, let f = sampling.first {
            throw HalluError("--\(f) applies to sampling; give --temperature above 0 as well")
        }
        if cfg.numBeams == 1, args.string("length-penalty") != nil {
            throw HalluError("--length-penalty applies to beam search; give --num-beams 2 or more as well")
        }
        return cfg
    }

    func run(_ args: Arguments) throws -> Int32 {
        if let extra = args.positionals.first {
            throw HalluError("hallu generate: unexpected argument \"\(extra)\" (the prompt goes after --prompt)")
        }
        let modelPath = try args.required("model", "hallu generate")
        let imagePath = try args.required("image", "hallu generate")
        guard let prompt = args.string("prompt") else { throw HalluError("hallu generate: --prompt is required") }
        try requireFolder(modelPath, "--model")
        try requireFile(imagePath, "--image")
        let adapter = args.string("adapter").map { URL(fileURLWithPath: $0) }
        if let adapter { try requireFolder(adapter.path, "--adapter") }
        var cfg = try Self.generationConfig(args)
        let decoder = try DecodeFlags.decoder(args)
        try HalfProductsFlag.apply(args)

        let loadStart = Date()
        let (model, codec, images) = try RunPipeline.loadModel(URL(fileURLWithPath: modelPath), dataDir: nil, adapter: adapter,
                                                               precision: .stored,
                                                               nonFinite: args.flag("allow-nonfinite-weights") ? .warn(eprint) : .refuse)
        // On a terminal: how the load went, and a progress bar with an ETA over the new tokens.
        let terminal = isatty(STDERR_FILENO) != 0
        if terminal {
            eprint(String(format: "loaded %@ (%.2f GB of weights) in %.1f s", modelPath, Double(model.parameterBytes) / 1e9,
                          Date().timeIntervalSince(loadStart)))
        }
        model.train(false)
        cfg.eosTokenId = codec.eosId
        let promptIds = codec.prompt(prompt)
        let placeholders = promptIds.filter { $0 == codec.imageTokenIndex }.count
        guard placeholders == 1 else {
            throw HalluError("--prompt: holds the image placeholder \(placeholders) times; one image is given, so leave <image> out or use it once")
        }
        let image = URL(fileURLWithPath: imagePath).standardizedFileURL.path
        let inputs = LlavaInputs(ids: [promptIds], pixels: try images.batch([image]))
        let progress = terminal ? GenerationProgress(maxNewTokens: cfg.maxNewTokens, log: eprint) : nil
        let hooks: [DecodingHook] = (progress.map { [$0] } ?? []) + (decoder.map { [$0.method] } ?? [])
        let ids = try Generator(model: model, hooks: hooks).generate(inputs, cfg)[0]
        progress?.finish()
        let text = codec.tokenizer.decode(ids.filter { $0 != codec.eosId }).trimmingCharacters(in: .whitespacesAndNewlines)
        if args.flag("json") {
            try printJSON(["prompt_ids": promptIds, "ids": ids, "text": text] as [String: Any])
        } else {
            print(text)
        }
        return 0
    }
}
