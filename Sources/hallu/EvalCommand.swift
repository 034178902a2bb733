import CoreRuntime
import Foundation

/// One subcommand of a command that has several (`hallu eval chair`, `hallu data stats`). The parent
/// command declares the union of all flags (so `--help` lists them and typos get a suggestion); each
/// subcommand names the ones it accepts, and the dispatcher rejects the others.
struct Subcommand {
    let name: String
    let usage: String
    /// Names of the parent's flags this subcommand accepts.
    let flags: [String]
    /// Positional arguments after the subcommand name, e.g. `["DIR", "N"]`.
    var positionals: [String] = []
    let run: (Arguments, [String]) throws -> Int32
}

enum SubcommandDispatch {
    /// Runs the subcommand named by the first positional argument, after checking its flags and
    /// positional arguments.
    static func run(_ command: String, _ subcommands: [Subcommand], _ args: Arguments) throws -> Int32 {
        let names = subcommands.map(\.name)
        guard let name = args.positionals.first else {
            throw HalluError("hallu \(command): give a subcommand (\(names.joined(separator: ", "))). See `hallu \(command) --help`.")
        }
        guard let sub = subcommands.first(where: { $0.name == name }) else {
            let hint = Suggest.nearest(name, in: names).map { " Did you mean \"\($0)\"?" } ?? ""
            throw HalluError("hallu \(command): unknown subcommand \"\(name)\".\(hint) Known: \(names.joined(separator: ", ")).")
        }
        for given in args.values.keys.sorted() where !sub.flags.contains(given) {
            let hint = Suggest.nearest(given, in: sub.flags).map { " (did you mean --\($0)?)" } ?? ""
            throw HalluError("hallu \(command) \(name): --\(given) does not apply here\(hint). Usage: \(sub.usage)")
        }
        let rest = Array(args.positionals.dropFirst())
        if rest.count < sub.positionals.count {
            let missing = sub.positionals[rest.count...].joined(separator: " ")
            throw HalluError("hallu \(command) \(name): missing \(missing). Usage: \(sub.usage)")
        }
        if rest.count > sub.positionals.count {
            let extra = rest[sub.positionals.count...].map { "\"\($0)\"" }.joined(separator: " ")
            throw HalluError("hallu \(command) \(name): unexpected argument \(extra). Usage: \(sub.usage)")
        }
        return try sub.run(args, rest)
    }
}

extension Arguments {
    /// The value of a flag that must be given.
    func required(_ name: String, _ context: String) throws -> String {
        guard let v = string(name), !v.isEmpty else {
            throw HalluError("\(context): --\(name) is required")
        }
        return v
    }

    /// An integer flag that must be at least `minimum`.
    func int(_ name: String, atLeast minimum: Int) throws -> Int? {
        guard let v = try int(name) else { return nil }
        guard v >= minimum else { throw HalluError("--\(name): must be at least \(minimum), got \(v)") }
        return v
    }

    /// An integer flag within `range`.
    func int(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let v = try int(name) else { return nil }
        guard range.contains(v) else { throw HalluError("--\(name): must be from \(range.lowerBound) to \(range.upperBound), got \(v)") }
        return v
    }

    /// An integer flag checked against one of hallu's documented limits (and at least `minimum`).
    func int(_ name: String, atLeast minimum: Int, limit: SizeLimit) throws -> Int? {
        guard let v = try int(name, atLeast: minimum) else { return nil }
        try limit.check(v, "--\(name)")
        return v
    }

    /// A seed: a whole number from 0 to 2^64 - 1.
    func seed(_ name: String) throws -> UInt64? {
        guard let s = string(name) else { return nil }
        guard let v = UInt64(s.trimmingCharacters(in: .whitespaces)) else {
            throw HalluError("--\(name): expected a whole number from 0 to \(UInt64.max), got \"\(s)\"")
        }
        return v
    }
}

/// Fails with a message naming the flag unless a file given on the command line is a regular file
/// that can be opened (a folder, a FIFO or a device is refused without blocking).
/// `label` says where the path came from, e.g. "--captions".
func requireFile(_ path: String, _ label: String) throws {
    do { try InputFile.requireRegular(path) } catch let e as HalluError {
        throw HalluError("\(label) \(e.message)")
    }
}

/// Fails with a message naming the flag when a folder given on the command line does not exist.
func requireFolder(_ path: String, _ label: String) throws {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
        throw HalluError("\(label) \(path): no such folder")
    }
    guard isDir.boolValue else { throw HalluError("\(label) \(path): is a file, expected a folder") }
}

