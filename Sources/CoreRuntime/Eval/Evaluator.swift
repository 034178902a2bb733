import Foundation

/// One number of an evaluator's report, as tables show it (the terminal's baseline-vs-method table,
/// report.html, sweep tables).
public struct MetricValue: Equatable, Sendable {
    /// A key unique across evaluators, e.g. "chair_s" (a sweep table's column id).
    public var key: String
    /// The label in a run's tables (terminal, report.html), e.g. "CHAIR recall".
    public var label: String
    /// The heading in sweep tables, e.g. "recall" (under its group).
    public var title: String
    public var value: Double
    /// Whether lower is better (nil: neither, e.g. a length).
    public var lowerIsBetter: Bool?
    /// Decimals in tables.
    public var decimals: Int
    /// The heading a group of columns shares in sweep tables (e.g. "POPE random").
    public var group: String?
    /// The column's short label under its group.
    public var short: String?

    public init(key: String, label: String, title: String? = nil, value: Double, lowerIsBetter: Bool?, decimals: Int = 3,
                group: String? = nil, short: String? = nil) {
        self.key = key; self.label = label; self.title = title ?? label; self.value = value; self.lowerIsBetter = lowerIsBetter
        self.decimals = decimals; self.group = group; self.short = short
    }
}

/// `hallu eval <name>` on files: an evaluator's command-line form. The CLI lists the flags, parses
/// them, and hands over their values by name (several for a flag that repeats).
public struct EvaluatorCommand {
    public struct Flag {
        public var name: String
        /// The value's placeholder ("FILE"), nil for a switch.
        public var value: String?
        public var help: String
        public var repeats: Bool
        public init(_ name: String, value: String?, help: String, repeats: Bool = false) {
            self.name = name; self.value = value; self.help = help; self.repeats = repeats
        }
    }
    public var usage: String
    public var flags: [Flag]
    /// Scores files: the report, printed as JSON with `--json`, and its text for the terminal.
    public var run: (_ arguments: EvaluatorArguments) throws -> (report: OrderedJSON, text: String)

    public init(usage: String, flags: [Flag], run: @escaping (_ arguments: EvaluatorArguments) throws -> (report: OrderedJSON, text: String)) {
        self.usage = usage; self.flags = flags; self.run = run
    }
}

/// The flags `hallu eval <name>` was given (only those its command declares), with errors that
/// name the command and the flag.
public struct EvaluatorArguments {
    /// The evaluator's name (the subcommand).
    public let command: String
    /// Every value of each flag given, in command-line order.
    public let values: [String: [String]]

    public init(command: String, values: [String: [String]]) {
        self.command = command; self.values = values
    }

    /// The value of a flag that must be given (its last value when repeated).
    public func required(_ flag: String) throws -> String {
        guard let v = values[flag]?.last, !v.isEmpty else { throw HalluError("hallu eval \(command): --\(flag) is required") }
        return v
    }

    /// The value of a flag (its last value when repeated), nil when it was not given.
    public func optional(_ flag: String) -> String? { values[flag]?.last }

    /// Every value of a repeatable flag.
    public func all(_ flag: String) -> [String] { values[flag] ?? [] }
}

/// Scores a model on a data folder's eval files. CHAIR, POPE and SHR are the core's evaluators; a
/// plugin registers more (`HalluPlugin.evaluators`), and each appears in `eval/metrics.json` and
/// `summary.json` under its name, in report.html and sweep tables through its headline numbers,
/// and as `hallu eval <name>` when it has a command.
public protocol Evaluator: AnyObject {
    /// The key of its report in metrics.json, and the `hallu eval` subcommand.
    var name: String { get }
    /// One line for listings.
    var summary: String { get }
    /// The files of a data folder it reads (checked before a model is evaluated on a folder).
    var requiredFiles: [String] { get }
    /// Scores the context's model; the report is a JSON object (metrics.json[name]).
    func evaluate(_ context: EvaluationContext) throws -> OrderedJSON
    /// The report's numbers for tables. Default: every number at the top level of the report.
    func headline(_ report: OrderedJSON) -> [MetricValue]
    /// The report for the terminal. Default: the headline numbers, one per line.
    func text(_ report: OrderedJSON) -> String
    /// `hallu eval <name>` on files (nil: none).
    var command: EvaluatorCommand? { get }
}

extension Evaluator {
    public var requiredFiles: [String] { [] }
    public func headline(_ report: OrderedJSON) -> [MetricValue] { Evaluators.numbers(of: report, evaluator: name) }
    public func text(_ report: OrderedJSON) -> String {
        "\(name)\n" + headline(report).map { "  " + $0.label.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "%.\($0.decimals)f", $0.value) }
            .joined(separator: "\n")
    }
    public var command: EvaluatorCommand? { nil }
}

/// The core's evaluators and the helpers around them.
public enum Evaluators {
    /// CHAIR, POPE (three splits) and SHR, in that order: the CLI contract's metrics.
    public static func builtIn() -> [Evaluator] { [CHAIRModelEvaluator(), POPEModelEvaluator(), SHRModelEvaluator()] }

    /// The headline of a report whose evaluator is not at hand (its plugin is not loaded): the
    /// built-ins' own rules for their names, else every top-level number.
    public static func headline(_ name: String, _ report: OrderedJSON, among evaluators: [Evaluator] = builtIn()) -> [MetricValue] {
        if let e = evaluators.first(where: { $0.name == name }) { return e.headline(report) }
        if let e = builtIn().first(where: { $0.name == name }) { return e.headline(report) }
        return numbers(of: report, evaluator: name)
    }

