import CoreRuntime
import Foundation

/// `hallu run`: train a method (or a composition) from the base model and compare it with the baseline.
struct RunCommand: Command {
    let name = "run"
    let summary = "train a method and evaluate it against the baseline"
    let usage = "hallu run --method M[+M2...] [--base DIR] [--data DIR] [--preset tiny|small] [--steps N | --epochs E] [--seed S] [--set KEY=VALUE ...]"
    var flags: [Flag] {
        let d = RunConfig()
        return [
            Flag(name: "method", value: "M", help: "method id, or ids joined by + to compose", defaultText: d.method),
            Flag(name: "base", value: "DIR", help: "base checkpoint folder", defaultText: "the cached default baseline"),
            Flag(name: "data", value: "DIR", help: "data folder", defaultText: "the cached default scene world"),
            Flag(name: "preset", value: "tiny|small", help: "model size of the default baseline", defaultText: d.preset),
            Flag(name: "steps", value: "N", help: "optimiser steps", defaultText: "1 epoch"),
            Flag(name: "epochs", value: "E", help: "epochs over the largest data kind (when --steps is absent)"),
            Flag(name: "seed", value: "S", help: "seed of data order, adapters and sampling", defaultText: "\(d.seed)"),
            Flag(name: "runs-dir", value: "DIR", help: "where run folders go", defaultText: d.runsDir),
            Flag(name: "name", value: "NAME", help: "run folder name", defaultText: "<method>-seed<S>-<time>"),
            Flag(name: "config", value: "FILE", help: "a run config JSON (flags override it)"),
            Flag(name: "resume", value: nil, help: "continue the named run from its last checkpoint"),
            Flag(name: "plugin", value: "PATH", help: "load a plugin library (repeatable)", repeats: true),
            Flag(name: "decode", value: "NAME", help: "evaluate with a decoding method (vcd, m3id, dola, opera); options via --set NAME.KEY=VALUE",
                 defaultText: "plain greedy"),
            Flag(name: "set", value: "KEY=VALUE", help: "trainer or method option, e.g. lr=1e-4, hsadpo.beta=0.2, weight.hacl=0.5", repeats: true),
            Flag(name: "lora", value: nil, help: "train LoRA adapters instead of full weights"),
            Flag(name: "threads", value: "N", help: "compute threads", defaultText: "HALLU_THREADS or all cores"),
            Flag(name: "eval-images", value: "N", help: "evaluate on the first N eval images", defaultText: "all"),
            Flag(name: "skip-eval", value: nil, help: "train only"),
            Flag(name: "allow-outside", value: nil, help: "let --name and the data's image paths point outside --runs-dir and --data"),
            Flag(name: "allow-nonfinite-weights", value: nil, help: "load a base checkpoint holding NaN or infinite weights (with a warning)"),
        ]
    }

    /// Help that also lists the options of the chosen method(s).
    func help(for argv: [String]) -> String {
        var text = help
        guard let i = argv.firstIndex(of: "--method"), i + 1 < argv.count else { return text }
        let registry = PluginRegistry()
        do { try registry.discover() } catch { text += "\nerror: \(error)\n" }
        for p in zip(argv, argv.dropFirst()).filter({ $0.0 == "--plugin" }).map(\.1) { _ = try? registry.load(p) }
        for id in argv[i + 1].split(separator: "+").map(String.init) {
            guard let m = try? registry.make(id) else { text += "\nunknown method \(id)\n"; continue }
            text += "\nOptions of \(id) (--set \(id).NAME=VALUE): \(m.summary)\n"
            for o in m.options { text += "  \(o.name.padding(toLength: 24, withPad: " ", startingAt: 0))\(o.help) (default: \(o.defaultValue))\n" }
            text += "  data: \(m.dataKinds.map(\.rawValue).joined(separator: ", "))\n"
            if !m.runDefaults.isEmpty {
                text += "  run defaults (flags and --set override them): \(m.runDefaults.summary)\n"
                if !m.runDefaults.source.isEmpty { text += "    \(m.runDefaults.source)\n" }
            }
        }
        return text
    }

    func run(_ args: Arguments) throws -> Int32 {
        let file = args.string("config")
        if let file { try requireFile(file, "--config") }
        let fileConfig = try file.map { try RunConfig.load($0) }
        let methodSpec = args.string("method") ?? fileConfig?.method ?? RunConfig().method
        let registry = PluginRegistry()
        try registry.discover()
        for p in (fileConfig?.plugins ?? []) + args.all("plugin") { try registry.load(p) }
        let ids = methodSpec.split(separator: "+").map { String($0).trimmingCharacters(in: .whitespaces) }
        let methods = try ids.map { try registry.make($0) }

        // Flags that are run config keys go in as assignments, before --set (which wins).
        var assignments: [String] = []
        if let s = try args.int("steps", atLeast: 1) { assignments.append("steps=\(s)") }
        if let e = try args.double("epochs") {
            guard e.isFinite, e > 0 else { throw HalluError("--epochs: must be a number above 0, got \(e)") }
            assignments.append("epochs=\(e)")
        }
        if let s = try args.seed("seed") { assignments.append("seed=\(s)") }
        if let t = try args.int("threads", in: 1...256) { assignments.append("threads=\(t)") }
        if let n = try args.int("eval-images", atLeast: 1) { assignments.append("eval_images=\(n)") }
        if args.flag("lora") { assignments.append("lora=true") }
        if args.flag("skip-eval") { assignments.append("skip_eval=true") }
        let sets = args.all("set")
        var config = try RunConfig.resolve(methods: methods, file: file, assignments: assignments + sets)
        config.method = methodSpec
        let setKeys = Set(sets.compactMap { $0.split(separator: "=").first.map(String.init) })
        func flag(_ name: String, _ key: String, _ apply: (String) -> Void) {
            if let v = args.string(name), !setKeys.contains(key) { apply(v) }
        }
        flag("decode", "decode") { config.decode = $0 }
        flag("base", "base") { config.base = $0 }
        flag("data", "data") { config.data = $0 }
        flag("runs-dir", "runs_dir") { config.runsDir = $0 }
        flag("name", "name") { config.name = $0 }
        if let p = args.string("preset") {
            guard ["tiny", "small"].contains(p) else { throw HalluError("--preset: expected tiny or small, got \"\(p)\"") }
            config.preset = p
        }
        config.plugins += args.all("plugin")
        if args.flag("resume") && config.name == nil { throw HalluError("--resume needs --name (the run folder to continue)") }
        try config.validate()
        if let t = config.threads { Parallel.threads = t }
        let pipeline = RunPipeline(config: config, registry: registry, resume: args.flag("resume"))
        pipeline.allowOutside = args.flag("allow-outside")
        pipeline.allowNonFiniteWeights = args.flag("allow-nonfinite-weights")
        try pipeline.run()
        return 0
    }
}
