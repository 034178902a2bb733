import Foundation

/// A method's own run settings, from its paper's recipe scaled to the run's model and data: applied
/// over hallu's defaults (`RunConfig()`), under a config file, flags and `--set`, which still win.
/// `hallu run --method M --help` shows them with `source`.
public struct RunDefaults: Equatable {
    /// Run config keys (as `--set` and config files spell them) and values.
    public var settings: [(key: String, value: String)]
    /// Where the numbers come from: the paper's recipe and how it was scaled.
    public var source: String

    public init(_ settings: [(key: String, value: String)] = [], source: String = "") {
        self.settings = settings
        self.source = source
    }

    /// The common keys by name; nil leaves hallu's default.
    public init(lr: Double? = nil, steps: Int? = nil, epochs: Double? = nil, batchSize: Int? = nil, lora: Bool? = nil,
                loraR: Int? = nil, loraAlpha: Double? = nil, warmupRatio: Double? = nil, source: String = "") {
        var s: [(String, String)] = []
        if let lr { s.append(("lr", "\(lr)")) }
        if let steps { s.append(("steps", "\(steps)")) }
        if let epochs { s.append(("epochs", "\(epochs)")) }
        if let batchSize { s.append(("batch_size", "\(batchSize)")) }
        if let lora { s.append(("lora", "\(lora)")) }
        if let loraR { s.append(("lora_r", "\(loraR)")) }
        if let loraAlpha { s.append(("lora_alpha", "\(loraAlpha)")) }
        if let warmupRatio { s.append(("warmup_ratio", "\(warmupRatio)")) }
        self.init(s.map { (key: $0.0, value: $0.1) }, source: source)
    }

    public var isEmpty: Bool { settings.isEmpty }

    /// "lr=0.0001, steps=100, batch_size=8".
    public var summary: String { settings.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") }

    public static func == (a: RunDefaults, b: RunDefaults) -> Bool {
        a.source == b.source && a.settings.map(\.key) == b.settings.map(\.key) && a.settings.map(\.value) == b.settings.map(\.value)
    }

    /// Sets the values on a config; `method` names the method in errors.
    public func apply(to config: inout RunConfig, method: String) throws {
        for (k, v) in settings {
            do { try config.set("\(k)=\(v)") } catch let e as HalluError {
                throw HalluError("\(method) run defaults: \(e.message)")
            }
        }
    }
}

extension RunConfig {
    /// The config of a run of `methods`: hallu's defaults, then each method's run defaults in order
    /// (a later method's value wins), then `file`'s keys, then `assignments` (`KEY=VALUE`, as
    /// `--set` gives them). An epoch count given by the file or the assignments, without a step
    /// count beside it, replaces a step count that came from run defaults.
    public static func resolve(methods: [Method], file: String? = nil, assignments: [String] = []) throws -> RunConfig {
        var base = RunConfig()
        base.method = methods.map(\.id).joined(separator: "+")
        for m in methods { try m.runDefaults.apply(to: &base, method: m.id) }
        var config = base
        var given = Set<String>()
        if let file {
            config = try RunConfig.load(file, over: base)
            given.formUnion((try JSONFiles.readJSON(file) as? [String: Any])?.keys.map { $0 } ?? [])
        }
        for a in assignments {
            try config.set(a)
            let key = a.split(separator: "=", maxSplits: 1).first.map(String.init) ?? a
            given.insert(key.hasPrefix("trainer.") ? String(key.dropFirst("trainer.".count)) : key)
        }
        if given.contains("epochs") && !given.contains("steps") { config.steps = nil }
        return config
    }
}