/// `hallu eval`: CHAIR, POPE and SHR of output files, every evaluator on a checkpoint, and the
/// file commands of plugins' evaluators (`hallu eval <name>`).
struct EvalCommand: Command {
    let name = "eval"
    let summary = "score outputs with CHAIR, POPE, SHR (and plugins' evaluators)"
    var usage: String {
        "hallu eval <\(subcommands.map(\.name).joined(separator: "|"))> ...\n" + subcommands.map { "  " + $0.usage }.joined(separator: "\n")
    }

    /// The plugins found beside hallu and named with --plugin: their evaluators add subcommands and
    /// flags, so they are loaded before the arguments are parsed.
    static let registry: Result<PluginRegistry, Error> = Result {
        let r = PluginRegistry()
        try r.discover()
        let argv = CommandLine.arguments
        for (a, b) in zip(argv, argv.dropFirst()) where a == "--plugin" { try r.load(b) }
        return r
    }

    /// Evaluators with a file command, other than the core's own.
    var pluginCommands: [(Evaluator, EvaluatorCommand)] {
        guard let r = try? Self.registry.get() else { return [] }
        let own = ["chair", "pope", "shr", "model"]
        return r.evaluators.compactMap { e in e.command.map { (e, $0) } }.filter { !own.contains($0.0.name) }
    }

    var flags: [Flag] {
        var out = coreFlags
        for (_, c) in pluginCommands {
            for f in c.flags where !out.contains(where: { $0.name == f.name }) {
                out.append(Flag(name: f.name, value: f.value, help: f.help, repeats: f.repeats))
            }
        }
        return out
    }

    let coreFlags = [
        Flag(name: "captions", value: "FILE", help: "chair: captions, JSON list or JSONL"),
        Flag(name: "gt", value: "FILE", help: "chair: ground-truth objects {\"<image id>\": [words]} (.gz ok)"),
        Flag(name: "caption-key", value: "KEY", help: "chair, shr: caption text key", defaultText: "caption, else text"),
        Flag(name: "image-id-key", value: "KEY", help: "chair, shr: image id key", defaultText: "image_id, else image, imageId"),
        Flag(name: "details", value: "FILE", help: "chair, shr: also write per-caption detail as JSON"),
        Flag(name: "questions", value: "FILE", help: "pope: questions (POPE's JSONL)"),
        Flag(name: "answers", value: "FILE", help: "pope: the model's answers (POPE, HA-DPO, LLaVA, VCD or lmms-eval layout)"),
        Flag(name: "answer-key", value: "KEY", help: "pope: answer text key", defaultText: "answer, else text"),
        Flag(name: "split", value: "NAME=QUESTIONS[:ANSWERS]", help: "pope: one split of several (repeat); without ANSWERS, its part of --answers", repeats: true),
        Flag(name: "categories", value: "FILE", help: "pope: question file naming each question_id's split (LLaVA's llava_pope_test.jsonl)"),
        Flag(name: "responses", value: "FILE", help: "shr: responses, {\"<image id>\": text} or records"),
        Flag(name: "facts", value: "FILE", help: "shr: scene facts per image"),
        Flag(name: "judge", value: "gt|chat", help: "shr: ground-truth judge or a chat model", defaultText: "gt"),
        Flag(name: "judge-url", value: "URL", help: "shr: OpenAI-compatible server of the chat judge"),
        Flag(name: "judge-model", value: "M", help: "shr: model name of the chat judge"),
        Flag(name: "judge-key-env", value: "VAR", help: "shr: environment variable holding the judge's API key"),
        Flag(name: "model", value: "DIR", help: "model: checkpoint folder"),
        Flag(name: "adapter", value: "DIR", help: "model: LoRA adapter folder to apply"),
        Flag(name: "data", value: "DIR", help: "model: data folder whose eval split is used", defaultText: "the cached default world"),
        Flag(name: "images", value: "N", help: "model: use the first N eval images", defaultText: "all"),
        Flag(name: "max-new-tokens", value: "N", help: "model: length of descriptions", defaultText: "128"),
        Flag(name: "batch-size", value: "N", help: "model: prompts per generation batch", defaultText: "64"),
        Flag(name: "out", value: "DIR", help: "model: where generations and metrics.json go", defaultText: "./eval-<model name>"),
        Flag(name: "allow-outside", value: nil, help: "model: let the eval files' image paths point outside --data"),
        Flag(name: "allow-nonfinite-weights", value: nil, help: "model: load a checkpoint holding NaN or infinite weights (with a warning)"),
        Flag(name: "num-beams", value: "K", help: "model: beam width; 1 is greedy or sampling", defaultText: "1"),
        Flag(name: "temperature", value: "T", help: "model: 0 is greedy; above 0 samples", defaultText: "0"),
        Flag(name: "top-p", value: "P", help: "model: nucleus sampling mass", defaultText: "1"),
        Flag(name: "seed", value: "S", help: "model: sampling seed", defaultText: "0"),
        Flag(name: "json", value: nil, help: "print JSON"),
        HalfProductsFlag.flag,
    ] + DecodeFlags.flags

