import Foundation

/// Everything that determines a run. Resolved from defaults, then a config file, then flags, and
/// written to the run folder first, so every run can be repeated from its own folder.
public struct RunConfig: Codable, Equatable {
    /// Method id(s), joined with "+" for composition.
    public var method = "sft"
    /// Loss weight per method id in a composition (default 1).
    public var weights: [String: Double] = [:]
    /// Options per method id.
    public var methodOptions: [String: [String: String]] = [:]
    /// Extra plugin libraries to load.
    public var plugins: [String] = []
    /// Decoding method (`--decode NAME`) the trained and the base model are evaluated with;
    /// its options are set like a method's (`NAME.KEY=VALUE`). nil is plain greedy decoding.
    public var decode: String? = nil

    public var preset = "small"
    /// Base checkpoint folder; nil means the cached default baseline.
    public var base: String? = nil
    /// Data folder; nil means the cached default scene world.
    public var data: String? = nil

    public var steps: Int? = nil
    public var epochs: Double? = nil
    public var batchSize = 16
    public var gradAccum = 1
    public var lr = 3e-4
    /// Learning rate of the projector group (LLaVA's mm_projector_lr); nil = lr.
    public var projectorLr: Double? = nil
    public var weightDecay = 0.0
    public var schedule = "cosine"
    public var minLrRatio = 0.0
    public var warmupRatio = 0.0
    public var warmupSteps: Int? = nil
    public var clip = 1.0
    /// Batches of samples of similar length (less padding): each shuffled window of 50 batches is
    /// sorted by length, cut into batches, and the batches are shuffled (Hugging Face's
    /// `group_by_length`). Off by default: the batches of the papers' recipes are random.
    public var groupByLength = false
    /// Rebuild the decoder's cheap activations in backward (norm outputs, the MLP's gated product,
    /// attention probabilities) instead of keeping them: about a third less activation memory,
    /// the same gradients. On by default.
    public var recomputeActivations = true
    public var seed: UInt64 = 0
    public var threads: Int? = nil

    public var lora = false
    public var loraR = 8
    public var loraAlpha = 16.0
    public var loraDropout = 0.0
    public var loraTargets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    public var freezeVision = true
    public var freezeProjector = false
    public var freezeLanguageModel = false

    public var saveEvery = 100
    public var keepLast = 2
    public var evalEvery = 0
    public var logEvery = 10

    /// Evaluation: how many eval images to use (nil = all), generation length.
    public var evalImages: Int? = nil
    public var evalMaxNewTokens = 128
    public var skipEval = false

    public var runsDir = "runs"
    public var name: String? = nil

    public init() {}

    /// Method ids in a composition.
    /// The decoding method's id (`decode` of "none" or "" is plain decoding, so a sweep axis can list it).
    public var decodeId: String? { decode.flatMap { $0 == "none" || $0.isEmpty ? nil : $0 } }

    public var methodIds: [String] { method.split(separator: "+").map { String($0).trimmingCharacters(in: .whitespaces) } }

