import Foundation

/// One run of a sweep: a resolved run config, its seed, and the configuration it belongs to.
public struct SweepCell: Equatable {
    /// Position in the plan (`--cell K`, Slurm's array index).
    public var index: Int
    /// Folder name under `cells/`; readable, derived from the assignments and the seed.
    public var id: String
    public var seed: UInt64
    /// What this cell sets on top of the sweep's base, in order, seed excluded.
    public var assignments: [SweepSpec.Assignment]
    /// The complete run config (seed included; name, runs_dir and threads are set when spawning).
    public var config: RunConfig
    /// Identifies the configuration: a hash of the config with the seed (and the run's name,
    /// folder and thread count) left out. Cells with the same key are seeds of one configuration.
    public var key: String
    /// Human-readable name of the configuration, e.g. `mymethod, lr=0.0001, mymethod.beta=0.2`.
    public var label: String
}

/// One configuration of a sweep: the cells that differ only by seed.
public struct SweepConfiguration: Equatable {
    public var key: String
    public var label: String
    public var assignments: [SweepSpec.Assignment]
    public var method: String
    /// Indices into `SweepPlan.cells`, in plan order.
    public var cells: [Int]
}

/// The expanded sweep: every cell with its config, in a fixed order (grid axes in file order, the
/// first varying slowest, then the explicit list; seeds innermost).
public struct SweepPlan: Equatable {
    public var name: String
    public var cells: [SweepCell]

    public init(name: String, cells: [SweepCell]) { self.name = name; self.cells = cells }

    /// Keys any cell assigns (seed excluded), in order of first appearance.
    public var axes: [String] {
        var seen: [String] = []
        for c in cells { for a in c.assignments where !seen.contains(a.key) { seen.append(a.key) } }
        return seen
    }

    /// Configurations in order of first appearance.
    public var configurations: [SweepConfiguration] {
        var order: [String] = []
        var byKey: [String: SweepConfiguration] = [:]
        for c in cells {
            if byKey[c.key] == nil {
                order.append(c.key)
                byKey[c.key] = SweepConfiguration(key: c.key, label: c.label, assignments: c.assignments, method: c.config.method, cells: [])
            }
            byKey[c.key]!.cells.append(c.index)
        }
        return order.map { byKey[$0]! }
    }

    // MARK: expansion

    /// Expands a sweep file into cells. Relative `base`, `data` and plugin paths are made absolute
    /// against `workingDirectory`, so that cells run the same from any folder (e.g. a Slurm job).
    /// `methods` makes the methods a cell's config names (through a registry): their run defaults
    /// apply under the sweep's own settings, as in `hallu run`.
    public static func expand(_ spec: SweepSpec, path: String = "sweep", workingDirectory: URL? = nil,
                              methods: (RunConfig) throws -> [Method] = { _ in [] }) throws -> SweepPlan {
        let cwd = workingDirectory ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        var base = RunConfig()
        for a in spec.base {
            do { try base.set("\(a.key)=\(a.value)") } catch let e as HalluError { throw HalluError.file(path, "base: \(e.message)") }
        }

        // Each entry: assignments (seed excluded) and the seeds to run them with.
        var combos: [(assignments: [SweepSpec.Assignment], seeds: [UInt64], origin: String)] = []
        let seedAxis = spec.grid.first { $0.key == "seed" }
        let axes = spec.grid.filter { $0.key != "seed" }
        // A "seed" grid axis means the same as "seeds": every cell runs with each of them.
        let seeds = try seedAxis.map { axis in
            try axis.values.map { v -> UInt64 in
                guard let s = UInt64(v) else { throw HalluError.file(path, "grid \"seed\": expected non-negative integers, got \(v)") }
                return s
            }
        } ?? spec.seeds ?? [base.seed]
        if !spec.grid.isEmpty {
            var product: [[SweepSpec.Assignment]] = [[]]
            for axis in axes {
                product = product.flatMap { prefix in axis.values.map { prefix + [SweepSpec.Assignment(axis.key, $0)] } }
            }
            for p in product { combos.append((p, seeds, "grid")) }
        }
        for (i, item) in spec.list.enumerated() {
            if let s = item.first(where: { $0.key == "seed" }) {
                guard let seed = UInt64(s.value) else { throw HalluError.file(path, "list item \(i): \"seed\": expected a non-negative integer") }
                combos.append((item.filter { $0.key != "seed" }, [seed], "list item \(i)"))
            } else {
                combos.append((item, seeds, "list item \(i)"))
            }
        }
        if combos.isEmpty { combos.append(([], seeds, "base")) }

        var cells: [SweepCell] = []
        var seenRuns: [String: String] = [:]
        var usedIds = Set<String>()
        for combo in combos {
            var probe = base
            for a in combo.assignments {
                do { try probe.set("\(a.key)=\(a.value)") } catch let e as HalluError { throw HalluError.file(path, "\(combo.origin): \(e.message)") }
            }
            // The cell's methods' run defaults first, then the sweep's base and the cell's own values.
            var config = RunConfig()
            config.method = probe.method
            for m in try methods(probe) {
                do { try m.runDefaults.apply(to: &config, method: m.id) } catch let e as HalluError { throw HalluError.file(path, "\(combo.origin): \(e.message)") }
            }
            for a in spec.base + combo.assignments {
                do { try config.set("\(a.key)=\(a.value)") } catch let e as HalluError { throw HalluError.file(path, "\(combo.origin): \(e.message)") }
            }
            let keys = Set((spec.base + combo.assignments).map(\.key))
            if keys.contains("epochs") && !keys.contains("steps") { config.steps = nil }
            absolutize(&config, cwd: cwd)
            // Options of methods this cell does not run change nothing: drop them, so that e.g.
            // `sft` crossed with `mymethod.beta: [0.1, 0.5]` is one configuration, run once.
            let ids = Set(config.methodIds + (config.decodeId.map { [$0] } ?? []))
            config.methodOptions = config.methodOptions.filter { ids.contains($0.key) }
            config.weights = config.weights.filter { ids.contains($0.key) }
            let assignments = combo.assignments.filter { appliesTo($0.key, methods: ids) }
            let key = configurationKey(config)
            let label = labelFor(method: config.method, assignments)
            for seed in combo.seeds {
                var c = config
                c.seed = seed
                let runKey = "\(key)/\(seed)"
                if let other = seenRuns[runKey] {
                    if combo.origin == "grid" { continue }
                    throw HalluError.file(path, "\(combo.origin) repeats the run \"\(other)\" (same configuration and seed)")
                }
                var id = cellId(label: label, method: config.method, assignments: assignments, seed: seed)
                if usedIds.contains(id) { id += "_" + String(runKey.hashValueStable, radix: 16).prefix(8) }
                usedIds.insert(id)
                seenRuns[runKey] = id
                cells.append(SweepCell(index: cells.count, id: id, seed: seed, assignments: assignments,
                                       config: c, key: key, label: label))
            }
        }
        return SweepPlan(name: spec.name, cells: cells)
    }

