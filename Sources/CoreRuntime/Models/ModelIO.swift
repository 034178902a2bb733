import Foundation

extension Tensor {
    /// A host copy of the elements (for files).
    public var hostArray: HostArray { HostArray(shape: shape, values: values) }
    /// A tensor holding a host array's elements.
    public convenience init(_ a: HostArray) throws { try self.init(a.values, shape: a.shape) }
}

/// How `LlavaModel.load` holds a checkpoint's weights.
public enum WeightPrecision: String, Sendable, CaseIterable {
    /// Every weight as float32, as training needs them (16-bit files are widened once at load).
    case float32
    /// Linear layers' and the token embedding's bf16/f16 weights stay 16-bit, widened inside the
    /// matrix products (float32 accumulation); the rest as float32. For inference.
    case stored
}

/// Named tensors in a safetensors file: trainer checkpoints and optimiser state.
public enum TensorFile {
    public static func save(_ tensors: [String: Tensor], to url: URL) throws {
        try SafeTensors.write(tensors.mapValues(\.hostArray), to: url, metadata: ["format": "pt"], dtype: .F32)
    }
    public static func load(_ url: URL) throws -> [String: Tensor] {
        try SafeTensors.read(url.path).mapValues { try Tensor($0) }
    }
}

extension LlavaModel {
    /// Base weights in hallu's (Hugging Face module) names, without adapters.
    public func weightArrays() -> [String: HostArray] {
        var out: [String: HostArray] = [:]
        for (n, t) in namedParameters() where !n.contains(".lora_A.") && !n.contains(".lora_B.") { out[n] = t.hostArray }
        return out
    }

    /// Base weights with every enabled adapter folded in.
    public func mergedWeightArrays() throws -> [String: HostArray] {
        var arrays = weightArrays()
        for (path, w) in try foldedLoRAWeights() { arrays["\(path).weight"] = w.hostArray }
        return arrays
    }

    /// A separate model with this one's weights and its enabled adapters folded in (no adapters of
    /// its own): a frozen reference policy, or a detector fine-tuned from the policy.
    public func mergedCopy() throws -> LlavaModel {
        let copy = LlavaModel(config, seed: 0)
        try copy.loadWeights(mergedWeightArrays(), file: "model")
        return copy
    }

    /// Copies weights into the model; every parameter must be present with its shape.
    public func loadWeights(_ arrays: [String: HostArray], file: String) throws {
        let params = namedParameters().filter { !$0.0.contains(".lora_") }
        let expected = Dictionary(uniqueKeysWithValues: params.map { ($0.0, $0.1.shape) })
        try checkKeys(expected: expected, found: arrays.mapValues(\.shape), file: file)
        for (n, t) in params { try t.assign(arrays[n]!.values) }
    }

    /// Loads a checkpoint folder (config.json + weights in any supported layout, and the adapter when
    /// `adapter` is given or the folder holds one and `applyAdapter`).
    ///
    /// The weight files are memory-mapped, never read into the heap: float32 tensors are used in
    /// place (the mapping is copy-on-write, so training may update them), and with
    /// `precision: .stored` the linear layers' and the token embedding's bf16/f16 weights stay
    /// 16-bit (inference); every other tensor is converted to float32 once. Weights with NaN or
    /// infinite values are refused unless `nonFinite` says otherwise.
    public static func load(_ dir: URL, adapter: URL? = nil, applyAdapter: Bool = true,
                            precision: WeightPrecision = .float32, nonFinite: NonFiniteWeights = .refuse) throws -> LlavaModel {
        let folder = CheckpointFolder(dir)
        let config = try folder.loadConfig()
        // Headers first: a config that does not fit its weights, or a model larger than this
        // machine, is an error before the model's memory is allocated.
        let weights = try folder.openWeights(checkedAgainst: config)
        try HostMemory.check(bytes: residentBytes(weights, precision: precision),
                             "loading \(folder.configURL.path) (\(config.parameterCount) parameters)")
        weights.prefault()
        try nonFinite.check(weights)
        let model = ParameterInit.$deferred.withValue(true) { LlavaModel(config) }
        try model.useWeights(weights, precision: precision)
        TensorMemory.releaseFreeMemory()
        if let adapter {
            try model.loadAdapter(LoRAAdapter.load(from: adapter), file: adapter.path)
        } else if applyAdapter, let a = try folder.loadAdapter() {
            try model.loadAdapter(a, file: folder.adapterURL.path)
        }
        return model
    }

    /// About the memory the weights take once loaded with `precision` (see `useWeights`): float32
    /// tensors and, with `.stored`, 16-bit matrices are the file's pages; every other tensor is
    /// widened to float32. Counted from the headers, before the model exists: a llava-1.5-7b BF16
    /// checkpoint (7.06B parameters) is 14.1 GB this way, where counting every parameter as float32
    /// gave 28.3 GB and refused it on a 24 GiB machine. (Two-dimensional 16-bit tensors that are not
    /// a linear layer's or the token embedding's, such as CLIP's position embedding, are widened
    /// and counted at 2 bytes: at most a few MB.)
    static func residentBytes(_ weights: MappedWeights, precision: WeightPrecision) -> Int {
        weights.tensors.values.reduce(0) { sum, w in
            let stored = w.entry.end - w.entry.begin, dtype = w.entry.dtype
            let half = dtype == .BF16 || dtype == .F16
            if dtype == .F32 || (half && precision == .stored && w.entry.shape.count == 2) { return sum + stored }
            // Widened to float32. Headers were checked, so the stored bytes are the element count
            // times the element size and this cannot overflow.
            return sum + stored / dtype.byteSize * 4
        }
    }