    /// Applies one `KEY=VALUE` override. Keys are trainer fields in snake_case ("lr", "batch_size",
    /// "trainer.lr") or method options ("<method>.<option>").
    public mutating func set(_ assignment: String) throws {
        guard let eq = assignment.firstIndex(of: "=") else { throw HalluError("--set \(assignment): expected KEY=VALUE") }
        var key = String(assignment[..<eq]), value = String(assignment[assignment.index(after: eq)...])
        if key.hasPrefix("trainer.") { key.removeFirst("trainer.".count) }
        if let dot = key.firstIndex(of: ".") {
            let m = String(key[..<dot]), opt = String(key[key.index(after: dot)...])
            guard !m.isEmpty, !opt.isEmpty else { throw HalluError("--set \(key): expected METHOD.OPTION=VALUE or weight.METHOD=VALUE") }
            if m == "weight" {
                let w = try Self.number(value.trimmingCharacters(in: .whitespaces), key)
                try RunConfigRanges.weight(w, key: key)
                weights[opt] = w
                return
            }
            methodOptions[m, default: [:]][opt] = value
            return
        }
        value = value.trimmingCharacters(in: .whitespaces)
        var dict = try JSONSerialization.jsonObject(with: JSONEncoder().encode(self)) as! [String: Any]
        guard let current = dict[key] ?? (Self.optionalKeys.contains(key) ? NSNull() : nil) else {
            let hint = Suggest.nearest(key, in: Array(dict.keys) + Self.optionalKeys).map { " (did you mean \"\($0)\"?)" } ?? ""
            throw HalluError("--set: unknown key \"\(key)\"\(hint)")
        }
        switch current {
        case is NSNull: dict[key] = Self.parseLoose(value)
        case is NSNumber where Self.booleanKeys.contains(key):
            guard let b = Self.boolean(value) else { throw HalluError("--set \(key): expected true or false, got \"\(value)\"") }
            dict[key] = b
        case is NSNumber: dict[key] = try Self.numberValue(value, key)
        case is [Any]: dict[key] = value.split(separator: ",").map(String.init)
        default: dict[key] = value
        }
        do {
            self = try JSONDecoder().decode(RunConfig.self, from: JSONSerialization.data(withJSONObject: dict))
        } catch let e as HalluError {
            throw HalluError("--set \(key)=\(value): \(e.message)")
        } catch let e as DecodingError {
            throw HalluError("--set \(key)=\(value): \(CheckpointJSON.describe(e))")
        }
    }

    static let booleanKeys: Set<String> = ["lora", "freeze_vision", "freeze_projector", "freeze_language_model", "skip_eval", "group_by_length",
                                          "recompute_activations"]
    static let optionalKeys = ["decode", "base", "data", "steps", "epochs", "projector_lr", "warmup_steps", "threads", "eval_images", "name"]

    static func number(_ s: String, _ key: String) throws -> Double {
        guard let v = Double(s) else { throw HalluError("--set \(key): expected a number, got \"\(s)\"") }
        guard v.isFinite else { throw HalluError("--set \(key): expected a finite number, got \"\(s)\"") }
        return v
    }

    /// A number as JSON should carry it: integers exactly (a seed above 2^53 keeps every digit).
    static func numberValue(_ s: String, _ key: String) throws -> Any {
        if let i = Int(s) { return i }
        if let u = UInt64(s) { return u }
        return try number(s, key)
    }
    static func boolean(_ s: String) -> Bool? {
        switch s.lowercased() { case "true", "1", "yes", "on": return true; case "false", "0", "no", "off": return false; default: return nil }
    }
    static func parseLoose(_ s: String) -> Any {
        if let i = Int(s) { return i }
        if let d = Double(s), d.isFinite { return d }
        return s
    }

    enum CodingKeys: String, CodingKey {
        case method, weights, plugins, decode, preset, base, data, steps, epochs, lr, schedule, clip, seed, threads, lora, name
        case methodOptions = "method_options", batchSize = "batch_size", gradAccum = "grad_accum", projectorLr = "projector_lr"
        case weightDecay = "weight_decay", minLrRatio = "min_lr_ratio", warmupRatio = "warmup_ratio", warmupSteps = "warmup_steps"
        case groupByLength = "group_by_length", recomputeActivations = "recompute_activations"
        case loraR = "lora_r", loraAlpha = "lora_alpha", loraDropout = "lora_dropout", loraTargets = "lora_targets"
        case freezeVision = "freeze_vision", freezeProjector = "freeze_projector", freezeLanguageModel = "freeze_language_model"
        case saveEvery = "save_every", keepLast = "keep_last", evalEvery = "eval_every", logEvery = "log_every"
        case evalImages = "eval_images", evalMaxNewTokens = "eval_max_new_tokens", skipEval = "skip_eval", runsDir = "runs_dir"
    }

