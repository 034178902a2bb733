import Foundation

/// One LoRA update: W' = W + scaling · B·A, with A of shape [r, in] and B of shape [out, r].
public struct LoRAPair: Equatable, Sendable {
    public var a: HostArray
    public var b: HostArray

    public init(a: HostArray, b: HostArray) {
        self.a = a
        self.b = b
    }

    /// The rank (rows of A).
    public var rank: Int { a.shape.first ?? 0 }
    /// The [out, in] shape of the adapted weight.
    public var weightShape: [Int] { [b.shape.first ?? 0, a.shape.last ?? 0] }
}

/// The two matrices of a LoRA pair.
public enum LoRAMatrix: String, Sendable {
    case a = "lora_A", b = "lora_B"
}

/// Key names of PEFT's `adapter_model.safetensors`:
/// `base_model.model.<module path>.lora_A.weight` and `.lora_B.weight`.
public enum PEFTNames {
    public static let prefix = "base_model.model."

    /// The file key for a module (given by hallu's name) in the chosen weight layout.
    public static func key(module: String, matrix: LoRAMatrix, layout: LlavaWeightLayout = .default) -> String {
        let path = layout.name(forCanonical: module + ".weight").dropLast(".weight".count)
        return "\(prefix)\(path).\(matrix.rawValue).weight"
    }

    /// The module (as hallu's name, from any layout) and matrix a key belongs to, or nil for keys
    /// that are not LoRA A/B weights.
    public static func parse(_ key: String) -> (module: String, matrix: LoRAMatrix)? {
        guard key.hasPrefix(prefix) else { return nil }
        let body = String(key.dropFirst(prefix.count))
        for m in [LoRAMatrix.a, .b] {
            let suffix = ".\(m.rawValue).weight"
            if body.hasSuffix(suffix) {
                let module = String(body.dropLast(suffix.count))
                guard !module.isEmpty else { return nil }
                let canonical = LlavaWeightLayout.canonicalName(module + ".weight").dropLast(".weight".count)
                return (String(canonical), m)
            }
        }
        return nil
    }
}

/// A LoRA adapter in PEFT's folder format: `adapter_config.json` and `adapter_model.safetensors`.
public struct LoRAAdapter: Equatable {
    public static let configFileName = "adapter_config.json"
    public static let weightsFileName = "adapter_model.safetensors"

    public var config: LoRAAdapterConfig
    /// LoRA pairs by module path in hallu's names, e.g. `model.language_model.layers.0.self_attn.q_proj`.
    public var modules: [String: LoRAPair]

    public init(config: LoRAAdapterConfig, modules: [String: LoRAPair]) {
        self.config = config
        self.modules = modules
    }

    /// Reads an adapter folder, accepting any `LlavaWeightLayout` in the keys. Every tensor must be
    /// one half of a complete pair of consistent shapes and rank `r`.
    public static func load(from folder: URL) throws -> LoRAAdapter {
        let config = try LoRAAdapterConfig.load(folder.appendingPathComponent(configFileName).path)
        let path = folder.appendingPathComponent(weightsFileName).path
        let arrays = try SafeTensors.read(path)
        var halves: [String: (a: HostArray?, b: HostArray?)] = [:]
        for key in arrays.keys.sorted() {
            guard let (module, matrix) = PEFTNames.parse(key) else {
                throw HalluError.file(path, "tensor \"\(key)\" is not a LoRA weight (expected \(PEFTNames.prefix)<module>.lora_A.weight or .lora_B.weight; embedding adapters, DoRA and saved modules are not supported)")
            }
            var entry = halves[module] ?? (nil, nil)
            let duplicate = matrix == .a ? entry.a != nil : entry.b != nil
            if duplicate { throw HalluError.file(path, "module \(module) has two \(matrix.rawValue) weights (mixed key layouts)") }
            if matrix == .a { entry.a = arrays[key] } else { entry.b = arrays[key] }
            halves[module] = entry
        }
        var modules: [String: LoRAPair] = [:]
        for (module, entry) in halves {
            guard let a = entry.a else { throw HalluError.file(path, "module \(module) has lora_B but no lora_A") }
            guard let b = entry.b else { throw HalluError.file(path, "module \(module) has lora_A but no lora_B") }
            let pair = LoRAPair(a: a, b: b)
            try check(pair, module: module, rank: config.r, file: path)
            modules[module] = pair
        }
        return LoRAAdapter(config: config, modules: modules)
    }

    /// Writes the adapter folder with keys in `layout` (atomically per file).
    public func save(to folder: URL, layout: LlavaWeightLayout = .default) throws {
        let path = folder.appendingPathComponent(Self.weightsFileName)
        var arrays: [String: HostArray] = [:]
        for (module, pair) in modules {
            try Self.check(pair, module: module, rank: config.r, file: path.path)
            arrays[PEFTNames.key(module: module, matrix: .a, layout: layout)] = pair.a
            arrays[PEFTNames.key(module: module, matrix: .b, layout: layout)] = pair.b
        }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try SafeTensors.write(arrays, to: path, metadata: ["format": "pt"])
        try config.save(to: folder.appendingPathComponent(Self.configFileName))
    }

    /// Checks every pair against the base model's weight shapes (hallu's names): each adapted
    /// module must exist as `<module>.weight` with shape [out, in] = [rows of B, columns of A].
    public func validate(againstBase shapes: [String: [Int]], file: String) throws {
        for module in modules.keys.sorted() {
            let pair = modules[module]!
            guard let w = shapes[module + ".weight"] else {
                throw HalluError.file(file, "adapter for \(module), which the base model does not have")
            }
            if w != pair.weightShape {
                throw HalluError.file(file, "adapter for \(module) has lora_A \(pair.a.shape) and lora_B \(pair.b.shape), which do not fit its weight \(w)")
            }
        }
    }

    private static func check(_ pair: LoRAPair, module: String, rank: Int, file: String) throws {
        try pair.a.validate(name: "\(module).lora_A", file: file)
        try pair.b.validate(name: "\(module).lora_B", file: file)
        guard pair.a.shape.count == 2, pair.b.shape.count == 2 else {
            throw HalluError.file(file, "module \(module): lora_A \(pair.a.shape) and lora_B \(pair.b.shape) must both be matrices")
        }
        guard pair.a.shape[0] == rank, pair.b.shape[1] == rank else {
            throw HalluError.file(file, "module \(module): lora_A \(pair.a.shape) and lora_B \(pair.b.shape) do not have rank r = \(rank)")
        }
    }
}