    /// Puts mapped weights behind every parameter (see `load`). Shapes were checked when the
    /// weights were opened.
    public func useWeights(_ weights: MappedWeights, precision: WeightPrecision) throws {
        var sixteenBit = Set<String>()
        if precision == .stored {
            for (path, m) in namedModules() where m is Linear || (m is Embedding && path.hasSuffix("embed_tokens")) {
                sixteenBit.insert("\(path).weight")
            }
        }
        for (name, t) in namedParameters() where !name.contains(".lora_") {
            guard let w = weights.tensors[name] else { throw HalluError.file(weights.files.first?.path ?? "?", "no tensor \"\(name)\"") }
            guard let raw = w.file.elements(w.entry), t.count > 0 else { continue }
            let address = Int(bitPattern: raw)
            switch w.entry.dtype {
            case .F32 where address % 4 == 0:
                t.rebind(TensorStorage(borrowing: raw.assumingMemoryBound(to: Float.self), count: t.count, owner: w.file))
            case .BF16, .F16:
                let format: StorageFormat = w.entry.dtype == .BF16 ? .bf16 : .f16
                let halves = UnsafePointer(raw.assumingMemoryBound(to: UInt16.self))
                if sixteenBit.contains(name) && address % 2 == 0 {
                    t.rebind(TensorStorage(borrowingHalves: halves, count: t.count, format: format, owner: w.file))
                } else {
                    HalfPrecisionKernels.widen(halves, format: format, count: t.count, into: t.data)
                }
            default:
                try t.assign(w.file.array(w.entry.name).values)
            }
        }
    }

    /// Bytes the parameters hold in memory as they are stored (16-bit weights at 2 bytes).
    public var parameterBytes: Int {
        namedParameters().reduce(0) { $0 + $1.1.count * ($1.1.storage.halfElements != nil ? 2 : 4) }
    }

    /// Attaches and fills LoRA adapters from a PEFT adapter.
    public func loadAdapter(_ adapter: LoRAAdapter, file: String) throws {
        let modules = Dictionary(uniqueKeysWithValues: namedModules().compactMap { p, m in (m as? Linear).map { (p, $0) } })
        var rng = SeededRNG(seed: 0)
        for (path, pair) in adapter.modules.sorted(by: { $0.key < $1.key }) {
            guard let lin = modules[path] else { throw HalluError.file(file, "adapter targets \"\(path)\", which is not a Linear of this model") }
            let lora = LoRA(inFeatures: lin.inFeatures, outFeatures: lin.outFeatures, rank: adapter.config.r,
                            alpha: Float(adapter.config.loraAlpha), dropout: Float(adapter.config.loraDropout),
                            rsLoRA: adapter.config.useRslora, rng: &rng)
            guard pair.a.shape == lora.a.shape, pair.b.shape == lora.b.shape else {
                throw HalluError.file(file, "\(path): adapter shapes \(pair.a.shape)/\(pair.b.shape), expected \(lora.a.shape)/\(lora.b.shape)")
            }
            try lora.a.assign(pair.a.values)
            try lora.b.assign(pair.b.values)
            lin.lora = lora
        }
    }

    /// The attached adapters in PEFT form (nil without adapters).
    public func adapter(targets: [String]) -> LoRAAdapter? {
        var modules: [String: LoRAPair] = [:]
        var r = 0, alpha = 0.0, dropout = 0.0, rs = false
        for (path, m) in namedModules() {
            guard let l = (m as? Linear)?.lora else { continue }
            modules[path] = LoRAPair(a: l.a.hostArray, b: l.b.hostArray)
            r = l.rank; alpha = Double(l.alpha); dropout = Double(l.dropout); rs = l.rsLoRA
        }
        if modules.isEmpty { return nil }
        let cfg = LoRAAdapterConfig(r: r, loraAlpha: alpha, loraDropout: dropout, targetModules: .names(targets), useRslora: rs)
        return LoRAAdapter(config: cfg, modules: modules)
    }

    /// Saves a complete checkpoint folder. With `merge`, adapters are folded into the base weights;
    /// otherwise they are written next to them in PEFT's format.
    public func save(to dir: URL, tokenizerJSON: Data?, preprocessor: ImageProcessorConfig?, loraTargets: [String] = [], merge: Bool = false) throws {
        let arrays = merge ? try mergedWeightArrays() : weightArrays()
        let adapter = merge ? nil : self.adapter(targets: loraTargets)
        try CheckpointFolder.save(arrays: arrays, config: config, to: dir, tokenizerJSON: tokenizerJSON,
                                  preprocessor: preprocessor, adapter: adapter)
    }
}