    /// Decodes a config file, with defaults for absent keys and an error naming unknown keys.
    public static func load(_ path: String, over base: RunConfig = RunConfig()) throws -> RunConfig {
        guard let file = try JSONFiles.readJSON(path) as? [String: Any] else { throw HalluError.file(path, "expected a JSON object") }
        var dict = try JSONSerialization.jsonObject(with: JSONEncoder().encode(base)) as! [String: Any]
        let known = Set(dict.keys).union(optionalKeys)
        for (k, v) in file {
            guard known.contains(k) else {
                let hint = Suggest.nearest(k, in: Array(known)).map { " (did you mean \"\($0)\"?)" } ?? ""
                throw HalluError.file(path, "unknown key \"\(k)\"\(hint)")
            }
            dict[k] = v
        }
        do { return try JSONDecoder().decode(RunConfig.self, from: JSONSerialization.data(withJSONObject: dict)) }
        catch let e as HalluError { throw HalluError.file(path, e.message) }
        catch let e as DecodingError { throw HalluError.file(path, CheckpointJSON.describe(e)) }
    }
}

extension RunConfig {
    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func get<T: Decodable>(_ k: CodingKeys, _ into: inout T) throws { if let v = try c.decodeIfPresent(T.self, forKey: k) { into = v } }
        func opt<T: Decodable>(_ k: CodingKeys) throws -> T? { try c.decodeIfPresent(T.self, forKey: k) }
        // Whole numbers: exact, never through a conversion that traps (`Int(1e300)`).
        func int(_ k: CodingKeys) throws -> Int? {
            guard c.contains(k), !(try c.decodeNil(forKey: k)) else { return nil }
            if let i = try? c.decode(Int.self, forKey: k) { return i }
            let d = try c.decode(Double.self, forKey: k)
            guard let i = CheckedSize.integer(d) else { throw HalluError("\(k.stringValue): expected a whole number, got \(d)") }
            return i
        }
        try get(.method, &method); try get(.weights, &weights); try get(.methodOptions, &methodOptions); try get(.plugins, &plugins)
        try get(.preset, &preset); base = try opt(.base); data = try opt(.data); decode = try opt(.decode)
        steps = try int(.steps); epochs = try opt(.epochs)
        if let v = try int(.batchSize) { batchSize = v }
        if let v = try int(.gradAccum) { gradAccum = v }
        try get(.lr, &lr); projectorLr = try opt(.projectorLr); try get(.weightDecay, &weightDecay)
        try get(.schedule, &schedule); try get(.minLrRatio, &minLrRatio); try get(.warmupRatio, &warmupRatio)
        warmupSteps = try int(.warmupSteps)
        try get(.clip, &clip); try get(.groupByLength, &groupByLength); try get(.recomputeActivations, &recomputeActivations)
        if c.contains(.seed), !(try c.decodeNil(forKey: .seed)) {
            if let u = try? c.decode(UInt64.self, forKey: .seed) { seed = u } else {
                let v = try int(.seed) ?? 0
                guard v >= 0 else { throw HalluError("seed: must be a whole number from 0 to \(UInt64.max), got \(v)") }
                seed = UInt64(v)
            }
        }
        threads = try int(.threads)
        try get(.lora, &lora)
        if let v = try int(.loraR) { loraR = v }
        try get(.loraAlpha, &loraAlpha); try get(.loraDropout, &loraDropout); try get(.loraTargets, &loraTargets)
        try get(.freezeVision, &freezeVision); try get(.freezeProjector, &freezeProjector); try get(.freezeLanguageModel, &freezeLanguageModel)
        if let v = try int(.saveEvery) { saveEvery = v }
        if let v = try int(.keepLast) { keepLast = v }
        if let v = try int(.evalEvery) { evalEvery = v }
        if let v = try int(.logEvery) { logEvery = v }
        evalImages = try int(.evalImages)
        if let v = try int(.evalMaxNewTokens) { evalMaxNewTokens = v }
        try get(.skipEval, &skipEval); try get(.runsDir, &runsDir); name = try opt(.name)
        try checkRanges()
    }
}
