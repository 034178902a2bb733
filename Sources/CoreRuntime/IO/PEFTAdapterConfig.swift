import Foundation

/// PEFT's `adapter_config.json` for a LoRA adapter. Options that change the math in ways hallu does
/// not implement (DoRA, per-module ranks, bias training, transposed weights, saved full modules)
/// are refused on load rather than ignored.
public struct LoRAAdapterConfig: Codable, Equatable, Sendable {
    /// Which modules get adapters: PEFT matches a list by exact name or dotted suffix, and a
    /// single string as a regular expression over the whole module path.
    public enum Targets: Equatable, Sendable {
        case names([String])
        case regex(String)
    }

    public var r: Int
    public var loraAlpha: Double
    public var loraDropout: Double
    public var targetModules: Targets
    public var taskType: String?
    public var baseModelNameOrPath: String?
    public var inferenceMode: Bool
    /// rsLoRA scales by alpha / sqrt(r) instead of alpha / r.
    public var useRslora: Bool

    public init(r: Int, loraAlpha: Double, loraDropout: Double = 0, targetModules: Targets,
                taskType: String? = "CAUSAL_LM", baseModelNameOrPath: String? = nil,
                inferenceMode: Bool = true, useRslora: Bool = false) {
        self.r = r
        self.loraAlpha = loraAlpha
        self.loraDropout = loraDropout
        self.targetModules = targetModules
        self.taskType = taskType
        self.baseModelNameOrPath = baseModelNameOrPath
        self.inferenceMode = inferenceMode
        self.useRslora = useRslora
    }

    /// The factor on B·A in W + scaling · B·A.
    public var scaling: Double { useRslora ? loraAlpha / Double(r).squareRoot() : loraAlpha / Double(r) }

    /// Whether PEFT would put an adapter on the module at `path` (e.g.
    /// `model.language_model.layers.0.self_attn.q_proj`).
    public func targets(_ path: String) -> Bool {
        switch targetModules {
        case .names(let names):
            return names.contains { path == $0 || path.hasSuffix("." + $0) }
        case .regex(let pattern):
            guard let re = try? NSRegularExpression(pattern: "^(?:\(pattern))$") else { return false }
            return re.firstMatch(in: path, range: NSRange(path.startIndex..., in: path)) != nil
        }
    }

    /// Reads `adapter_config.json`; errors name the file and key.
    public static func load(_ path: String) throws -> LoRAAdapterConfig {
        try CheckpointJSON.read(LoRAAdapterConfig.self, from: path)
    }

    /// Atomically writes `adapter_config.json`.
    public func save(to url: URL) throws { try CheckpointJSON.write(self, to: url) }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        let type: String = try c.required("peft_type")
        if type != "LORA" { throw c.invalid("peft_type", "only \"LORA\" adapters are supported, found \"\(type)\"") }
        r = try c.positive("r")
        if r > Limits.loraRank.value {
            throw c.invalid("r", "\(r) is above the limit of \(Limits.loraRank.value) for the LoRA rank (set \(Limits.loraRank.variable) to raise it)")
        }
        loraAlpha = try c.optional("lora_alpha", default: 8)
        if !loraAlpha.isFinite { throw c.invalid("lora_alpha", "must be a finite number, found \(loraAlpha)") }
        loraDropout = try c.optional("lora_dropout", default: 0)
        if !(0..<1).contains(loraDropout) { throw c.invalid("lora_dropout", "must be in [0, 1), found \(loraDropout)") }
        if let list = try? c.optional("target_modules", as: [String].self) {
            targetModules = .names(list)
        } else {
            let s: String = try c.required("target_modules")
            if (try? NSRegularExpression(pattern: s)) == nil {
                throw c.invalid("target_modules", "not a valid regular expression: \(s)")
            }
            targetModules = .regex(s)
        }
        taskType = try c.optional("task_type")
        baseModelNameOrPath = try c.optional("base_model_name_or_path")
        inferenceMode = try c.optional("inference_mode", default: true)
        useRslora = try c.optional("use_rslora", default: false)

        let bias = try c.optional("bias", default: "none")
        if bias != "none" { throw c.invalid("bias", "only \"none\" is supported, found \"\(bias)\"") }
        if try c.optional("fan_in_fan_out", default: false) {
            throw c.invalid("fan_in_fan_out", "transposed (Conv1D-style) weights are not supported")
        }
        if try c.optional("use_dora", default: false) { throw c.invalid("use_dora", "DoRA adapters are not supported") }
        if try c.optional("lora_bias", default: false) { throw c.invalid("lora_bias", "LoRA biases are not supported") }
        for key in ["rank_pattern", "alpha_pattern"] {
            if let p: [String: Double] = try c.optional(key), !p.isEmpty {
                throw c.invalid(key, "per-module ranks and alphas are not supported")
            }
        }
        if let m: [String] = try c.optional("modules_to_save"), !m.isEmpty {
            throw c.invalid("modules_to_save", "fully trained modules in an adapter are not supported")
        }
    }

    /// Writes the keys PEFT writes, with the values hallu supports.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.encode("LORA", forKey: "peft_type")
        try c.encode(r, forKey: "r")
        if loraAlpha == loraAlpha.rounded(), abs(loraAlpha) < 1e15 {
            try c.encode(Int(loraAlpha), forKey: "lora_alpha")
        } else {
            try c.encode(loraAlpha, forKey: "lora_alpha")
        }
        try c.encode(loraDropout, forKey: "lora_dropout")
        switch targetModules {
        case .names(let n): try c.encode(n.sorted(), forKey: "target_modules")
        case .regex(let s): try c.encode(s, forKey: "target_modules")
        }
        try c.encode(taskType, forKey: "task_type")
        try c.encode(baseModelNameOrPath, forKey: "base_model_name_or_path")
        try c.encode(inferenceMode, forKey: "inference_mode")
        try c.encode(useRslora, forKey: "use_rslora")
        try c.encode("none", forKey: "bias")
        try c.encode(false, forKey: "fan_in_fan_out")
        try c.encode(false, forKey: "use_dora")
        try c.encode(true, forKey: "init_lora_weights")
        try c.encode([String: Int](), forKey: "rank_pattern")
        try c.encode([String: Int](), forKey: "alpha_pattern")
        try c.encodeNil(forKey: "modules_to_save")
        try c.encodeNil(forKey: "layers_to_transform")
        try c.encodeNil(forKey: "layers_pattern")
        try c.encodeNil(forKey: "revision")
    }
}