    var subcommands: [Subcommand] {
        [Subcommand(name: "chair", usage: "hallu eval chair --captions FILE --gt FILE [--caption-key K] [--image-id-key K] [--details FILE] [--json]",
                    flags: ["captions", "gt", "caption-key", "image-id-key", "details", "json"], run: { a, _ in try chair(a) }),
         Subcommand(name: "pope", usage: "hallu eval pope (--questions FILE --answers FILE | --split NAME=QUESTIONS:ANSWERS ... | --answers FILE [--split NAME=QUESTIONS ... --categories FILE]) [--answer-key K] [--json]",
                    flags: ["questions", "answers", "answer-key", "split", "categories", "json"], run: { a, _ in try pope(a) }),
         Subcommand(name: "shr", usage: "hallu eval shr --responses FILE --facts FILE [--judge gt|chat --judge-url URL --judge-model M --judge-key-env VAR] [--details FILE] [--json]",
                    flags: ["responses", "facts", "judge", "judge-url", "judge-model", "judge-key-env", "caption-key", "image-id-key", "details", "json"],
                    run: { a, _ in try shr(a) }),
         Subcommand(name: "model", usage: "hallu eval model --model DIR [--adapter DIR] [--data DIR] [--images N] [--max-new-tokens N] [--batch-size N] [--out DIR] [--num-beams K | --temperature T --top-p P --seed S] [--decode NAME [--set NAME.KEY=VALUE ...]] [--plugin PATH] [--allow-outside] [--allow-nonfinite-weights] [--half-products MODE] [--json]",
                    flags: ["model", "adapter", "data", "images", "max-new-tokens", "batch-size", "out", "json",
                            "num-beams", "temperature", "top-p", "seed", "decode", "set", "plugin", "allow-outside",
                            "allow-nonfinite-weights", "half-products"], run: { a, _ in try model(a) })]
            + pluginCommands.map { e, c in
                Subcommand(name: e.name, usage: c.usage, flags: c.flags.map(\.name) + ["plugin", "json"], run: { a, _ in
                    let (report, text) = try c.run(EvaluatorArguments(command: e.name, values: a.values.filter { key, _ in c.flags.contains { $0.name == key } }))
                    if a.flag("json") { print(report.pretty()) } else { print(text) }
                    return 0
                })
            }
    }

    func run(_ args: Arguments) throws -> Int32 {
        _ = try Self.registry.get()
        return try SubcommandDispatch.run(name, subcommands, args)
    }

    func chair(_ args: Arguments) throws -> Int32 {
        let captions = try args.required("captions", "hallu eval chair"), gt = try args.required("gt", "hallu eval chair")
        try requireFile(captions, "--captions")
        try requireFile(gt, "--gt")
        let report = try CHAIREval.run(captionsPath: captions, gtPath: gt, captionKey: args.string("caption-key"),
                                       imageIdKey: args.string("image-id-key"))
        if let details = args.string("details") {
            try AtomicFile.write(try report.detailsJSON(), to: URL(fileURLWithPath: details))
        }
        if args.flag("json") { try printJSON(encodable: report) } else { print(report.renderTable()) }
        return 0
    }