    /// Whether an assignment matters to a run of `methods`: method options (`mymethod.beta`) and
    /// weights (`weight.mymethod`) only when that method runs; everything else always.
    static func appliesTo(_ key: String, methods: Set<String>) -> Bool {
        guard let dot = key.firstIndex(of: ".") else { return true }
        let head = String(key[..<dot]), rest = String(key[key.index(after: dot)...])
        if head == "trainer" { return true }
        if head == "weight" { return methods.contains(rest) }
        return methods.contains(head)
    }

    static func absolutize(_ c: inout RunConfig, cwd: URL) {
        func abs(_ p: String) -> String { p.hasPrefix("/") ? p : cwd.appendingPathComponent(p).standardizedFileURL.path }
        c.base = c.base.map(abs)
        c.data = c.data.map(abs)
        c.plugins = c.plugins.map(abs)
    }

    /// The configuration key: a stable hash of everything in the config but the seed and the
    /// fields the sweep sets per process.
    public static func configurationKey(_ config: RunConfig) -> String {
        var c = config
        c.seed = 0
        c.name = nil
        c.runsDir = RunConfig().runsDir
        c.threads = nil
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let text = (try? enc.encode(c)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let h = text.hashValueStable
        return String(repeating: "0", count: 16 - String(h, radix: 16).count) + String(h, radix: 16)
    }

    static func labelFor(method: String, _ assignments: [SweepSpec.Assignment]) -> String {
        ([method] + assignments.filter { $0.key != "method" }.map { "\($0.key)=\($0.value)" }).joined(separator: ", ")
    }

    static func cellId(label: String, method: String, assignments: [SweepSpec.Assignment], seed: UInt64) -> String {
        let parts = [method] + assignments.filter { $0.key != "method" }.map { "\($0.key)=\($0.value)" } + ["s\(seed)"]
        var id = String(parts.joined(separator: "_").map { c -> Character in
            c.isASCII && (c.isLetter || c.isNumber || "._-+=".contains(c)) ? c : "-"
        })
        if id.hasPrefix(".") { id = "-" + id.dropFirst() }
        if id.count > 80 {
            id = String(id.prefix(80)) + "_" + String(String(id.hashValueStable, radix: 16).prefix(8))
        }
        return id
    }
}

extension SweepPlan {
    /// Checks, before anything runs, that every cell's methods exist, their options are known and
    /// they compose, so that a typo fails in a second rather than in every cell of a long sweep.
    public func validate(registry: PluginRegistry, path: String) throws {
        var loaded = Set<String>()
        var checked = Set<String>()
        for c in cells {
            for p in c.config.plugins where loaded.insert(p).inserted {
                do { _ = try registry.load(p) } catch let e as HalluError { throw HalluError.file(path, "cell \(c.id): \(e.message)") }
            }
            guard checked.insert(c.key).inserted else { continue }
            do {
                try c.config.validate()
                let methods = try c.config.methodIds.map { try registry.make($0) }
                for m in methods {
                    try m.configure(OptionValues.resolve(m.options, overrides: c.config.methodOptions[m.id] ?? [:], method: m.id))
                }
                _ = try Composition.validate(methods)
                if let d = c.config.decodeId { _ = try registry.makeDecoder(d, options: c.config.methodOptions[d] ?? [:]) }
            } catch let e as HalluError {
                throw HalluError.file(path, "cell \(c.id): \(e.message)")
            }
        }
    }
}