    /// Every number at the top level of a report, keyed "<evaluator>_<field>".
    public static func numbers(of report: OrderedJSON, evaluator: String) -> [MetricValue] {
        guard case .object(let kv) = report else { return [] }
        return kv.compactMap { k, v in
            let x: Double
            switch v {
            case .int(let i): x = Double(i)
            case .number(let d): x = d
            default: return nil
            }
            return MetricValue(key: "\(evaluator)_\(k)", label: "\(evaluator) \(k)", value: x, lowerIsBetter: nil,
                               group: evaluator, short: k)
        }
    }
}

/// What an evaluator sees: the model and its text and image pipelines, the data folder, the
/// generation settings, where its files go, and generation shared among evaluators.
public final class EvaluationContext {
    public let model: LlavaModel
    public let codec: PromptCodec
    public let images: ImageStore
    public let dataDir: URL
    public let settings: EvalSettings
    /// Where evaluators write their files (generations, details).
    public let outDir: URL
    public var log: (String) -> Void
    /// Decoding hooks every generation goes through (a method's, then the decoding method's).
    public var hooks: [DecodingHook]
    /// What generation cost so far (forward passes, tokens) and its wall time in seconds.
    public private(set) var cost = GenerationStats()
    public private(set) var generationSeconds = 0.0
    /// Answers generated so far, and how many of them were empty.
    public private(set) var generations = 0
    public private(set) var emptyGenerations = 0
    /// Whether `answer` shows a progress bar with an ETA over the prompts (on a terminal; log lines
    /// every few seconds otherwise).
    public var showProgress = false

    public init(model: LlavaModel, codec: PromptCodec, images: ImageStore, dataDir: URL, settings: EvalSettings, outDir: URL,
                hooks: [DecodingHook] = [], log: @escaping (String) -> Void = { _ in }) {
        self.model = model; self.codec = codec; self.images = images; self.dataDir = dataDir; self.settings = settings
        self.outDir = outDir; self.hooks = hooks; self.log = log
    }

    /// A file of the data folder.
    public func file(_ name: String) -> String { dataDir.appendingPathComponent(name).path }

    /// Answers to `(image, question)` prompts (decoded as `settings` and `hooks` say), in batches of
    /// `settings.batchSize`, without a tape.
    public func answer(_ prompts: [(image: String, question: String)], maxNewTokens: Int) throws -> [String] {
        var out: [String] = []
        var cfg = settings.generation
        cfg.maxNewTokens = maxNewTokens
        cfg.eosTokenId = codec.eosId
        let gen = Generator(model: model, hooks: hooks)
        let wasTraining = model.training
        model.train(false)
        defer { model.train(wasTraining) }
        let batch = max(settings.batchSize, 1)
        let progress = showProgress ? Progress(total: prompts.count, unit: "answer", log: log) : nil
        for start in stride(from: 0, to: prompts.count, by: batch) {
            let chunk = prompts[start..<min(start + batch, prompts.count)]
            let ids = chunk.map { codec.prompt($0.question) }
            let inputs = LlavaInputs(ids: ids, pixels: try images.batch(chunk.map(\.image)))
            let clock = Date()
            let (generated, stats) = try gen.generateWithStats(inputs, cfg)
            generationSeconds += Date().timeIntervalSince(clock)
            cost += stats
            for g in generated {
                let text = codec.tokenizer.decode(g.filter { $0 != codec.eosId }).trimmingCharacters(in: .whitespaces)
                generations += 1
                if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { emptyGenerations += 1 }
                out.append(text)
            }
            progress?.update(out.count)
        }
        progress?.finish()
        return out
    }

    /// One description prompt of an eval image.
    public struct DescriptionPrompt {
        public var id: String
        public var image: String
        public var text: String
    }

    /// The eval images and their description prompts (`chair_prompts.jsonl` of the data folder; the
    /// first `settings.images` when set).
    public func descriptionPrompts() throws -> [DescriptionPrompt] {
        if let cached = prompts { return cached }
        let path = file(SceneWorld.Files.chairPrompts)
        var out = try JSONFiles.readJSONLines(path).map { line, r -> DescriptionPrompt in
            guard let image = r["image"] as? String else { throw HalluError.missingKey("image", in: path, line: line) }
            let id = ImageID.canonical(r["image_id"] ?? image) ?? image
            return DescriptionPrompt(id: id, image: image, text: (r["text"] as? String) ?? "Please describe this image in detail.")
        }
        if let n = settings.images { out = Array(out.prefix(n)) }
        prompts = out
        return out
    }
    private var prompts: [DescriptionPrompt]?

    /// The description of every eval image (`descriptionPrompts`, up to `settings.maxNewTokens`),
    /// generated once and shared by every evaluator that reads descriptions; also written to
    /// `chair_captions.jsonl` in `outDir`.
    public func descriptions() throws -> [String] {
        if let cached = generated { return cached }
        let prompts = try descriptionPrompts()
        let captions = try answer(prompts.map { ($0.image, $0.text) }, maxNewTokens: settings.maxNewTokens)
        var lines = ""
        for (p, c) in zip(prompts, captions) {
            let rec: [String: Any] = ["image_id": p.id, "image": p.image, "text": c]
            lines += String(data: try JSONSerialization.data(withJSONObject: rec, options: [.sortedKeys]), encoding: .utf8)! + "\n"
        }
        try AtomicFile.write(lines, to: outDir.appendingPathComponent("chair_captions.jsonl"))
        generated = captions
        return captions
    }
    private var generated: [String]?

    /// The images the evaluation is restricted to.
    public func imagesInUse() throws -> Set<String> { Set(try descriptionPrompts().map(\.image)) }
}