    func pope(_ args: Arguments) throws -> Int32 {
        let key = args.string("answer-key")
        func output(_ report: POPEReport) throws -> Int32 {
            if args.flag("json") { try printJSON(encodable: report) } else { print(report.renderTable()) }
            return 0
        }
        // One answers file holding several splits (lmms-eval logs; LLaVA's llava_pope_test answers).
        if let answers = args.string("answers"), args.string("questions") == nil {
            try requireFile(answers, "--answers")
            let splits = try args.all("split").map(Self.parseCombinedSplit)
            try Self.rejectDuplicates(splits.map(\.name))
            for s in splits { try requireFile(s.questionsPath, "--split \(s.name)") }
            let categories = args.string("categories")
            if let categories { try requireFile(categories, "--categories") }
            return try output(try POPEEval.run(answersPath: answers, splits: splits, categoriesPath: categories, answerKey: key))
        }
        if args.string("categories") != nil {
            throw HalluError("--categories goes with one --answers file that holds several splits (and no --questions)")
        }
        let splits = try args.all("split").map(Self.parseSplit)
        if !splits.isEmpty {
            guard args.string("questions") == nil, args.string("answers") == nil else {
                throw HalluError("hallu eval pope: give either --questions and --answers, or --split (not both)")
            }
            try Self.rejectDuplicates(splits.map(\.name))
            for s in splits {
                try requireFile(s.questionsPath, "--split \(s.name)")
                try requireFile(s.answersPath, "--split \(s.name)")
            }
            return try output(try POPEEval.run(splits: splits, answerKey: key))
        }
        let questions = try args.required("questions", "hallu eval pope"), answers = try args.required("answers", "hallu eval pope")
        try requireFile(questions, "--questions")
        try requireFile(answers, "--answers")
        let metrics = try POPEEval.run(questionsPath: questions, answersPath: answers, answerKey: key)
        if args.flag("json") { try printJSON(encodable: metrics) } else { print(metrics.renderTable()) }
        return 0
    }

