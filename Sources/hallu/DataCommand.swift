import CoreRuntime
import Foundation

/// `hallu data`: generate a scene world, summarise one, or draw a contact sheet of its images.
struct DataCommand: Command {
    let name = "data"
    let summary = "synthesise and inspect datasets"
    var usage: String {
        "hallu data <synth|stats|show> ...\n" + subcommands.map { "  " + $0.usage }.joined(separator: "\n")
    }
    let flags = [
        Flag(name: "out", value: "DIR|FILE", help: "synth: folder to write; show: PNG file to write"),
        Flag(name: "seed", value: "S", help: "synth: world seed", defaultText: "0, or the config's"),
        Flag(name: "config", value: "FILE", help: "synth: world config JSON (keys as in world.json)"),
        Flag(name: "set", value: "KEY=VALUE", help: "synth: override one world config key (repeat), e.g. train_images=200", repeats: true),
        Flag(name: "scale", value: "N", help: "show: pixel scale of each image", defaultText: "6"),
        Flag(name: "columns", value: "N", help: "show: images per row", defaultText: "4"),
        Flag(name: "json", value: nil, help: "synth, stats: print JSON"),
    ]

    var subcommands: [Subcommand] {
        [Subcommand(name: "synth", usage: "hallu data synth --out DIR [--seed S] [--config world.json] [--set key=value ...] [--json]",
                    flags: ["out", "seed", "config", "set", "json"], run: { a, _ in try synth(a) }),
         Subcommand(name: "stats", usage: "hallu data stats DIR [--json]", flags: ["json"], positionals: ["DIR"],
                    run: { a, p in try stats(a, folder: p[0]) }),
         Subcommand(name: "show", usage: "hallu data show DIR N --out FILE.png [--scale N] [--columns N]",
                    flags: ["out", "scale", "columns"], positionals: ["DIR", "N"], run: { a, p in try show(a, folder: p[0], count: p[1]) })]
    }

    func run(_ args: Arguments) throws -> Int32 {
        try SubcommandDispatch.run(name, subcommands, args)
    }

    /// The world config from `--config`, then `--seed`, then each `--set` in order.
    static func worldConfig(_ args: Arguments) throws -> WorldConfig {
        var config = WorldConfig()
        if let path = args.string("config") {
            try requireFile(path, "--config")
            config = try WorldConfig.load(path)
        }
        if let s = args.string("seed") {
            guard let seed = UInt64(s) else { throw HalluError("--seed: expected a non-negative integer, got \"\(s)\"") }
            config.seed = seed
        }
        for item in args.all("set") {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                throw HalluError("--set \(item): expected KEY=VALUE, e.g. --set train_images=200")
            }
            let key = String(item[..<eq]), value = String(item[item.index(after: eq)...])
            let known = try worldConfigKeys()
            if !known.contains(key), let near = Suggest.nearest(key, in: known) {
                throw HalluError("--set \(item): unknown world config key \"\(key)\" (did you mean \(near)?)")
            }
            do { try config.set(key, value) } catch let e as HalluError where !e.message.hasPrefix("--set") {
                throw HalluError("--set \(item): \(e.message)")
            }
        }
        try config.validate(path: args.string("config") ?? "world config")
        return config
    }

    /// The keys a world config accepts, as world.json spells them.
    static func worldConfigKeys() throws -> [String] {
        let data = try JSONEncoder().encode(WorldConfig())
        let encoded = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?.keys.map { $0 } ?? []
        // Optional keys are left out of the encoding when unset.
        return Array(Set(encoded + ["categories", "scene_types"])).sorted()
    }

    func synth(_ args: Arguments) throws -> Int32 {
        let out = URL(fileURLWithPath: try args.required("out", "hallu data synth"))
        let config = try Self.worldConfig(args)
        // The plugins' training files come with the world (their world exports).
        let registry = PluginRegistry()
        try registry.discover()
        let summary = try SceneWorld.synth(config: config, outDir: out, exports: registry.worldExports)
        if args.flag("json") { try printJSON(encodable: summary); return 0 }
        print("wrote \(summary.trainImages) train and \(summary.evalImages) eval images to \(summary.outDir)"
            + String(format: " (%.1fs)", summary.seconds))
        for f in summary.files { print("  \(f)") }
        return 0
    }

    /// A scene world folder: it must exist and hold world.json.
    static func worldFolder(_ path: String) throws -> String {
        try requireFolder(path, "DIR")
        guard FileManager.default.fileExists(atPath: URL(fileURLWithPath: path).appendingPathComponent(SceneWorld.Files.world).path) else {
            throw HalluError.file(path, "not a scene world (no \(SceneWorld.Files.world)); make one with `hallu data synth --out \(path)`")
        }
        return path
    }

    func stats(_ args: Arguments, folder: String) throws -> Int32 {
        let registry = PluginRegistry()
        try registry.discover()
        let stats = try WorldStats.compute(folder: try Self.worldFolder(folder), catalog: registry.data)
        if args.flag("json") { try printJSON(encodable: stats) } else { print(stats.text(), terminator: "") }
        return 0
    }

    func show(_ args: Arguments, folder: String, count: String) throws -> Int32 {
        guard let n = Int(count), n >= 1 else { throw HalluError("hallu data show: N must be a positive integer, got \"\(count)\"") }
        let out = try args.required("out", "hallu data show")
        guard out.lowercased().hasSuffix(".png") else { throw HalluError("--out \(out): the sheet is written as PNG; give a .png file name") }
        let scale = try args.int("scale", atLeast: 1) ?? 6, columns = try args.int("columns", atLeast: 1) ?? 4
        try SampleSheet.save(folder: try Self.worldFolder(folder), count: n, to: URL(fileURLWithPath: out), scale: scale, columns: columns)
        print("wrote \(out)")
        return 0
    }
}