    static func rejectDuplicates(_ names: [String]) throws {
        if let dup = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
            throw HalluError("--split: split \"\(dup)\" is given twice")
        }
    }

    /// `NAME=QUESTIONS`, a split of a combined answers file.
    static func parseCombinedSplit(_ text: String) throws -> (name: String, questionsPath: String) {
        guard let eq = text.firstIndex(of: "="), eq != text.startIndex, text.index(after: eq) != text.endIndex else {
            throw HalluError("--split \(text): expected NAME=QUESTIONS with --answers, e.g. random=coco_pope_random.json")
        }
        return (String(text[..<eq]), String(text[text.index(after: eq)...]))
    }

    /// `NAME=QUESTIONS:ANSWERS`. When a path itself holds ':', the split point is the one at which
    /// both files exist.
    static func parseSplit(_ text: String) throws -> (name: String, questionsPath: String, answersPath: String) {
        let form = "--split \(text): expected NAME=QUESTIONS:ANSWERS, e.g. random=coco_pope_random.json:answers.jsonl"
        guard let eq = text.firstIndex(of: "=") else { throw HalluError(form) }
        let name = String(text[..<eq]), paths = String(text[text.index(after: eq)...])
        let colons = paths.indices.filter { paths[$0] == ":" }
        guard !name.isEmpty, !colons.isEmpty else { throw HalluError(form) }
        let candidates = colons.map { (String(paths[..<$0]), String(paths[paths.index(after: $0)...])) }
            .filter { !$0.0.isEmpty && !$0.1.isEmpty }
        guard let first = candidates.first else { throw HalluError(form) }
        let fm = FileManager.default
        let pick = candidates.first { fm.fileExists(atPath: $0.0) && fm.fileExists(atPath: $0.1) } ?? first
        return (name, pick.0, pick.1)
    }

    func shr(_ args: Arguments) throws -> Int32 {
        let responses = try args.required("responses", "hallu eval shr"), facts = try args.required("facts", "hallu eval shr")
        try requireFile(responses, "--responses")
        try requireFile(facts, "--facts")
        let judge = try Self.judge(args)
        let report = try SHREval.run(responsesPath: responses, sceneFactsPath: facts, judge: judge,
                                     textKey: args.string("caption-key"), imageIdKey: args.string("image-id-key"))
        if let details = args.string("details") {
            try CheckpointJSON.write(report.images, to: URL(fileURLWithPath: details))
        }
        if args.flag("json") { try printJSON(encodable: report) } else { print(report.renderTable()) }
        return 0
    }

    static func judge(_ args: Arguments) throws -> SentenceJudge {
        let kind = args.string("judge") ?? "gt"
        let chatFlags = ["judge-url", "judge-model", "judge-key-env"].filter { args.string($0) != nil }
        switch kind {
        case "gt":
            if let f = chatFlags.first { throw HalluError("--\(f) is for --judge chat; the gt judge reads the scene facts only") }
            return SceneGroundTruthJudge()
        case "chat":
            let text = try args.required("judge-url", "hallu eval shr --judge chat")
            let model = try args.required("judge-model", "hallu eval shr --judge chat")
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
                throw HalluError("--judge-url \(text): expected an http(s) URL such as http://127.0.0.1:8000")
            }
            return try ChatSentenceJudge(config: ChatJudgeConfig(url: url, model: model, apiKeyVariable: args.string("judge-key-env")))
        default:
            throw HalluError("--judge \(kind): expected gt or chat")
        }
    }

    func model(_ args: Arguments) throws -> Int32 {
        let modelPath = try args.required("model", "hallu eval model")
        try requireFolder(modelPath, "--model")
        let modelDir = URL(fileURLWithPath: modelPath).standardizedFileURL
        let adapter = args.string("adapter").map { URL(fileURLWithPath: $0) }
        if let adapter { try requireFolder(adapter.path, "--adapter") }
        var settings = EvalSettings()
        settings.images = try args.int("images", atLeast: 1)
        settings.maxNewTokens = try args.int("max-new-tokens", atLeast: 1, limit: Limits.newTokens) ?? settings.maxNewTokens
        settings.batchSize = try args.int("batch-size", atLeast: 1, limit: Limits.batchSize) ?? settings.batchSize
        let generation = try GenerateCommand.generationConfig(args)
        if generation.numBeams > 1 { settings.numBeams = generation.numBeams }
        if generation.temperature > 0 {
            settings.temperature = generation.temperature; settings.topP = generation.topP; settings.seed = generation.seed
        }
        let decoder = try DecodeFlags.decoder(args, registry: Self.registry.get())
        try HalfProductsFlag.apply(args)
        if Kernels.halfProducts != .widened { settings.halfProducts = Kernels.halfProducts.rawValue }
        settings.decode = decoder?.method.id
        settings.decodeOptions = decoder?.options
        let dataDir: URL
        if let d = args.string("data") {
            try requireFolder(d, "--data")
            dataDir = URL(fileURLWithPath: d)
            let needed = try Self.registry.get().evaluators.flatMap(\.requiredFiles)
            if let missing = needed.first(where: { !FileManager.default.fileExists(atPath: dataDir.appendingPathComponent($0).path) }) {
                throw HalluError.file(d, "no \(missing); --data needs a scene world's eval files (see `hallu data synth`)")
            }
        } else {
            dataDir = try DefaultAssets.world(seed: 0, log: eprint)
        }
        let out = URL(fileURLWithPath: args.string("out") ?? "eval-\(Self.displayName(modelDir))")
        try Folders.create(out)
        let loadStart = Date()
        let (model, codec, images) = try RunPipeline.loadModel(modelDir, dataDir: dataDir, adapter: adapter, precision: .stored,
                                                               allowOutside: args.flag("allow-outside"),
                                                               nonFinite: args.flag("allow-nonfinite-weights") ? .warn(eprint) : .refuse)
        if isatty(STDERR_FILENO) != 0 {
            eprint(String(format: "loaded %@ (%.2f GB of weights) in %.1f s", modelDir.path, Double(model.parameterBytes) / 1e9,
                          Date().timeIntervalSince(loadStart)))
        }
        let evaluators = try Self.registry.get().evaluators
        var evaluation = ModelEvaluation(model: model, codec: codec, images: images, dataDir: dataDir, settings: settings, evaluators: evaluators)
        evaluation.log = eprint
        evaluation.hooks = decoder.map { [$0.method] } ?? []
        evaluation.showProgress = true
        eprint("evaluating \(modelDir.path) on \(dataDir.path)" + (decoder.map { " with \($0.method.id) decoding" } ?? ""))
        let metrics = try evaluation.run(outDir: out)
        try CheckpointJSON.write(metrics, to: out.appendingPathComponent("metrics.json"))
        let cost = evaluation.decodingCost
        try CheckpointJSON.write(cost, to: out.appendingPathComponent("decoding_cost.json"))
        if args.flag("json") {
            try printJSON(encodable: metrics)
        } else {
            let texts = metrics.reports.map { r in evaluators.first { $0.name == r.name }?.text(r.report) ?? r.report.pretty() }
            print(texts.joined(separator: "\n\n"))
            if let w = metrics.emptyWarning { print("\nwarning: \(w)") }
            print(String(format: "\n%.2f forward passes per generated token, %.0f tokens/s", cost["forward_passes_per_token"] ?? 0,
                         cost["tokens_per_second"] ?? 0))
            print("generations, metrics.json and decoding_cost.json in \(out.path)")
        }
        return 0
    }

    /// The checkpoint's name for the default output folder: the folder's name, or its parent's when the
    /// folder is a run's `model` folder (runs/<name>/model).
    static func displayName(_ dir: URL) -> String {
        let last = dir.lastPathComponent
        if last == "model" {
            let parent = dir.deletingLastPathComponent().lastPathComponent
            if !parent.isEmpty && parent != "/" { return parent }
        }
        return last
    }
}
